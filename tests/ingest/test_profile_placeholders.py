"""The redacted customer profile speaks the conversation's placeholders (`<EMAIL_1>`)."""

from __future__ import annotations

import json

from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.ingest.redact import BatchProcessor
from tests.ingest.helpers import transcript

PROFILE = {
    "name": {"first_name": "Yusuf", "last_name": "Rossi"},
    "email": "yusuf.rossi@example.com",
    "address": {"address1": "445 Maple Drive", "city": "Philadelphia", "state": "PA"},
    "zip": "19122",
    "tier": "gold",
}


def _redacted(pii: dict, text: str, profile: dict, metadata: dict | None = None) -> dict:
    """The row BatchProcessor makes of a validated one (profile and metadata as JSON text)."""
    config = IngestConfig(inputs=[{"path": "x.jsonl"}], output_dir="unused", pii=pii)
    row = transcript("c1", "u1", text)
    row["context"]["customer_profile"] = json.dumps(profile)
    row["metadata"] = json.dumps(row["metadata"] if metadata is None else metadata)
    ((out, _, _, _),) = BatchProcessor(config)([row])
    return out


def _process(pii: dict, text: str, profile: dict) -> tuple[dict, list[str]]:
    out = _redacted(pii, text, profile)
    return json.loads(out["context"]["customer_profile"]), [m["content"] for m in out["messages"]]


def test_profile_uses_the_conversation_numbering():
    text = "I wrote from yr@web.de before; my name is Yusuf Rossi, email yusuf.rossi@example.com."
    profile, texts = _process({"entities": ["EMAIL"], "person_names": False}, text, PROFILE)
    assert texts[0] == "I wrote from <EMAIL_1> before; my name is <PERSON_1>, email <EMAIL_2>."
    assert profile == {
        "name": {"first_name": "<PERSON_1>", "last_name": "<PERSON_1>"},
        "email": "<EMAIL_2>",  # the conversation's second email, not a new one
        "address": {"address1": "<ADDRESS_1>", "city": "<ADDRESS_2>", "state": "<ADDRESS_3>"},
        "zip": "<ZIP_CODE_1>",
        "tier": "gold",
    }


def test_values_the_conversation_never_mentions_are_numbered_too():
    """A full name not in the conversation is still one person; a short value (the state) is
    numbered in the profile but never searched for in the texts ("PA" would erase words)."""
    profile, texts = _process(
        {"entities": [], "person_names": False}, "Where is my PArcel? PA", PROFILE
    )
    assert texts[0] == "Where is my PArcel? PA"
    assert profile["name"] == {"first_name": "<PERSON_1>", "last_name": "<PERSON_1>"}
    assert (profile["email"], profile["zip"]) == ("<EMAIL_1>", "<ZIP_CODE_1>")


def test_profile_is_masked_with_numbers_when_redaction_is_off():
    profile, texts = _process({"enabled": False}, "I am Yusuf Rossi.", PROFILE)
    assert texts[0] == "I am Yusuf Rossi."  # redaction off: texts untouched
    assert profile["name"]["first_name"] == "<PERSON_1>" and profile["email"] == "<EMAIL_1>"


def test_free_text_in_the_profile_and_metadata_is_redacted_in_the_conversation_numbering():
    """A profile's `notes` and a logged agent note are more text of the conversation."""
    profile = {"tier": "gold", "notes": ["prefers c.d@web.de"]}
    metadata = {"intent": "return", "agent_note": "Customer wrote from a.b@web.de", "turns": 3}
    out = _redacted(
        {"entities": ["EMAIL"], "person_names": False}, "I am a.b@web.de", profile, metadata
    )
    assert out["messages"][0]["content"] == "I am <EMAIL_1>"
    assert json.loads(out["context"]["customer_profile"]) == {
        "tier": "gold",
        "notes": ["prefers <EMAIL_2>"],
    }
    assert json.loads(out["metadata"]) == {
        "intent": "return",
        "agent_note": "Customer wrote from <EMAIL_1>",
        "turns": 3,
    }

"""Field texts for the UI: escaped on push, exactly restored on pull (server-free)."""

from __future__ import annotations

import json

import pytest

from supportloop.feedback.argilla import display
from supportloop.feedback.argilla.pull import response_row
from supportloop.feedback.argilla.push import build_record_payloads, judged_turns
from supportloop.feedback.argilla.settings import INTERNAL_METADATA
from supportloop.models.sampling import Candidate
from tests.argilla.helpers import make_conversation

TRICKY = [
    "My name is <PERSON_1>, zip code <ZIP_CODE_1>. My email is <EMAIL_1>.",
    "AT&T charged <CREDIT_CARD_1> twice; 3 < 5 > 2",
    "already escaped? &lt;EMAIL_1&gt; &amp;lt; &amp &copy; <b>bold</b>",
    "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_escape_is_exactly_undone(text):
    shown = display.escape(text)
    assert "<" not in shown and ">" not in shown
    assert display.unescape(shown) == text


def test_pull_gives_back_what_was_pushed():
    conv = make_conversation(0)
    conv["messages"][0]["content"] = TRICKY[0]
    texts = [TRICKY[1], "Hi <PERSON_1>, I sent it to <EMAIL_1>.", TRICKY[2]]
    cands = [Candidate(f"c{i}", t, "generated") for i, t in enumerate(texts)]
    turns = list(judged_turns([conv], "last"))
    (payload,), _ = build_record_payloads(turns, [cands], slots=3)
    shown = payload["fields"]["conversation"]
    assert [m["role"] for m in shown] == ["user"]  # the system message stays out of the UI
    assert shown[0]["content"] == display.escape(TRICKY[0])
    record = {"external_id": payload["id"], **payload}
    record["metadata"] = {INTERNAL_METADATA: payload["metadata"][INTERNAL_METADATA]}
    response = {
        "status": "submitted",
        "updated_at": "2026-11-01T10:00:00",
        # typed as shown, and pasted from the UI's copy button (the stored, escaped text)
        "values": {"correction": {"value": "Sent to <EMAIL_1> &lt;PERSON_1&gt;"}},
    }
    row = response_row(record, response, "annotator-1", 3)
    assert row["prompt"] == turns[0].prompt  # the system message comes back from metadata
    assert row["prompt"][-1] == {"role": "user", "content": TRICKY[0]}
    assert [c["text"] for c in row["candidates"]] == texts
    assert row["correction"] == "Sent to <EMAIL_1> <PERSON_1>"


def test_policy_shows_each_passage_start_under_its_title_and_collapses_the_rest():
    words = " ".join(f"w{i:02d}" for i in range(1, 21))  # 20 words of 3 letters
    docs = [
        {"doc_id": "policy-1", "title": "Returns & <exchanges>", "text": "- 30 days\n- **label**"},
        {"doc_id": "policy-2", "title": "Refunds", "text": words},
    ]
    shown = display.policy_markdown(docs, shown_chars=23)
    assert shown == (
        "**Returns &amp; &lt;exchanges&gt;** (policy-1)\n\n- 30 days\n- **label**\n\n"
        "**Refunds** (policy-2)\n\nw01 w02 w03 w04 w05 w06 …\n\n"
        "<details>\n<summary>Rest of this passage (14 words)</summary>\n\n"
        f"{words[24:]}\n\n</details>"
    )
    assert display.plain_text(shown).split()[-14:] == words.split()[6:]


def test_profile_reads_as_lines():
    profile = {
        "email": "<EMAIL_1>",
        "name": {"first_name": "<PERSON_1>", "last_name": "<PERSON_1>"},
        "orders": ["#W1", "#W2"],
        "payment_methods": [{"id": "paypal"}, {"id": "gift_card", "balance": 40}],
    }
    assert display.profile_text(json.dumps(profile)).splitlines() == [
        "email: &lt;EMAIL_1&gt;",
        "name:",
        "  first_name: &lt;PERSON_1&gt;",
        "  last_name: &lt;PERSON_1&gt;",
        "orders: #W1, #W2",
        "payment_methods:",
        "  - id: paypal",
        "  - id: gift_card",
        "    balance: 40",
    ]
    assert display.profile_text("{}") == display.profile_text(None) == ""
    assert display.profile_text("not json <x>") == "not json &lt;x&gt;"


@pytest.mark.parametrize(
    "text",
    ["[docs](https://example.com) ![pixel](https://example.com/p.png)", r"a \[b\] c\\", ""],
)
def test_policy_markdown_shows_links_and_images_as_text_and_reads_back_exactly(text):
    """Logged policy text is rendered with markdown on: a link or image in it must stay the
    characters it is (no hidden target, no tracking pixel), and rules reading it get it back."""
    shown = display.markdown_escape(text)
    assert "](" not in shown.replace("\\](", "")  # every bracket is escaped
    assert display.plain_text(shown) == text

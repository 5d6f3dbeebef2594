"""The logged-transcript contract: what one conversation must look like after ingest.

Validation is explicit and cheap (it runs on every logged conversation): each check returns a
reason a person can act on, which goes into the quarantine file next to the raw row.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from datasets import Features, Value

ROLES = frozenset({"user", "assistant", "system", "tool"})
THUMBS = frozenset({"up", "down"})

MESSAGE = {"role": Value("string"), "content": Value("string"), "created_at": Value("string")}
DOC = {"doc_id": Value("string"), "title": Value("string"), "text": Value("string")}
CONVERSATION_FEATURES = Features(
    {
        "conversation_id": Value("string"),
        "customer_id": Value("string"),
        "started_at": Value("string"),
        "channel": Value("string"),
        "locale": Value("string"),
        "model_version": Value("string"),
        "topic": Value("string"),
        "messages": [MESSAGE],
        "context": {"retrieved_docs": [DOC], "customer_profile": Value("string")},
        "signals": {
            "thumbs": [{"turn_index": Value("int32"), "value": Value("string")}],
            "csat": Value("int32"),
            "escalated": Value("bool"),
            "resolved": Value("bool"),
        },
        "metadata": Value("string"),
        "repeat_contact": Value("bool"),
        "repeat_of": Value("string"),
    }
)
"""Arrow schema of the conversations dataset (see ../shared/DESIGN.md, data contracts)."""


class InvalidTranscript(ValueError):
    """A row that breaks the contract; its message is the quarantine reason."""


_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,23}")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ][\d:.]{1,15})?(?:Z|[+-]\d{2}:?\d{2})?")


def shown(value: Any) -> str:
    """A refused value as a reason may show it: a bare word (`'yesterday'`, `'customer'`), a
    date or a small number as is, anything else by type and length only. Reasons are tallied
    into summary.json and printed, and a misplaced field can hold a card number or an email."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float) and abs(value) < 1000:
        return repr(value)
    if isinstance(value, str) and (_WORD.fullmatch(value) or _DATE.fullmatch(value)):
        return repr(value)
    kind = type(value).__name__
    size = f" of {len(value)} characters" if isinstance(value, str) else ""
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}{size}"


def parse_timestamp(value: Any, field: str) -> str | None:
    """ISO-8601 (or epoch seconds) -> ISO-8601 in UTC; None stays None."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(float(value), tz=UTC)
        elif isinstance(value, datetime):
            moment = value
        else:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)  # OverflowError: 0001-01-01T00:00+01:00 is year 0 in UTC
    except (TypeError, ValueError, OverflowError, OSError):
        raise InvalidTranscript(f"{field}: not a timestamp: {shown(value)}") from None
    return moment.isoformat(timespec="seconds")


def _optional_str(row: dict[str, Any], field: str) -> str | None:
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise InvalidTranscript(f"{field}: expected a string, got {type(value).__name__}")


def _required_str(row: dict[str, Any], field: str) -> str:
    value = _optional_str(row, field)
    if value is None or not value.strip():
        raise InvalidTranscript(f"{field}: missing")
    return value


def _messages(raw: Any, max_chars: int) -> list[dict[str, str | None]]:
    if not isinstance(raw, list):
        raise InvalidTranscript(f"messages: expected a list, got {type(raw).__name__}")
    if not raw:
        raise InvalidTranscript("messages: empty conversation")
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise InvalidTranscript(f"messages[{index}]: expected an object")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidTranscript(f"messages[{index}].role: unknown role {shown(role)}")
        content = message.get("content")
        if not isinstance(content, str):
            kind = type(content).__name__
            raise InvalidTranscript(f"messages[{index}].content: expected a string, got {kind}")
        if not content.strip():
            raise InvalidTranscript(f"messages[{index}].content: empty message")
        if len(content) > max_chars:
            raise InvalidTranscript(
                f"messages[{index}].content: {len(content)} characters, over the {max_chars} limit"
            )
        created_at = parse_timestamp(message.get("created_at"), f"messages[{index}].created_at")
        messages.append({"role": role, "content": content, "created_at": created_at})
    if not any(m["role"] == "user" for m in messages):
        raise InvalidTranscript("messages: no customer (user) message")
    return messages


def _context(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {"retrieved_docs": [], "customer_profile": "{}"}
    if not isinstance(raw, dict):
        raise InvalidTranscript("context: expected an object")
    docs = []
    for index, doc in enumerate(raw.get("retrieved_docs") or []):
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            raise InvalidTranscript(
                f"context.retrieved_docs[{index}]: expected {{doc_id, title, text}}"
            )
        docs.append(
            {
                "doc_id": str(doc.get("doc_id", index)),
                "title": str(doc.get("title") or ""),
                "text": doc["text"],
            }
        )
    profile = raw.get("customer_profile") or {}
    if not isinstance(profile, dict):
        raise InvalidTranscript("context.customer_profile: expected an object")
    return {"retrieved_docs": docs, "customer_profile": json.dumps(profile, sort_keys=True)}


def _signals(raw: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise InvalidTranscript("signals: expected an object")
    thumbs = []
    for index, item in enumerate(raw.get("thumbs") or []):
        turn, value = (
            (item.get("turn_index"), item.get("value")) if isinstance(item, dict) else (None, None)
        )
        known = isinstance(value, str) and value in THUMBS  # a list value is unhashable
        if not known or not isinstance(turn, int) or isinstance(turn, bool):
            raise InvalidTranscript(
                f"signals.thumbs[{index}]: expected {{turn_index, value: up|down}}"
            )
        if not 0 <= turn < len(messages) or messages[turn]["role"] != "assistant":
            raise InvalidTranscript(
                f"signals.thumbs[{index}]: turn {turn} is not an assistant turn"
            )
        thumbs.append({"turn_index": turn, "value": value})
    csat = raw.get("csat")
    if csat is not None and (isinstance(csat, bool) or csat not in range(1, 6)):
        raise InvalidTranscript(f"signals.csat: expected 1-5, got {shown(csat)}")
    flags = {}
    for name in ("escalated", "resolved"):
        value = raw.get(name)
        if value is not None and not isinstance(value, bool):
            raise InvalidTranscript(f"signals.{name}: expected true/false, got {shown(value)}")
        flags[name] = value
    return {"thumbs": thumbs, "csat": csat, **flags}


def validate_transcript(row: dict[str, Any], max_message_chars: int) -> dict[str, Any]:
    """A raw transcript (already mapped onto contract names) -> a row of the dataset."""
    if not isinstance(row, dict):
        raise InvalidTranscript(f"expected a JSON object, got {type(row).__name__}")
    messages = _messages(row.get("messages"), max_message_chars)
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidTranscript("metadata: expected an object")
    topic = row.get("topic") or metadata.get("topic") or metadata.get("intent")
    started_at = parse_timestamp(row.get("started_at"), "started_at") or messages[0]["created_at"]
    if started_at is None:
        raise InvalidTranscript("started_at: missing (and no message has created_at)")
    valid = {
        "conversation_id": _required_str(row, "conversation_id"),
        "customer_id": _optional_str(row, "customer_id"),
        "started_at": started_at,
        "channel": _optional_str(row, "channel"),
        "locale": _optional_str(row, "locale"),
        "model_version": _optional_str(row, "model_version"),
        "topic": str(topic) if topic is not None else None,
        "messages": messages,
        "context": _context(row.get("context")),
        "signals": _signals(row.get("signals"), messages),
        "metadata": json.dumps(metadata, sort_keys=True, default=str),
        "repeat_contact": False,
        "repeat_of": None,
    }
    try:  # a JSON escape such as \ud800 decodes to a lone surrogate, which has no UTF-8
        json.dumps(valid, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidTranscript("text: a lone surrogate (\\ud800-\\udfff), not Unicode") from None
    return valid

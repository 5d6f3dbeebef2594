"""Plain helpers for the ingest tests: a conversation in the transcript contract, and the PII
values that the `mixed_inputs` fixture plants in its corpus."""

from __future__ import annotations

from typing import Any

CARD = "4111 1111 1111 1111"
EMAIL = "dana.whitfield@example.org"


def transcript(cid: str, customer: str, text: str, hour: int = 9, **extra: Any) -> dict[str, Any]:
    """A valid conversation in the transcript contract."""
    stamp = f"2026-10-0{1 + hour // 24}T{hour % 24:02d}:00:00Z"
    row = {
        "conversation_id": cid,
        "customer_id": customer,
        "started_at": stamp,
        "channel": "chat",
        "locale": "en-US",
        "model_version": "assistant-2026-10",
        "messages": [
            {"role": "user", "content": text, "created_at": stamp},
            {"role": "assistant", "content": "Thanks, I can help with that.", "created_at": stamp},
        ],
        "context": {
            "retrieved_docs": [{"doc_id": "p1", "title": "Returns", "text": "30 days."}],
            "customer_profile": {"tier": "gold"},
        },
        "signals": {"thumbs": [{"turn_index": 1, "value": "up"}], "csat": 4, "escalated": False},
        "metadata": {"intent": "return"},
    }
    row.update(extra)
    return row

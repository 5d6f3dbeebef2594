"""The shape of every preference row, shared by the pair, KTO and SFT builders.

Rows are TRL's conversational formats plus provenance columns (`conversation_id`, `source`,
`agreement`, `annotators`, ...). The features are declared, not inferred, so an empty split or
an all-None column still saves with the schema trainers and the training stage expect.
"""

from __future__ import annotations

from typing import Any

from datasets import Features, List, Value

MESSAGE = {"role": Value("string"), "content": Value("string")}

PROVENANCE = {
    "conversation_id": Value("string"),
    "customer_id": Value("string"),
    "source": Value("string"),
    "signal": Value("string"),
    "record_id": Value("string"),
    "agreement": Value("float64"),
    "annotators": List(Value("string")),
    "weight": Value("float64"),
}

FEATURES = {
    "pairs": Features(
        {
            "prompt": List(MESSAGE),
            "chosen": List(MESSAGE),
            "rejected": List(MESSAGE),
            **PROVENANCE,
        }
    ),
    "kto": Features(
        {
            "prompt": List(MESSAGE),
            "completion": List(MESSAGE),
            "label": Value("bool"),
            **PROVENANCE,
        }
    ),
    "sft": Features({"messages": List(MESSAGE), **PROVENANCE}),
}


def reply_identity(text: str) -> str:
    """Whitespace-insensitive identity of a reply: two replies differing only in spacing are one."""
    return " ".join(text.split())


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def clean_prompt(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Keep only role and content: extra keys (created_at, ...) are not part of TRL's format."""
    return [{"role": m["role"], "content": m["content"] or ""} for m in messages]


def provenance(
    *,
    conversation_id: str,
    customer_id: str | None,
    source: str,
    agreement: float | None,
    annotators: list[str],
    weight: float,
    record_id: str | None = None,
    signal: str | None = None,
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "source": source,
        "signal": signal,
        "record_id": record_id,
        "agreement": agreement,
        "annotators": sorted(annotators),
        "weight": weight,
    }

"""SFT rows `{messages}` from annotators' corrected replies: the conversation up to the judged
turn, then the reply an annotator wrote. The same correction for the same turn is kept once."""

from __future__ import annotations

from typing import Any

from supportloop.feedback.preferences.aggregate import RecordAggregate
from supportloop.feedback.preferences.rows import assistant, provenance, reply_identity


def build_sft(records: list[RecordAggregate]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, int], str]] = set()
    corrections = 0
    for rec in records:
        for text, authors in rec.corrections:
            corrections += 1
            identity = (rec.key, reply_identity(text))
            if identity in seen:
                continue
            seen.add(identity)
            rows.append(
                {
                    "messages": rec.prompt + assistant(text),
                    **provenance(
                        conversation_id=rec.conversation_id,
                        customer_id=rec.customer_id,
                        source="correction",
                        agreement=rec.agreement,
                        annotators=authors,
                        weight=rec.weight,
                        record_id=rec.record_id,
                    ),
                }
            )
    stats = {
        "generated_by_source": {"correction": corrections},
        "filters": {"duplicates_merged": corrections - len(rows)},
    }
    return rows, stats

"""KTO rows `{prompt, completion, label}`: one judged reply each, desirable or not.

Sources: aggregated `resolves_issue` (yes / no; `partly` by config; ties dropped), aggregated
ratings (above / below thresholds), policy flags (flagged = undesirable) and, from
`supportloop.feedback.preferences.signals`, logged implicit signals. Each source has an inclusion
switch and a weight (the `weight` column). A flagged reply is never a desirable row; a reply
labelled both ways at the same turn is removed; the same label from several sources is kept once.
KTO is sensitive to label balance: `label_balance` gives the counts and TRL's recommended
loss weights (reported per split in the summary and the dataset card).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from supportloop.feedback.preferences.aggregate import TIE, CandidateAggregate, RecordAggregate
from supportloop.feedback.preferences.config import KtoConfig, SourceConfig
from supportloop.feedback.preferences.conflicts import keep_first, remove_contradictions
from supportloop.feedback.preferences.pairs import flagged_texts
from supportloop.feedback.preferences.rows import assistant, provenance, reply_identity

KTO_SOURCES = ("resolves", "rating", "flag", "signal")


@dataclass
class Example:
    conversation_id: str
    turn_index: int
    customer_id: str | None
    prompt: list[dict[str, str]]
    text: str
    label: bool
    source: str
    weight: float
    annotators: list[str] = field(default_factory=list)
    agreement: float | None = None
    record_id: str | None = None
    signal: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.conversation_id, self.turn_index)

    def to_row(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "completion": assistant(self.text),
            "label": self.label,
            **provenance(
                conversation_id=self.conversation_id,
                customer_id=self.customer_id,
                source=self.source,
                agreement=self.agreement,
                annotators=self.annotators,
                weight=self.weight,
                record_id=self.record_id,
                signal=self.signal,
            ),
        }


def _example(
    rec: RecordAggregate,
    cand: CandidateAggregate,
    label: bool,
    source: str,
    annotators: list[str],
    cfg: SourceConfig,
) -> Example:
    return Example(
        conversation_id=rec.conversation_id,
        turn_index=rec.turn_index,
        customer_id=rec.customer_id,
        prompt=rec.prompt,
        text=cand.text,
        label=label,
        source=source,
        weight=rec.weight * cfg.weight,
        annotators=annotators,
        agreement=rec.agreement,
        record_id=rec.record_id,
    )


def threshold_label(value: float, desirable_min: float, undesirable_max: float) -> bool | None:
    if value >= desirable_min:
        return True
    return False if value <= undesirable_max else None


def annotation_examples(
    records: list[RecordAggregate], config: KtoConfig, stats: Counter[str]
) -> list[Example]:
    """Examples from aggregated `resolves_issue`, ratings and flags."""
    partly = {"drop": None, "desirable": True, "undesirable": False}[config.resolves.partly]
    resolves_labels = {"yes": True, "no": False, "partly": partly, TIE: None}
    out: list[Example] = []
    for rec in records:
        for cand in rec.candidates:
            if config.resolves.include and cand.resolves is not None:
                label = resolves_labels[cand.resolves]
                if label is None:
                    stats[f"resolves_{cand.resolves}_skipped"] += 1
                else:
                    out.append(
                        _example(rec, cand, label, "resolves", cand.resolves_by, config.resolves)
                    )
            if config.rating.include and cand.rating is not None:
                cfg = config.rating
                label = threshold_label(cand.rating, cfg.desirable_min, cfg.undesirable_max)
                if label is None:
                    stats["rating_between_thresholds"] += 1
                else:
                    out.append(_example(rec, cand, label, "rating", cand.raters, cfg))
            if config.flag.include and cand.flagged:
                out.append(_example(rec, cand, False, "flag", cand.flagged_by, config.flag))
    return out


def label_balance(labels: list[bool]) -> dict[str, Any]:
    """Counts and the loss weights TRL's KTOTrainer recommends for this balance."""
    desirable = sum(labels)
    undesirable = len(labels) - desirable
    balance: dict[str, Any] = {"desirable": desirable, "undesirable": undesirable}
    if desirable and undesirable:
        balance["desirable_share"] = round(desirable / len(labels), 4)
        # TRL: desirable_weight * n_desirable / (undesirable_weight * n_undesirable) in [1, 4/3]
        balance["suggested_desirable_weight"] = round(undesirable / desirable, 3)
    return balance


def build_kto(
    records: list[RecordAggregate], signal_examples: list[Example], config: KtoConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """KTO rows from annotations plus already-extracted signal examples; returns (rows, stats)."""
    stats: Counter[str] = Counter()
    examples = annotation_examples(records, config, stats) + signal_examples
    generated = Counter(e.signal or e.source for e in examples)

    kept = [e for e in examples if reply_identity(e.text)]
    stats["empty_completion"] = len(examples) - len(kept)
    flagged = flagged_texts(records)
    before = len(kept)
    kept = [e for e in kept if not (e.label and reply_identity(e.text) in flagged.get(e.key, ()))]
    stats["flag_vetoed"] = before - len(kept)
    kept, stats["contradictions"], stats["contradictory_rows_removed"] = remove_contradictions(
        kept, lambda e: (e.key, reply_identity(e.text)), lambda e: e.label
    )
    kept, stats["duplicates_merged"] = keep_first(
        kept,
        lambda e: (e.key, reply_identity(e.text)),
        lambda e: KTO_SOURCES.index(e.source),
    )
    return [e.to_row() for e in kept], {
        "generated_by_source": dict(sorted(generated.items())),
        "filters": dict(sorted(stats.items())),
    }

"""One answer per record from several annotators, and the agreement policy applied to it.

The responses dataset has one row per record x annotator. Everything downstream (pairs, KTO,
SFT) reads the aggregate built here, so the aggregation rule and the agreement threshold are
applied once and counted once.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from supportloop.errors import UserError
from supportloop.feedback.preferences.config import AggregationConfig, AgreementConfig
from supportloop.feedback.preferences.rows import clean_prompt, reply_identity

TIE = "tie"


class PreferenceDataError(UserError):
    """An input row that breaks the responses contract (lists not aligned with candidates...)."""


@dataclass
class CandidateAggregate:
    candidate_id: str
    text: str
    origin: str
    score: float | None = None
    rankers: list[str] = field(default_factory=list)
    rating: float | None = None
    raters: list[str] = field(default_factory=list)
    resolves: str | None = None
    resolves_by: list[str] = field(default_factory=list)
    flagged: bool = False
    flags: list[str] = field(default_factory=list)
    flagged_by: list[str] = field(default_factory=list)


@dataclass
class RecordAggregate:
    record_id: str
    conversation_id: str
    customer_id: str | None
    turn_index: int
    prompt: list[dict[str, str]]
    candidates: list[CandidateAggregate]
    annotators: list[str]
    agreement: float | None
    weight: float = 1.0
    best_by: dict[str, list[int]] = field(default_factory=dict)
    corrections: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        """Records about the same assistant turn share a prompt: contradictions are per key."""
        return (self.conversation_id, self.turn_index)


def _check_aligned(row: dict[str, Any], name: str, n: int) -> None:
    value = row.get(name)
    if value is not None and len(value) != n:
        raise PreferenceDataError(
            f"record {row['record_id']} annotator {row['annotator']}: {name} has {len(value)} "
            f"entries for {n} candidates"
        )


def _rank_scores(rankings: list[list[int]], method: str) -> list[float]:
    """Borda points (candidates beaten, half a point per tie) or minus the mean rank."""
    n = len(rankings[0])
    totals = [0.0] * n
    for ranks in rankings:
        for i, r_i in enumerate(ranks):
            if method == "borda":
                beaten = sum(1 for j, r_j in enumerate(ranks) if j != i and r_j > r_i)
                tied = sum(1 for j, r_j in enumerate(ranks) if j != i and r_j == r_i)
                totals[i] += beaten + 0.5 * tied
            else:
                totals[i] -= r_i
    return [total / len(rankings) for total in totals]


def _majority(votes: list[str]) -> str | None:
    """The most common answer; an explicit TIE when two answers share the top count."""
    if not votes:
        return None
    (top, count), *rest = Counter(votes).most_common()
    return TIE if rest and rest[0][1] == count else top


def _latest_per_annotator(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The last submission of each annotator (a re-pull may carry an earlier one too)."""
    by_annotator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_annotator[row["annotator"]].append(row)
    latest = []
    for annotator in sorted(by_annotator):
        # The JSON form breaks ties between equal timestamps whatever the input order.
        latest.append(
            max(
                by_annotator[annotator],
                key=lambda r: (
                    r.get("submitted_at") or "",
                    json.dumps(r, sort_keys=True, default=str),
                ),
            )
            if len(by_annotator[annotator]) > 1
            else by_annotator[annotator][0]
        )
    return latest, len(rows) - len(latest)


def _aggregate_one(
    rows: list[dict[str, Any]], config: AggregationConfig, agreement: float | None
) -> RecordAggregate:
    first = rows[0]
    candidates = [
        CandidateAggregate(c["candidate_id"], c["text"], c.get("source") or "generated")
        for c in first["candidates"]
    ]
    n = len(candidates)
    for row in rows:
        for name in ("ranking", "ratings", "resolves", "flags"):
            _check_aligned(row, name, n)
    annotators = [row["annotator"] for row in rows]
    record = RecordAggregate(
        record_id=first["record_id"],
        conversation_id=first["conversation_id"],
        customer_id=first.get("customer_id"),
        turn_index=int(first["turn_index"]),
        prompt=clean_prompt(first["prompt"]),
        candidates=candidates,
        annotators=annotators,
        agreement=agreement,
    )

    ranked = [row for row in rows if row.get("ranking")]
    if ranked:
        scores = _rank_scores([row["ranking"] for row in ranked], config.ranking)
        for cand, score in zip(candidates, scores, strict=True):
            cand.score = score
            cand.rankers = [row["annotator"] for row in ranked]
        for row in ranked:
            best = min(row["ranking"])
            record.best_by[row["annotator"]] = [
                i for i, r in enumerate(row["ranking"]) if r == best
            ]

    for i, cand in enumerate(candidates):
        ratings = [
            (row["annotator"], row["ratings"][i])
            for row in rows
            if row.get("ratings") and row["ratings"][i] is not None
        ]
        if ratings:
            values = [value for _, value in ratings]
            cand.rating = float(
                statistics.fmean(values) if config.rating == "mean" else statistics.median(values)
            )
            cand.raters = [a for a, _ in ratings]
        votes = [
            (row["annotator"], row["resolves"][i])
            for row in rows
            if row.get("resolves") and row["resolves"][i] is not None
        ]
        cand.resolves = _majority([v for _, v in votes])
        cand.resolves_by = [a for a, _ in votes]
        flaggers = [(row["annotator"], row["flags"][i]) for row in rows if row.get("flags")]
        cand.flagged_by = [a for a, names in flaggers if names]
        needed = 1 if config.flags == "any" else len(rows) // 2 + 1
        cand.flagged = len(cand.flagged_by) >= needed
        cand.flags = sorted({name for _, names in flaggers for name in names})

    by_text: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        text = row.get("correction")
        if text and reply_identity(text):
            by_text.setdefault(reply_identity(text), (text, []))[1].append(row["annotator"])
    record.corrections = list(by_text.values())
    return record


@dataclass
class AggregationResult:
    records: list[RecordAggregate]
    stats: dict[str, Any]


def aggregate_records(
    responses: Iterable[dict[str, Any]],
    agreement: dict[str, float | None],
    aggregation: AggregationConfig,
    policy: AgreementConfig,
) -> AggregationResult:
    """Group responses by record, aggregate submitted ones, apply the agreement policy.

    Output order is by record id, whatever the input order, so every later step (and the
    split) is deterministic.
    """
    by_record: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stats: Counter[str] = Counter()
    for row in responses:
        stats["responses"] += 1
        if row["status"] != "submitted":
            stats[f"responses_{row['status']}"] += 1
            by_record.setdefault(row["record_id"], [])
            continue
        stats["responses_submitted"] += 1
        by_record[row["record_id"]].append(row)

    records: list[RecordAggregate] = []
    for record_id in sorted(by_record):
        stats["records"] += 1
        submitted, duplicates = _latest_per_annotator(by_record[record_id])
        stats["responses_superseded"] += duplicates
        if not submitted:
            stats["records_without_submitted"] += 1
            continue
        value = agreement.get(record_id)
        record = _aggregate_one(submitted, aggregation, value)
        if value is None:
            stats["records_missing_agreement"] += 1
            if policy.missing == "drop":
                stats["records_dropped_missing_agreement"] += 1
                continue
        elif policy.threshold is not None and value < policy.threshold:
            stats["records_below_threshold"] += 1
            if policy.below == "drop":
                stats["records_dropped_low_agreement"] += 1
                continue
            record.weight = policy.below_weight
            stats["records_downweighted"] += 1
        records.append(record)
        stats["resolves_ties"] += sum(1 for c in record.candidates if c.resolves == TIE)
    stats["records_kept"] = len(records)
    return AggregationResult(records, dict(sorted(stats.items())))

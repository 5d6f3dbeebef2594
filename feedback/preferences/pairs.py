"""DPO / reward-model pairs `{prompt, chosen, rejected}` from aggregated annotations.

Sources: aggregated rankings (every pair above a margin, or best vs worst), rating gaps,
corrections (the annotator's reply preferred over the original) and policy flags (an
unflagged reply preferred over a flagged one). Then, in this order: pairs whose two replies
are the same text are dropped; a flagged reply is never chosen over an unflagged one; pairs of
replies judged both ways are removed; a pair found by several sources is kept once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from supportloop.feedback.preferences.aggregate import RecordAggregate
from supportloop.feedback.preferences.config import PairsConfig
from supportloop.feedback.preferences.conflicts import keep_first, remove_contradictions
from supportloop.feedback.preferences.rows import assistant, provenance, reply_identity

PAIR_SOURCES = ("ranking", "rating", "flag", "correction")


@dataclass
class Pair:
    record: RecordAggregate
    chosen: str
    rejected: str
    source: str
    annotators: list[str]
    weight: float

    @cached_property
    def sides(self) -> tuple[str, str]:
        return reply_identity(self.chosen), reply_identity(self.rejected)

    def to_row(self) -> dict[str, Any]:
        rec = self.record
        return {
            "prompt": rec.prompt,
            "chosen": assistant(self.chosen),
            "rejected": assistant(self.rejected),
            **provenance(
                conversation_id=rec.conversation_id,
                customer_id=rec.customer_id,
                source=self.source,
                agreement=rec.agreement,
                annotators=self.annotators,
                weight=self.weight,
                record_id=rec.record_id,
            ),
        }


def flagged_texts(records: list[RecordAggregate]) -> dict[tuple[str, int], set[str]]:
    """Replies flagged at each assistant turn, by text: a flag on a reply holds for every record
    that shows the same reply for the same turn."""
    flagged: dict[tuple[str, int], set[str]] = defaultdict(set)
    for rec in records:
        for cand in rec.candidates:
            if cand.flagged:
                flagged[rec.key].add(reply_identity(cand.text))
    return flagged


def _ranking_pairs(rec: RecordAggregate, config: PairsConfig) -> list[Pair]:
    cfg = config.ranking
    scored = [c for c in rec.candidates if c.score is not None]
    if not scored:
        return []
    if cfg.mode == "best_vs_worst":
        top = max(c.score for c in scored)
        bottom = min(c.score for c in scored)
        winners = [c for c in scored if c.score == top]
        losers = [c for c in scored if c.score == bottom]
    else:
        winners = losers = scored
    weight = rec.weight * cfg.weight
    return [
        Pair(rec, a.text, b.text, "ranking", a.rankers, weight)
        for a in winners
        for b in losers
        if a.score - b.score > cfg.margin
    ]


def _rating_pairs(rec: RecordAggregate, config: PairsConfig) -> list[Pair]:
    cfg = config.rating
    rated = [c for c in rec.candidates if c.rating is not None]
    weight = rec.weight * cfg.weight
    return [
        Pair(rec, a.text, b.text, "rating", sorted(set(a.raters) | set(b.raters)), weight)
        for a in rated
        for b in rated
        if a.rating - b.rating >= cfg.min_difference
    ]


def _flag_pairs(rec: RecordAggregate, config: PairsConfig) -> list[Pair]:
    weight = rec.weight * config.flag.weight
    return [
        Pair(rec, a.text, b.text, "flag", b.flagged_by, weight)
        for a in rec.candidates
        if not a.flagged
        for b in rec.candidates
        if b.flagged
    ]


def _correction_pairs(rec: RecordAggregate, config: PairsConfig, stats: Counter[str]) -> list[Pair]:
    cfg = config.correction
    pairs = []
    for text, authors in rec.corrections:
        if cfg.against == "logged":
            originals = [c for c in rec.candidates if c.origin == "logged"]
        elif cfg.against == "annotator_best":
            best = sorted({i for a in authors for i in rec.best_by.get(a, [])})
            originals = [rec.candidates[i] for i in best]
        else:
            originals = rec.candidates
        if not originals:
            stats["corrections_without_original"] += 1
        pairs += [
            Pair(rec, text, c.text, "correction", authors, rec.weight * cfg.weight)
            for c in originals
        ]
    return pairs


def build_pairs(
    records: list[RecordAggregate], config: PairsConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All pairs of all included sources, filtered; returns (rows, stats)."""
    stats: Counter[str] = Counter()
    pairs: list[Pair] = []
    for rec in records:
        if config.ranking.include:
            pairs += _ranking_pairs(rec, config)
        if config.rating.include:
            pairs += _rating_pairs(rec, config)
        if config.flag.include:
            pairs += _flag_pairs(rec, config)
        if config.correction.include:
            pairs += _correction_pairs(rec, config, stats)
    generated = Counter(p.source for p in pairs)

    kept = [p for p in pairs if p.sides[0] and p.sides[1] and p.sides[0] != p.sides[1]]
    stats["degenerate"] = len(pairs) - len(kept)

    flagged = flagged_texts(records)
    before = len(kept)
    kept = [
        p
        for p in kept
        if not (p.sides[0] in flagged[p.record.key] and p.sides[1] not in flagged[p.record.key])
    ]
    stats["flag_vetoed"] = before - len(kept)

    kept, stats["contradictions"], stats["contradictory_pairs_removed"] = remove_contradictions(
        kept, lambda p: (p.record.key, frozenset(p.sides)), lambda p: p.sides
    )
    kept, stats["duplicates_merged"] = keep_first(
        kept, lambda p: (p.record.key, p.sides), lambda p: PAIR_SOURCES.index(p.source)
    )
    return [p.to_row() for p in kept], {
        "generated_by_source": dict(sorted(generated.items())),
        "filters": dict(sorted(stats.items())),
    }

"""Removing what would teach a trainer two opposite things, or the same thing twice.

Pairs and KTO rows come from several sources (rankings, ratings, flags, corrections, logged
signals) that can disagree about the same replies. Both builders apply the same two rules:
opposite judgements about the same thing cancel out (removed and counted), and a judgement
made by several sources is kept once (the first source in priority order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


def remove_contradictions(
    items: list[T], subject: Callable[[T], Hashable], verdict: Callable[[T], Hashable]
) -> tuple[list[T], int, int]:
    """Drop every item whose subject received more than one verdict.

    Returns (kept, number of contradicted subjects, number of items removed).
    """
    verdicts: dict[Hashable, set[Hashable]] = defaultdict(set)
    for item in items:
        verdicts[subject(item)].add(verdict(item))
    contradicted = {key for key, seen in verdicts.items() if len(seen) > 1}
    kept = [item for item in items if subject(item) not in contradicted]
    return kept, len(contradicted), len(items) - len(kept)


def keep_first(
    items: list[T], identity: Callable[[T], Hashable], priority: Callable[[T], int]
) -> tuple[list[T], int]:
    """One item per identity: the one with the lowest priority (stable). Returns (kept, merged)."""
    best: dict[Hashable, T] = {}
    for item in sorted(items, key=priority):
        best.setdefault(identity(item), item)
    kept = [item for item in items if best[identity(item)] is item]
    return kept, len(items) - len(kept)

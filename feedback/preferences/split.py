"""Train/test split by conversation, optionally by customer, shared by every dataset.

Rows are grouped into connected components: rows of one conversation are together, and with
`by_customer` so are all conversations of one customer (union-find, so even inconsistent
customer ids cannot leak a conversation). Whole groups go to one side, chosen by a seeded hash
of the group, once for all datasets: a conversation held out of the reward model's pairs is
also held out of the KTO and SFT rows.
"""

from __future__ import annotations

import hashlib
from typing import Any


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _order(seed: int, group: tuple[str, str]) -> str:
    return hashlib.sha256(f"{seed}\x00{group[0]}\x00{group[1]}".encode()).hexdigest()


def assign_splits(
    datasets: dict[str, list[dict[str, Any]]], test_size: float, seed: int, by_customer: bool
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], dict[str, int]]:
    """Split every dataset's rows into train/test with one shared assignment of groups.

    `round(test_size * groups)` groups go to test (at least one, and at least one left for
    train, when there are two groups or more and test_size > 0).
    """
    uf = _UnionFind()
    for rows in datasets.values():
        for row in rows:
            conv = ("conversation", row["conversation_id"])
            uf.find(conv)
            if by_customer and row.get("customer_id") is not None:
                uf.union(conv, ("customer", row["customer_id"]))
    groups = sorted({uf.find(node) for node in list(uf.parent)}, key=lambda g: _order(seed, g))
    n_test = round(test_size * len(groups))
    if test_size > 0 and len(groups) >= 2:
        n_test = min(max(n_test, 1), len(groups) - 1)
    test_groups = set(groups[:n_test])

    out = {}
    for name, rows in datasets.items():
        sides: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
        for row in rows:
            group = uf.find(("conversation", row["conversation_id"]))
            sides["test" if group in test_groups else "train"].append(row)
        out[name] = sides
    return out, {"groups": len(groups), "test_groups": n_test}

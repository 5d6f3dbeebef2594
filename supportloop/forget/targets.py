"""Who is forgotten, and how a row is recognised as theirs.

A request names customers and conversations. Rows are matched by id columns
(`customer_id`, `conversation_id`, `record_id`): the customer's conversation ids and the
Argilla record ids of those conversations are found in the stores themselves, so a dataset
that keeps only a record id (agreement) or only a conversation id (eval win rates) is
matched too. Ids are pseudonymous but still personal data: what is kept about a request
(lineage, report) holds their sha256, which an auditor can recompute from an id.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def id_digest(value: str) -> str:
    """The form an id takes in lineage and reports: its sha256, never the id itself."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Targets:
    """The requested ids plus the conversation and record ids found to belong to them."""

    customers: set[str]
    conversations: set[str]
    records: set[str] = field(default_factory=set)

    def by_column(self) -> dict[str, set[str]]:
        return {
            "customer_id": self.customers,
            "conversation_id": self.conversations,
            "record_id": self.records,
        }

    def size(self) -> tuple[int, int, int]:
        return len(self.customers), len(self.conversations), len(self.records)

    def personal_ids(self) -> set[str]:
        """Ids that point at a person (record ids are hashes of them, not identifiers)."""
        return self.customers | self.conversations

    def every_id(self) -> set[str]:
        return self.customers | self.conversations | self.records


def row_mask(table: pa.Table, targets: Targets) -> np.ndarray:
    """Boolean per row: does any id column hold a target id (read column by column, so a
    memory-mapped table is never copied whole)."""
    mask = np.zeros(table.num_rows, dtype=bool)
    for column, ids in targets.by_column().items():
        if not ids or column not in table.column_names:
            continue
        values = table.column(column)
        if not pa.types.is_string(values.type):
            values = pc.cast(values, pa.string())
        hits = pc.is_in(values, value_set=pa.array(sorted(ids), type=pa.string()))
        mask |= hits.to_numpy(zero_copy_only=False).astype(bool)
    return mask


def matched_ids(table: pa.Table, mask: np.ndarray) -> tuple[set[str], set[str]]:
    """(conversation ids, record ids) of the matched rows: the customer's own ids."""
    found: list[set[str]] = []
    for column in ("conversation_id", "record_id"):
        if column in table.column_names and mask.any():
            values = table.column(column).filter(pa.array(mask)).to_pylist()
            found.append({str(v) for v in values if v is not None})
        else:
            found.append(set())
    return found[0], found[1]


def mentions(value: Any, ids: set[str]) -> bool:
    """Does a JSON value hold a target id anywhere (keys aside)?

    For side files whose rows have no fixed shape (the quarantine keeps the raw input row,
    before any column mapping): any string or number equal to an id counts, JSON text inside
    a string is searched too, and text that is not JSON (a broken line) is searched for the
    id as a whole token.
    """
    if not ids:
        return False
    if isinstance(value, dict):
        return any(mentions(v, ids) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, ids) for v in value)
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return str(value) in ids
    if value in ids:
        return True
    if value[:1] in ("{", "["):
        try:
            return mentions(json.loads(value), ids)
        except (ValueError, RecursionError):  # not JSON, or nested past the recursion limit
            pass
    return _token_pattern(frozenset(ids)).search(value) is not None


@functools.lru_cache(maxsize=8)
def _token_pattern(ids: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")

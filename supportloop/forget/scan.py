"""Reading a store's artifacts for a customer's rows, without writing anything.

Datasets are opened detached (supportloop.reading): only their id columns are read, from
the memory-mapped Arrow files. JSONL side files are streamed line by line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from datasets import DatasetDict

from supportloop.forget.stores import Artifact
from supportloop.forget.targets import Targets, matched_ids, mentions, row_mask
from supportloop.reading import open_dataset
from supportloop.runs import dataset_fingerprint


@dataclass
class Scan:
    """What one artifact holds of the targets, as it is before any change."""

    artifact: Artifact
    rows: int = 0
    matched: int = 0
    conversations: set[str] = field(default_factory=set)
    records: set[str] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)


def scan_dataset(artifact: Artifact, targets: Targets) -> Scan:
    """Rows of a saved dataset (every split) matched by id column, with their own ids."""
    loaded = open_dataset(artifact.path)
    splits = loaded.values() if isinstance(loaded, DatasetDict) else [loaded]
    scan = Scan(artifact)
    for split in splits:
        table = split.data.table
        mask = row_mask(table, targets)
        conversations, records = matched_ids(table, mask)
        scan.rows += table.num_rows
        scan.matched += int(mask.sum())
        scan.conversations |= conversations
        scan.records |= records
        scan.fingerprints.add(dataset_fingerprint(split))
    return scan


def line_matches(line: str, ids: set[str]) -> bool:
    """A JSONL line that mentions a target id (a line that is not JSON is searched as text)."""
    try:
        return mentions(json.loads(line), ids)
    except (ValueError, RecursionError):
        return mentions(line, ids)


def scan_jsonl(artifact: Artifact, targets: Targets) -> Scan:
    ids = targets.every_id()
    scan = Scan(artifact)
    with artifact.path.open(encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            if not line.strip():
                continue
            scan.rows += 1
            scan.matched += line_matches(line, ids)
    return scan


def scan(artifact: Artifact, targets: Targets) -> Scan:
    if artifact.kind == "dataset":
        return scan_dataset(artifact, targets)
    return scan_jsonl(artifact, targets)

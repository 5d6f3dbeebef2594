"""Writing an artifact again without a customer's rows, the way stages write artifacts.

A dataset is saved whole beside the old one and renamed into place, read-only
(`RunDir.save_dataset`), keeping its card with a line saying rows were removed. A JSONL file
is written to a temporary file in the same folder and renamed over the old one, keeping its
mode (the quarantine stays owner-only). A reader sees the old artifact or the new one, never
half of either.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import datasets
from datasets import Dataset, DatasetDict

from supportloop.forget.scan import line_matches
from supportloop.forget.stores import Artifact
from supportloop.forget.targets import Targets, row_mask
from supportloop.reading import open_dataset
from supportloop.runs import RunDir, dataset_fingerprint


@dataclass(frozen=True)
class Rewritten:
    artifact: Artifact
    removed: int
    kept: int
    fingerprint: str | None  # `datasets` fingerprint of a rewritten single Dataset


@contextmanager
def _quiet() -> Iterator[None]:
    """No "Saving the dataset" bar per artifact: the summary says what was rewritten."""
    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _without(split: Dataset, targets: Targets) -> Dataset:
    """The split minus matched rows: an index over the old rows, flattened when saved."""
    keep = (~row_mask(split.data.table, targets)).nonzero()[0]
    return split.select(keep)


def rewrite_dataset(artifact: Artifact, targets: Targets, note: str) -> Rewritten:
    """Save the dataset again without the targets' rows; `note` is appended to its card."""
    loaded = open_dataset(artifact.path)
    before = sum(loaded.num_rows.values()) if isinstance(loaded, DatasetDict) else len(loaded)
    if isinstance(loaded, DatasetDict):
        kept: Dataset | DatasetDict = DatasetDict(
            {name: _without(split, targets) for name, split in loaded.items()}
        )
        after = sum(kept.num_rows.values())
    else:
        kept = _without(loaded, targets)
        after = len(kept)
    card_file = artifact.path / "README.md"
    card = card_file.read_text(encoding="utf-8") if card_file.is_file() else ""
    card = f"{card.rstrip()}\n\n{note}\n" if card else ""
    with _quiet():
        RunDir(artifact.store.path, artifact.store.stage).save_dataset(artifact.name, kept, card)
    fingerprint = dataset_fingerprint(kept) if isinstance(kept, Dataset) else None
    return Rewritten(artifact, before - after, after, fingerprint)


def rewrite_jsonl(artifact: Artifact, targets: Targets) -> Rewritten:
    """Copy the file without the lines that mention a target id, then rename it into place."""
    path, ids = artifact.path, targets.every_id()
    mode = stat.S_IMODE(path.stat().st_mode)
    removed = kept = 0
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (
            os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape") as out,
            path.open(encoding="utf-8", errors="surrogateescape") as lines,
        ):
            for line in lines:
                if line.strip() and line_matches(line, ids):
                    removed += 1
                    continue
                kept += bool(line.strip())
                out.write(line)
        os.chmod(staging, mode)
        os.replace(staging, path)
    except BaseException:
        os.unlink(staging)
        raise
    return Rewritten(artifact, removed, kept, None)


def rewrite(artifact: Artifact, targets: Targets, note: str) -> Rewritten:
    if artifact.kind == "dataset":
        return rewrite_dataset(artifact, targets, note)
    return rewrite_jsonl(artifact, targets)

"""The stores a forget visits: the run directories under a runs root, found by their lineage.

A stage's run directory holds `lineage.json` (supportloop.runs); the datasets and JSONL side
files it recorded are what may hold a customer's rows. The Argilla pull directory keeps no
lineage (each pull replaces its responses) yet holds annotated conversations: it is found by
its state file. Folders inside datasets, hidden folders (a stage's scratch) and caches are
not searched, only listed (a stage that failed leaves copies of rows there; one that runs
needs them); links are not followed, so `runs/preferences/latest` is not visited twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from supportloop.errors import UserError
from supportloop.feedback.argilla.pull import STATE_FILE
from supportloop.runs import CACHE_DIR, LINEAGE_FILE, read_lineage

PULL_STAGE = "argilla-pull"


def is_dataset_dir(path: Path) -> bool:
    return (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()


@dataclass(eq=False)
class Store:
    """One run directory; `lineage` is None for the pull directory."""

    path: Path
    stage: str
    lineage: dict[str, Any] | None
    leftovers: list[Path] = field(default_factory=list)  # scratch, staging, caches: not read

    def artifacts(self) -> list[Artifact]:
        """Its datasets and JSONL files: those its lineage recorded (all, for a pull dir)."""
        recorded = (self.lineage or {}).get("files")
        if recorded is None:
            names = sorted(child.name for child in self.path.iterdir())
        else:
            names = sorted({relative.split("/")[0] for relative in recorded})
        found = []
        for name in names:
            path = self.path / name
            if path.is_dir() and is_dataset_dir(path):
                found.append(Artifact(self, name, "dataset"))
            elif path.is_file() and name.endswith(".jsonl"):
                found.append(Artifact(self, name, "jsonl"))
        return found


@dataclass(frozen=True, eq=False)
class Artifact:
    store: Store
    name: str
    kind: Literal["dataset", "jsonl"]

    @property
    def path(self) -> Path:
        return self.store.path / self.name


def _lineage(run_dir: Path) -> dict[str, Any]:
    """A run's lineage; one that cannot be read stops the forget (its data would be missed)."""
    try:
        return read_lineage(run_dir)
    except ValueError as exc:
        raise UserError(f"{run_dir / LINEAGE_FILE}: unreadable ({exc}); fix or remove it") from None


def find_stores(root: Path) -> list[Store]:
    """Every run directory (with lineage) and pull directory under `root`, in path order."""
    stores = []
    for here, folders, files in os.walk(root):
        path = Path(here)
        if LINEAGE_FILE in files:
            lineage = _lineage(path)
            stores.append(Store(path, lineage.get("stage", "unknown"), lineage))
        elif STATE_FILE in files:
            stores.append(Store(path, PULL_STAGE, None))
        skipped = {name for name in folders if name.startswith(".") or name == CACHE_DIR}
        if stores and stores[-1].path == path:
            stores[-1].leftovers = [path / name for name in sorted(skipped)]
        folders[:] = sorted(
            name for name in folders if name not in skipped and not is_dataset_dir(path / name)
        )
    return stores

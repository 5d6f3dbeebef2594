"""Run directories: the artifacts every stage writes and the lineage that links them.

A stage writes into one directory: datasets (`save_to_disk`), a `summary.json` for people and
a `lineage.json` naming its inputs by fingerprint, so any stage can be re-run alone from its
inputs and a reviewer can trace a promoted adapter back to the logs it learned from.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk

LINEAGE_FILE = "lineage.json"
SUMMARY_FILE = "summary.json"
_TRACKED_PACKAGES = ("supportloop", "torch", "transformers", "trl", "peft", "datasets", "argilla")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temporary file + rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
        encoding="utf-8",
    ) as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")
    os.replace(handle.name, path)


def file_fingerprint(path: Path, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file's bytes (or of a directory's files, in sorted order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def dataset_fingerprint(dataset: Dataset) -> str:
    """The fingerprint `datasets` maintains for every transform (cheap, content-derived)."""
    return "datasets:" + dataset._fingerprint


def package_versions() -> dict[str, str]:
    """Versions of the libraries that decide a run's result, for lineage and summaries."""
    versions = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class RunDir:
    """One stage's output directory."""

    def __init__(self, path: Path | str, stage: str) -> None:
        self.path = Path(path)
        self.stage = stage
        self.path.mkdir(parents=True, exist_ok=True)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def save_dataset(self, name: str, dataset: Dataset) -> Path:
        """Save with `save_to_disk`; returns the directory for lineage."""
        target = self.path / name
        # datasets 5.2 writes no data file for an empty dataset unless asked for one shard,
        # and load_from_disk then fails: an empty result must still load.
        dataset.save_to_disk(str(target), num_shards=1 if len(dataset) == 0 else None)
        return target

    def write_summary(self, summary: dict[str, Any]) -> Path:
        target = self.path / SUMMARY_FILE
        write_json_atomic(target, summary)
        return target

    def write_lineage(
        self, inputs: dict[str, str], config: dict[str, Any], outputs: dict[str, str]
    ) -> Path:
        """`inputs`/`outputs` map a name to a fingerprint (see the *_fingerprint helpers)."""
        target = self.path / LINEAGE_FILE
        write_json_atomic(
            target,
            {
                "stage": self.stage,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "inputs": inputs,
                "outputs": outputs,
                "config": config,
                "versions": package_versions(),
            },
        )
        return target


def read_lineage(run_dir: Path | str) -> dict[str, Any]:
    return json.loads((Path(run_dir) / LINEAGE_FILE).read_text(encoding="utf-8"))


def load_dataset_artifact(path: Path | str) -> Dataset:
    """Load a dataset a stage saved, with a one-line error when it is not there."""
    path = Path(path)
    if not (path / "dataset_info.json").is_file() and not (path / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"{path}: no saved dataset here (expected save_to_disk output)")
    return load_from_disk(str(path))

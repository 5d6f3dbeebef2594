"""Reading another stage's saved dataset without writing into it.

`datasets` writes the cache file of every `map`/`filter` beside the Arrow files a dataset was
loaded from. A stage that transforms a dataset it loaded from another stage's run directory
(TRL's trainers tokenize with `map`) would write tokenized customer text into that artifact:
the artifact would no longer match its lineage, `load_dataset` and TRL's CLIs would read the
extra Arrow files as data, and nobody erasing a customer would know the copies exist.

Both ways of reading here keep the rows memory-mapped (large logs never move into memory):
- without a cache dir the dataset is detached from its files, so transforms run in memory
  and nothing is written anywhere: for stages that read, filter or select;
- with a cache dir (inside the reading stage's own run directory) the artifact's files are
  linked there and loaded from the links, so transform caches land in that directory: for
  TRL's trainers, which tokenize whole datasets, and whose processes under accelerate find
  each other's caches by file name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk
from datasets.table import InMemoryTable


def detach(dataset: Dataset) -> Dataset:
    """The same memory-mapped rows, with no files known to `datasets` to write caches beside."""
    return Dataset(
        InMemoryTable(dataset.data.table),
        info=dataset.info,
        split=dataset.split,
        fingerprint=dataset._fingerprint,
    )


def _version_key(artifact: Path, files: list[Path]) -> str:
    """Names one version of an artifact: its real path and each file's name, size and mtime."""
    digest = hashlib.sha256(str(artifact.resolve()).encode())
    for file in files:
        stat = file.stat()
        digest.update(
            f"\0{file.relative_to(artifact)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
        )
    return digest.hexdigest()[:12]


def link_into(artifact: Path, cache_dir: Path) -> Path:
    """Symlinks to every file of `artifact` under `cache_dir`, made once per artifact version.

    Processes of one training run may race here; each links into its own staging folder and
    the first rename wins.
    """
    files = sorted(path for path in artifact.rglob("*") if path.is_file())
    target = cache_dir / f"{artifact.name}-{_version_key(artifact, files)}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{target.name}."))
    for file in files:
        link = staging / file.relative_to(artifact)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(file.resolve())
    try:
        os.rename(staging, target)
    except OSError:  # another process renamed its links into place first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def open_dataset(path: Path, cache_dir: Path | None = None) -> Dataset | DatasetDict:
    """`load_from_disk` that never writes into `path` (see the module docstring)."""
    if cache_dir is not None:
        return load_from_disk(str(link_into(path, cache_dir)))
    loaded = load_from_disk(str(path))
    if isinstance(loaded, DatasetDict):
        return DatasetDict({name: detach(split) for name, split in loaded.items()})
    return detach(loaded)

"""Run directories: the artifacts every stage writes and the lineage that links them.

A stage writes into one directory: datasets (`save_to_disk`), a `summary.json` for people and
a `lineage.json` naming its inputs by fingerprint, so any stage can be re-run alone from its
inputs and a reviewer can trace a promoted adapter back to the logs it learned from.

Artifacts are written once: a dataset appears whole (saved beside, then renamed into place),
and when the stage finishes its lineage records every artifact file's sha256 and the files
become read-only. `verify_artifacts` says whether a run still holds exactly those bytes;
stages that read it keep their caches in their own directory (supportloop.reading).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from supportloop.errors import UserError
from supportloop.reading import open_dataset

OUTPUTS_ENV = "SUPPORTLOOP_OUTPUTS_FILE"  # set by `supportloop run` around each step
PIPELINE_RUN_ENV = "SUPPORTLOOP_PIPELINE_RUN"  # the id of the `supportloop run` a step belongs to
LINEAGE_FILE = "lineage.json"
SUMMARY_FILE = "summary.json"
CACHE_DIR = "cache"  # `datasets` caches of what a stage read; removed when the stage finishes
_TRACKED_PACKAGES = ("supportloop", "torch", "transformers", "trl", "peft", "datasets", "argilla")


class OutputWriteError(UserError):
    """A stage's output cannot be written: disk full, read-only, over a file-size limit."""


# Errors that only writing raises; EACCES/EPERM also come from reading, so they count only for
# paths under the output.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM}
# Arrow and SQLite report these without an errno, in their own words.
_WRITE_WORDS = (
    "No space left on device",
    "Read-only file system",
    "File too large",
    "database or disk is full",
    "attempt to write a readonly database",
)


def _write_failure(exc: BaseException, output: Path) -> str | None:
    """What went wrong when `exc` is a failure to write under `output`, else None."""
    if not isinstance(exc, OSError | sqlite3.Error):
        return None
    code = getattr(exc, "errno", None)
    if code in _WRITE_ERRNOS:
        return os.strerror(code)
    inside = str(getattr(exc, "filename", "") or "").startswith(str(output))
    if code in _DENIED_ERRNOS and inside:
        return os.strerror(code)
    return next((words for words in _WRITE_WORDS if words in str(exc)), None)


@contextmanager
def output_errors(output: Path | str) -> Iterator[None]:
    """Report a failure to write under `output` as one line (OutputWriteError), not a
    traceback from deep inside Arrow or SQLite; anything else passes through."""
    try:
        yield
    except Exception as exc:
        reason = _write_failure(exc, Path(output).resolve())
        if reason is None:
            raise
        raise OutputWriteError(f"cannot write {output}: {reason}") from None


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


def announce_output(path: Path | str) -> None:
    """Tell `supportloop run` (if it runs this stage) that the stage finished writing `path`.

    The runner fingerprints announced outputs to decide what `--resume` may reuse; the file
    named by $SUPPORTLOOP_OUTPUTS_FILE carries them across processes (accelerate ranks, the
    PPO venv). Outside a pipeline the variable is unset and nothing happens.
    """
    target = os.environ.get(OUTPUTS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"{Path(path).resolve()}\n")


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


def file_digests(root: Path, names: Iterable[str]) -> dict[str, str]:
    """Relative path -> sha256 of every file of the named entries (files or folders) of root."""
    digests = {}
    for name in sorted(set(names)):
        entry = root / name
        files = sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry]
        for file in files:
            if file.is_file():
                digests[file.relative_to(root).as_posix()] = file_fingerprint(file)
    return digests


def make_read_only(path: Path) -> None:
    """chmod a-w every file under path; folders stay writable, so `rm -r` still erases a run."""
    for file in path.rglob("*") if path.is_dir() else [path]:
        if file.is_file() and not file.is_symlink():
            file.chmod(file.stat().st_mode & ~0o222)


def _save(dataset: Dataset | DatasetDict, target: Path) -> None:
    """save_to_disk that `load_dataset` can read back: a DatasetDict keeps only splits with rows
    (`load_dataset` refuses an empty one), and one split whatever happens."""
    if isinstance(dataset, DatasetDict):
        kept = {name: split for name, split in dataset.items() if len(split)}
        dataset = DatasetDict(kept or dict(list(dataset.items())[:1]))
        # datasets 5.2 writes no data file for an empty split unless asked for one shard
        shards = {name: 1 for name, split in dataset.items() if len(split) == 0}
        dataset.save_to_disk(str(target), num_shards=shards or None)
    else:
        dataset.save_to_disk(str(target), num_shards=1 if len(dataset) == 0 else None)


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename staging to target; a previous run's artifact of that name is renamed away first."""
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
        os.rename(target, old / target.name)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, target)


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
        self.artifacts: set[str] = set()

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def cache_dir(self) -> Path:
        """Where this stage's caches of datasets it reads go (see supportloop.reading)."""
        return self.path / CACHE_DIR

    def record(self, *names: str) -> None:
        """Name files or folders the stage wrote itself, for lineage's digests and sealing."""
        self.artifacts.update(names)

    def save_dataset(self, name: str, dataset: Dataset | DatasetDict, card: str = "") -> Path:
        """Save once, whole and read-only: a temp folder beside, then renamed into place.

        `card` becomes the dataset's README.md. A re-run of the stage into the same directory
        replaces the artifact as a whole. Returns the directory for lineage.
        """
        target = self.path / name
        staging = self.path / f".{name}.{uuid.uuid4().hex}.tmp"
        staging.mkdir()  # not mkdtemp: its mode 0700 would end up on the artifact
        try:
            _save(dataset, staging)
            if card:
                (staging / "README.md").write_text(card, encoding="utf-8")
            make_read_only(staging)
            _move_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.record(name)
        return target

    def write_summary(self, summary: dict[str, Any]) -> Path:
        target = self.path / SUMMARY_FILE
        write_json_atomic(target, summary)
        self.record(SUMMARY_FILE)
        return target

    def write_lineage(
        self, inputs: dict[str, str], config: dict[str, Any], outputs: dict[str, str]
    ) -> Path:
        """`inputs`/`outputs` map a name to a fingerprint (see the *_fingerprint helpers).

        The stage is finished: its recorded artifacts are digested file by file into `files`
        and made read-only.
        """
        target = self.path / LINEAGE_FILE
        for name in self.artifacts:
            make_read_only(self.path / name)
        write_json_atomic(
            target,
            {
                "stage": self.stage,
                "pipeline_run": os.environ.get(PIPELINE_RUN_ENV),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "inputs": inputs,
                "outputs": outputs,
                "files": file_digests(self.path, self.artifacts),
                "config": config,
                "versions": package_versions(),
            },
        )
        make_read_only(target)
        announce_output(self.path)
        return target

    def reopen(self) -> None:
        """Make the files a finished run recorded writable again, for a stage resuming it."""
        if not (self.path / LINEAGE_FILE).is_file():
            return
        for relative in read_lineage(self.path).get("files", {}):
            file = self.path / relative
            if file.is_file():
                file.chmod(file.stat().st_mode | 0o200)


def read_lineage(run_dir: Path | str) -> dict[str, Any]:
    return json.loads((Path(run_dir) / LINEAGE_FILE).read_text(encoding="utf-8"))


def require_same_pipeline_run(path: Path | str, what: str) -> None:
    """Inside `supportloop run`, refuse an input that another pipeline run wrote.

    A step reads what the step before it wrote through shared paths (`runs/preferences/latest`,
    an ingest dir): were that written by an earlier or concurrent run, this run's decision would
    rest on another run's data. `path` is a stage's run directory or a dataset inside one; its
    lineage names the pipeline run that wrote it. Inputs written by a stage run alone, and
    stages run alone, are not checked: there the user names the input on purpose.
    """
    ours = os.environ.get(PIPELINE_RUN_ENV)
    path = Path(path)
    run_dir = next((d for d in (path, path.parent) if (d / LINEAGE_FILE).is_file()), None)
    if not ours or run_dir is None:
        return
    theirs = read_lineage(run_dir).get("pipeline_run")
    if theirs and theirs != ours:
        raise UserError(
            f"{what} {path} was written by pipeline run {theirs}, not by this run {ours}: "
            f"run the step that writes it in this run (--resume {ours}, or drop --only), "
            f"or continue run {theirs} with --run-id {theirs}"
        )


def verify_artifacts(run_dir: Path | str) -> list[str]:
    """How a run's artifacts differ from the digests its lineage recorded; empty: unchanged.

    Files added inside a recorded folder (a reader's `cache-*.arrow`) count as differences.
    """
    run_dir = Path(run_dir)
    recorded: dict[str, str] | None = read_lineage(run_dir).get("files")
    if recorded is None:
        return [f"{run_dir / LINEAGE_FILE}: no file digests (written before they were recorded)"]
    current = file_digests(run_dir, {relative.split("/")[0] for relative in recorded})
    problems = [f"{name}: missing" for name in recorded if name not in current]
    problems += [
        f"{name}: changed"
        for name in recorded
        if current.get(name, recorded[name]) != recorded[name]
    ]
    problems += [f"{name}: not written by the stage" for name in current if name not in recorded]
    return problems


def load_dataset_artifact(path: Path | str, cache_dir: Path | None = None) -> Dataset | DatasetDict:
    """Load a dataset a stage saved, with a one-line error when it is not there.

    Nothing is ever written into `path`: transforms of the result run in memory, or are
    cached under `cache_dir` (the reading stage's own) when given.
    """
    path = Path(path)
    if not (path / "dataset_info.json").is_file() and not (path / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"{path}: no saved dataset here (expected save_to_disk output)")
    return open_dataset(path, cache_dir)

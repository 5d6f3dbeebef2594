"""`supportloop ingest` into a disk that fills up or turns read-only, in a real process.

The fault is real (tests/helpers.py OutputFault: a small or read-only tmpfs as root, else a
file-size limit or chmod). Each failure must be one line with exit status 2, and the run dir
must hold nothing partial: either the previous run, whole and matching its lineage, or no
dataset at all, and no scratch or staging folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from supportloop.runs import LINEAGE_FILE, load_dataset_artifact, verify_artifacts
from tests.helpers import OutputFault, hidden_leftovers
from tests.ingest.helpers import transcript

REPO = Path(__file__).resolve().parents[2]


def _logs(path: Path, rows: int) -> Path:
    """`rows` distinct conversations of about 1 kB each."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(rows):
            text = f"Where is my parcel number {i}? " * 20
            handle.write(json.dumps(transcript(f"c{i}", f"u{i % 50}", text, hour=i % 48)) + "\n")
    return path


def _ingest(logs: Path, run: Path, fault: OutputFault) -> subprocess.CompletedProcess:
    argv = [
        str(Path(sys.executable).parent / "supportloop"),
        "ingest",
        "configs/ingest/demo.yaml",
        f"inputs.0.path={logs}",
        f"output_dir={run}",
        "num_proc=1",
        "--no-progress",
    ]
    return subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=fault.preexec,
    )


def _nothing_partial(run: Path, rows: int | None) -> None:
    """The previous run (of `rows` conversations) whole and sealed, or no dataset at all."""
    assert hidden_leftovers(run) == []
    if rows is None:
        assert not (run / "conversations").exists() and not (run / LINEAGE_FILE).exists()
        return
    assert verify_artifacts(run) == []
    assert len(load_dataset_artifact(run / "conversations")) == rows


@pytest.fixture
def small_disk(tmp_path: Path):
    fault = OutputFault(tmp_path / "disk", size=1100 << 10)
    yield fault
    fault.close()


@pytest.mark.slow
def test_disk_full_in_a_fresh_run_dir(tmp_path):
    fault = OutputFault(tmp_path / "disk", size=256 << 10)
    try:
        result = _ingest(_logs(tmp_path / "logs.jsonl", 400), fault.path / "run", fault)
        fault.assert_refused_in_one_line(result)
        _nothing_partial(fault.path / "run", rows=None)
    finally:
        fault.close()


@pytest.mark.slow
def test_disk_full_over_a_finished_run(small_disk, tmp_path):
    run = small_disk.path / "run"
    first = _ingest(_logs(tmp_path / "small.jsonl", 20), run, small_disk)
    assert first.returncode == 0, first.stderr[-3000:]
    result = _ingest(_logs(tmp_path / "large.jsonl", 400), run, small_disk)
    small_disk.assert_refused_in_one_line(result)
    _nothing_partial(run, rows=20)


@pytest.mark.slow
def test_read_only_over_a_finished_run(small_disk, tmp_path):
    run = small_disk.path / "run"
    first = _ingest(_logs(tmp_path / "small.jsonl", 20), run, small_disk)
    assert first.returncode == 0, first.stderr[-3000:]
    small_disk.freeze()
    result = _ingest(_logs(tmp_path / "other.jsonl", 30), run, small_disk)
    small_disk.assert_refused_in_one_line(result)
    _nothing_partial(run, rows=20)

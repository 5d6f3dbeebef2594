"""`supportloop argilla pull` into a disk that fills up or turns read-only, in a real process.

Against the session's real Argilla stack, with real responses; the fault is real
(tests/helpers.py OutputFault). Each failure must be one line with exit status 2, and the pull
dir must keep the previous pull whole (`responses` and `new_responses` as they were, the state
file unchanged) with no staging folder left.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from datasets import load_from_disk

from supportloop.feedback.argilla.pull import STATE_FILE
from supportloop.feedback.argilla.push import push
from supportloop.feedback.argilla.settings import SimulationConfig
from supportloop.feedback.demo.simulated_annotators import simulate
from tests.argilla.helpers import REPO, fixed_candidates, make_conversation
from tests.helpers import OutputFault, hidden_leftovers

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def _pull(config, pull_dir: Path, fault: OutputFault) -> subprocess.CompletedProcess:
    argv = [
        str(Path(sys.executable).parent / "supportloop"),
        "argilla",
        "pull",
        "configs/argilla/default.yaml",
        f"dataset={config.dataset}",
        f"credentials={config.credentials}",
        f"pull_dir={pull_dir}",
    ]
    return subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=fault.preexec,
    )


def _annotate(owner, annotator_connections, config, annotator: str) -> None:
    sim = SimulationConfig(annotators={annotator: 0.0}, seed=1)
    assert simulate(owner, annotator_connections, config, sim) == {annotator: 3}


def _snapshot(pull_dir: Path) -> dict[str, object]:
    """What a later stage reads from a pull dir: both datasets' rows and the state file."""
    return {
        "responses": load_from_disk(str(pull_dir / "responses")).to_list(),
        "new_responses": load_from_disk(str(pull_dir / "new_responses")).to_list(),
        STATE_FILE: (pull_dir / STATE_FILE).read_text(),
    }


@pytest.fixture
def annotated(owner, annotator_connections, dataset_config):
    """Three pushed records, each with one submitted response (annotator-1)."""
    convs = [make_conversation(i) for i in range(3)]
    push(owner, dataset_config, convs, fixed_candidates(["Sorry, no returns."]), batch_size=4)
    _annotate(owner, annotator_connections, dataset_config, "annotator-1")
    return dataset_config


@pytest.fixture
def fault(tmp_path: Path):
    fault = OutputFault(tmp_path / "disk", size=16 << 20)
    yield fault
    fault.close()


def test_disk_full_in_a_fresh_pull_dir(annotated, fault):
    pull_dir = fault.path / "pull"
    fault.fill(room=8 << 10)
    fault.assert_refused_in_one_line(_pull(annotated, pull_dir, fault))
    assert hidden_leftovers(pull_dir) == []
    assert not (pull_dir / "responses").exists() and not (pull_dir / STATE_FILE).exists()


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_fault_over_a_finished_pull(annotated, owner, annotator_connections, fault, how):
    pull_dir = fault.path / "pull"
    first = _pull(annotated, pull_dir, fault)
    assert first.returncode == 0, first.stderr[-3000:]
    before = _snapshot(pull_dir)
    assert len(before["responses"]) == 3
    _annotate(owner, annotator_connections, annotated, "annotator-2")  # the next pull has news
    fault.fill(room=8 << 10) if how == "full" else fault.freeze()
    fault.assert_refused_in_one_line(_pull(annotated, pull_dir, fault))
    assert hidden_leftovers(pull_dir) == []
    assert _snapshot(pull_dir) == before

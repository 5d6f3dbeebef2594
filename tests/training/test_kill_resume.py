"""A training run killed with SIGKILL resumes from its last whole checkpoint, on the same batches.

Three real `supportloop train` processes on the tiny model: an uninterrupted reference run, a
run SIGKILLed as soon as its second checkpoint folder appears (mid-save, usually), and that run
resumed with resume=true. The folder being written when the kill landed is half-written; when
the kill came after its save finished, one of its files is cut short by hand instead, as a
kill during the write of that file would leave it. Either way it must be skipped with a
message, and the unfinished run dir must be refused by the stages that read adapters.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from supportloop.errors import UserError
from supportloop.training.artifacts import checkpoint_problem
from tests.training.helpers import checkpointing_overrides, cli_argv, kill_when_created

STEPS = 30


def _train(overrides: list[str], *extra: str) -> subprocess.CompletedProcess:
    argv = cli_argv("train", "sft", *overrides, *extra)
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)


def _history(run: Path) -> dict[int, dict]:
    summary = json.loads((run / "training_summary.json").read_text())
    return {entry["step"]: entry for entry in summary["metrics"]["history"] if "loss" in entry}


def _break_newest(run: Path) -> tuple[Path, str]:
    """The newest checkpoint, left half-written by the kill or cut short here; how it broke."""
    newest = max(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if checkpoint_problem(newest) is not None:
        return newest, "killed while saving"
    weights = newest / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return newest, "file cut short"


def _refused(run: Path, tiny_model: Path, tmp_path: Path) -> None:
    """export (a new process) and the adapter loader of eval/generate refuse the run dir."""
    from supportloop.models.checkpoints import load_causal_lm

    export = subprocess.run(
        cli_argv("export", str(run), "-o", str(tmp_path / "merged")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = export.stdout + export.stderr
    assert export.returncode == 2, said
    assert "Traceback" not in said and f"adapter {run}" in " ".join(said.split())
    assert not (tmp_path / "merged").exists()
    with pytest.raises(UserError, match="adapter"):
        load_causal_lm(str(tiny_model), adapter=run)


@pytest.mark.slow
def test_sigkilled_training_resumes_from_last_whole_checkpoint(tiny_model, datasets_dir, tmp_path):
    reference = tmp_path / "reference"
    done = _train(checkpointing_overrides(tiny_model, datasets_dir["sft"], reference))
    assert done.returncode == 0, done.stderr[-3000:]

    run = tmp_path / "killed"
    overrides = checkpointing_overrides(tiny_model, datasets_dir["sft"], run)
    process = subprocess.Popen(
        cli_argv("train", "sft", *overrides),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_when_created(process, run / "checkpoint-8")
    assert process.returncode == -9
    broken, how = _break_newest(run)
    sound = [p for p in run.glob("checkpoint-*") if checkpoint_problem(p) is None]
    start = max(sound, key=lambda p: int(p.name.split("-")[-1]))
    assert int(start.name.split("-")[-1]) >= 4, (broken, how)
    _refused(run, tiny_model, tmp_path)

    resumed = _train(overrides, "resume=true")
    output = " ".join((resumed.stdout + resumed.stderr).split())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"skipping {broken.name}:" in output, (how, output[-2000:])
    assert f"resuming from {start}" in output
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["resumed_from"] == str(start) and summary["global_step"] == STEPS
    # The resumed process trained (and logged) only the steps after the checkpoint.
    step = int(start.name.split("-")[-1])
    assert resumed.stdout.count("{'loss': ") == STEPS - step
    # ...on the batches the uninterrupted run trained on at those steps: the same loss (to
    # 1e-6; batches differ by 1e-3 here) and, from the second resumed step on, the same tokens
    # read (SFT's cumulative num_tokens restarts at 0 on resume, a TRL 1.16 counter).
    ours, theirs = _history(run), _history(reference)
    assert sorted(ours) == list(range(1, STEPS + 1))
    for n in range(step + 1, STEPS + 1):
        assert ours[n]["loss"] == pytest.approx(theirs[n]["loss"], abs=1e-6), n
    for n in range(step + 2, STEPS + 1):
        read = ours[n]["num_tokens"] - ours[n - 1]["num_tokens"]
        assert read == theirs[n]["num_tokens"] - theirs[n - 1]["num_tokens"], n


@pytest.mark.slow
def test_a_finished_adapter_cut_short_is_refused(tiny_model, datasets_dir, tmp_path):
    """A finished run whose adapter weights lost their tail (a kill during a resumed run's
    final save) is refused by export and the adapter loader, not merged or served."""
    run = tmp_path / "done"
    overrides = checkpointing_overrides(tiny_model, datasets_dir["sft"], run)
    done = _train([*overrides, "trainer.max_steps=2", "trainer.save_strategy='no'"])
    assert done.returncode == 0, done.stderr[-3000:]
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    weights = cut / "adapter_model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-100])
    _refused(cut, tiny_model, tmp_path)

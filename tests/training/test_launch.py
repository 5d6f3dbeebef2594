"""Launch paths that leave this process: SIGKILL + resume, 2-process CPU DDP, PPO's own env.

Each runs the real `supportloop` command line in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supportloop.training.artifacts import CHECKPOINT_MARKER
from tests.training.helpers import REPO, quick_overrides

SUPPORTLOOP = [str(Path(sys.executable).parent / "supportloop")]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the CLI in its own process group; on timeout kill the group (launcher + ranks)."""
    process = subprocess.Popen(
        [*SUPPORTLOOP, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _kill_escaped_ranks(args)
        stdout, stderr = process.communicate(timeout=60)
        pytest.fail(f"timed out after {timeout} s:\n{stdout[-3000:]}\n{stderr[-6000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill_escaped_ranks(args: tuple[str, ...]) -> None:
    """torchrun starts ranks outside the launcher's process group: find them by their argv
    (the run's unique output_dir) so a hung rank cannot keep the pipes, and the suite, open."""
    import psutil

    marker = next((a for a in args if a.startswith("output_dir=")), None)
    if marker is None:
        return
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def _summary(run: Path) -> dict:
    return json.loads((run / "training_summary.json").read_text())


@pytest.mark.slow
def test_sigkill_mid_training_then_resume(tiny_model, datasets_dir, tmp_path):
    run = tmp_path / "dpo-resume"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], run, steps=400)
    overrides = [o for o in overrides if not o.startswith("trainer.save_strategy")]
    overrides += ["trainer.max_length=64", "trainer.save_steps=3", "trainer.save_total_limit=2"]
    process = subprocess.Popen(
        [*SUPPORTLOOP, "train", "dpo", *overrides],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    try:
        while not (run / "checkpoint-6" / CHECKPOINT_MARKER).is_file():  # saved whole
            assert process.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint-6 within 240 s"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (run / "training_summary.json").exists()
    killed_at = max(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert 6 <= killed_at < 400

    resumed = _cli("train", "dpo", *overrides, "resume=true", f"trainer.max_steps={killed_at + 2}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = _summary(run)
    assert summary["global_step"] == killed_at + 2
    assert Path(summary["resumed_from"]).name.startswith("checkpoint-")
    assert int(Path(summary["resumed_from"]).name.split("-")[1]) >= 6
    steps = [e["step"] for e in summary["metrics"]["history"] if "loss" in e]
    assert steps[0] == 1 and steps[-1] == killed_at + 2  # history before the kill carried over
    assert (run / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_two_process_cpu_ddp(tiny_model, datasets_dir, tmp_path):
    """accelerate cpu_ddp: two gloo ranks train, hold identical LoRA weights, one saves."""
    run = tmp_path / "dpo-ddp"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], run, steps=3)
    # A rank that waits on a dead peer fails after ddp_timeout instead of hanging the suite.
    overrides += ["trainer.max_length=64", "trainer.learning_rate=1e-2", "trainer.ddp_timeout=120"]
    result = _cli("train", "dpo", *overrides, "--accelerate-config", "cpu_ddp")
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "accelerate.commands.launch" in output
    assert output.count(f"adapter saved to {run}") == 1

    ranks = _summary(run)["ranks"]
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    assert {r["world_size"] for r in ranks} == {2}
    assert {r["backend"] for r in ranks} == {"gloo"}
    assert len({r["pid"] for r in ranks}) == 2
    assert {r["global_step"] for r in ranks} == {3}
    assert len({r["trainable_sha256"] for r in ranks}) == 1  # gradients were all-reduced
    assert len(list(run.glob("adapter_model*.safetensors"))) == 1
    # both ranks tokenized through the run's own cache (gone now), none beside the data
    assert not (run / "cache").exists() and not list(datasets_dir["pairs"].rglob("cache-*"))


def test_cpu_ddp_refuses_bad_data_before_spawning(tiny_model, datasets_dir, tmp_path):
    """One `error:` line and exit 2 from the CLI, not one per rank under a launcher traceback."""
    overrides = quick_overrides(tiny_model, datasets_dir["kto"], tmp_path / "run", steps=3)
    result = _cli("train", "dpo", *overrides, "--accelerate-config", "cpu_ddp", timeout=120)
    assert result.returncode == 2
    assert "accelerate.commands.launch" not in result.stdout  # no process was started
    assert result.stderr.count("\n") == 1 and "dpo needs a" in result.stderr, result.stderr


@pytest.mark.slow
def test_refusing_ranks_leave_without_hanging(tiny_model, datasets_dir, tmp_path):
    """`accelerate launch` of the launch module, bad data: each rank says one line and leaves."""
    from supportloop.training.launch import accelerate_config_path, free_port

    run = tmp_path / "dpo-ddp-bad"
    overrides = quick_overrides(tiny_model, datasets_dir["kto"], run, steps=3)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    launcher += [str(accelerate_config_path("cpu_ddp")), "--main_process_port", str(free_port())]
    result = subprocess.run(
        [*launcher, "-m", "supportloop.training.launch", "dpo", *overrides],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    assert result.returncode != 0
    refusals = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(refusals) == 2, result.stderr[-3000:]  # one per rank: neither hung
    assert all("dpo needs a" in line for line in refusals), refusals
    assert not (run / "training_summary.json").exists()


@pytest.mark.slow
def test_ppo_runs_in_its_own_trl_environment(tiny_model, datasets_dir, reward_run, tmp_path):
    """`supportloop train ppo` runs TRL 1.12's PPO in .venv-ppo with the same outputs."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path / "ppo"
    result = _cli(
        "train",
        "configs/train/ppo.yaml",
        f"model.name={tiny_model}",
        f"data.path={datasets_dir['pairs']}",
        f"reward.model={reward_run}",
        f"output_dir={run}",
        "trainer.total_episodes=4",
        "trainer.per_device_train_batch_size=2",
        "trainer.response_length=6",
        "trainer.num_ppo_epochs=1",
        "trainer.learning_rate=1e-2",
        "trainer.report_to=[]",
        "trainer.save_strategy=no",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        ".venv-ppo/bin/python -m supportloop.training.ppo_worker" in result.stdout + result.stderr
    )
    summary = _summary(run)
    assert summary["versions"]["trl"] == "1.12.0" and summary["algorithm"] == "ppo"
    assert summary["global_step"] == 2
    assert summary["pad_token"] != "<|im_end|>"
    assert "objective/scores" in summary["metrics"]["final"]
    assert json.loads((run / "lineage.json").read_text())["inputs"]["reward_model"] == str(
        reward_run
    )

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(run))
    batch = AutoTokenizer.from_pretrained(run)(["Where is my order?"], return_tensors="pt")
    with torch.inference_mode():
        tuned = model(**batch).logits
        with model.disable_adapter():
            plain = model(**batch).logits
    assert (tuned - plain).abs().max().item() > 1e-6

"""Threads and precision of a training run, chosen from the machine (supportloop.training.hardware).

The choice is a pure function of the CPU flags, usable cores, load and settings, tested here
without timing anything; one real tiny run checks that training uses what was chosen.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from supportloop.cpu import parse_cpu_flags
from supportloop.training import hardware
from supportloop.training.algorithms import AlgorithmSpec
from supportloop.training.hardware import Precision, Threads, choose_precision, choose_threads
from supportloop.training.launch import LaunchError, accelerate_processes, cpu_threads, launch
from supportloop.training.trl_options import device_defaults
from tests.training.helpers import quick_overrides

SAPPHIRE = frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16"})
ICELAKE = frozenset({"avx2", "avx512f", "avx512_vnni"})
AVX2 = frozenset({"avx2", "fma"})


@pytest.mark.parametrize(
    ("cores", "load", "processes", "threads"),
    [
        (2, 0.0, 1, 2),  # the user's machine: every core
        (2, 0.4, 1, 2),  # a little background work leaves both cores
        (2, 1.2, 1, 1),  # one core taken by other work
        (2, 6.0, 1, 1),  # very busy: still one thread, never zero
        (16, 3.0, 1, 13),
        (8, 0.3, 2, 4),  # accelerate with 2 processes: cores // processes each
        (2, 0.0, 2, 1),
        (2, 0.0, 4, 1),
    ],
)
def test_threads_follow_free_cores_and_processes(cores, load, processes, threads):
    chosen = choose_threads(cores, load, processes)
    assert chosen.count == threads
    assert f"load of other work {load:.1f} on {cores} usable cores" in chosen.why


def test_omp_num_threads_and_the_recipe_win_over_the_machine():
    assert choose_threads(16, 0.0, omp_env="1") == Threads(1, "OMP_NUM_THREADS=1")
    assert choose_threads(2, 5.0, 2, omp_env="2").count == 2  # per process, as given
    recipe = choose_threads(16, 0.0, omp_env="1", requested=6)
    assert recipe == Threads(6, "threads=6 in the recipe")


@pytest.mark.parametrize("value", ["0", "many", "-3", ""])
def test_a_bad_omp_num_threads_is_refused(value):
    with pytest.raises(ValueError, match="OMP_NUM_THREADS"):
        choose_threads(2, 0.0, omp_env=value)


@pytest.mark.parametrize(
    ("flags", "cuda", "cuda_bf16", "bf16"),
    [
        (SAPPHIRE, False, False, True),
        (frozenset({"avx2", "avx512_bf16"}), False, False, True),
        (frozenset({"amx_bf16"}), False, False, True),
        (ICELAKE, False, False, False),  # AVX-512 without bf16 instructions: emulated
        (AVX2, False, False, False),
        (frozenset(), False, False, False),  # no flags known (non-x86): fp32
        (AVX2, True, True, True),  # the GPU decides, not the CPU
        (SAPPHIRE, True, False, False),
    ],
)
def test_bf16_only_where_the_device_computes_it(flags, cuda, cuda_bf16, bf16):
    chosen = choose_precision(flags, cuda, cuda_bf16)
    assert chosen.bf16 is bf16
    if not cuda and bf16:
        assert "natively" in chosen.why


def test_the_recipe_wins_over_the_machine_for_bf16():
    off = choose_precision(SAPPHIRE, False, False, requested=False)
    assert off == Precision(False, "trainer.bf16=false in the recipe")
    assert choose_precision(AVX2, False, False, requested=True).bf16 is True
    assert choose_precision(SAPPHIRE, True, True, fp16=True).bf16 is False


def test_device_defaults_apply_the_choice(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: SAPPHIRE)
    assert device_defaults({}, cuda=False) == {"use_cpu": True, "bf16": True}
    assert device_defaults({"bf16": False}, cuda=False)["bf16"] is False
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2)
    assert device_defaults({}, cuda=False)["bf16"] is False
    assert device_defaults({"bf16": True}, cuda=False)["bf16"] is True


def test_machine_facts_are_read_from_linux_files():
    cpuinfo = "processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx2 avx512_bf16\n\n"
    assert parse_cpu_flags(cpuinfo) == frozenset({"fpu", "avx2", "avx512_bf16"})
    assert parse_cpu_flags("Features: neon bf16\n") == frozenset()
    assert hardware.parse_cgroup_cpus("max 100000\n") is None
    assert hardware.parse_cgroup_cpus("150000 100000\n") == 1  # 1.5 CPUs: one whole core
    assert hardware.parse_cgroup_cpus("400000 100000") == 4
    assert hardware.parse_cgroup_cpus("50000 100000") == 1
    stat = (
        "cpu  300 0 30 600 10 0 0 60 0 0\n"
        "cpu0 100 0 10 500 10 0 0 0 0 0\n"
        "cpu1 200 0 20 100 0 0 0 60 0 0\n"
        "intr 12345\n"
    )
    assert hardware.busy_jiffies(stat, {1}) == (280, 380)  # steal: another guest holds it
    assert hardware.busy_jiffies(stat, {0, 1}) == (390, 1000)


def test_own_work_is_not_read_as_a_busy_machine():
    # A pipeline that kept one core busy for ten minutes is ~1.0 of the 1-minute load ...
    assert hardware.own_load(cpu_seconds=600, age_seconds=600) == pytest.approx(1.0, abs=1e-3)
    # ... a command that has just started (5 s of imports) hardly shows yet.
    assert hardware.own_load(cpu_seconds=5, age_seconds=5) == pytest.approx(0.08, abs=0.01)
    assert hardware.own_load(cpu_seconds=0, age_seconds=0) == 0.0


def _machine(monkeypatch, cores: int, load: float, flags: frozenset[str]) -> None:
    monkeypatch.setattr(hardware, "usable_cores", lambda: cores)
    monkeypatch.setattr(hardware, "other_load", lambda: load)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)


def test_cpu_threads_exports_the_choice_and_restores_after(monkeypatch):
    _machine(monkeypatch, cores=2, load=0.1, flags=AVX2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    with cpu_threads() as threads:
        assert threads.count == 2 and torch.get_num_threads() == 2
        assert os.environ["OMP_NUM_THREADS"] == "2"  # spawned ranks / PPO worker follow it
    assert torch.get_num_threads() == before and "OMP_NUM_THREADS" not in os.environ

    with cpu_threads(processes=2) as threads:  # accelerate with two ranks on two cores
        assert os.environ["OMP_NUM_THREADS"] == "1"

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with cpu_threads() as threads:
        assert threads == Threads(1, "OMP_NUM_THREADS=1") and torch.get_num_threads() == 1
    with cpu_threads(requested=2) as threads:
        assert threads.count == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    assert os.environ["OMP_NUM_THREADS"] == "1" and torch.get_num_threads() == before


def test_a_bad_omp_num_threads_is_a_user_error(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(LaunchError, match="OMP_NUM_THREADS"), cpu_threads():
        pass


def test_accelerate_configs_name_their_process_count():
    assert accelerate_processes("cpu_ddp") == 2


def _recording_trainer(seen: list[tuple[int, bool]]):
    """A DPOTrainer noting, per training step, the torch threads and whether the first LoRA
    layer computed in bf16 (accelerate applies autocast around the forward; frozen layers hand
    back fp32, see supportloop.training.mixed_precision)."""
    import trl

    def note(module, inputs, output):
        seen.append((torch.get_num_threads(), output.dtype == torch.bfloat16))

    class Recording(trl.DPOTrainer):
        def training_step(self, model, *args, **kwargs):
            linear = next(
                m
                for m in model.modules()
                if isinstance(m, torch.nn.Linear) and m.weight.requires_grad
            )
            handle = linear.register_forward_hook(note)
            try:
                return super().training_step(model, *args, **kwargs)
            finally:
                handle.remove()

    return Recording


@pytest.mark.parametrize(
    ("flags", "settings", "threads", "bf16"),
    [
        (SAPPHIRE, [], 2, True),  # the machine's choice
        (SAPPHIRE, ["threads=1", "trainer.bf16=false"], 1, False),  # the recipe wins
        (AVX2, [], 2, False),
    ],
)
def test_a_real_run_trains_with_what_was_chosen(
    monkeypatch, tiny_model, datasets_dir, tmp_path, flags, settings, threads, bf16
):
    _machine(monkeypatch, cores=2, load=0.0, flags=flags)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    seen: list[tuple[int, bool]] = []
    monkeypatch.setattr(AlgorithmSpec, "trainer_class", lambda spec: _recording_trainer(seen))
    run = tmp_path / "dpo"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], run, steps=2)
    overrides += ["trainer.max_length=64", "data.eval_split=null", *settings]
    said: list[str] = []
    assert launch("dpo", overrides, say=said.append) == 0

    assert seen and set(seen) == {(threads, bf16)}
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["torch_threads"] == threads and summary["bf16"] is bf16
    start = next(line for line in said if line.startswith("dpo: "))
    assert f"{threads} CPU thread(s)" in start and "change: threads=N" in start
    assert ("bf16 autocast" if bf16 else "fp32") in start
    assert f"change: trainer.bf16={str(not bf16).lower()}" in start

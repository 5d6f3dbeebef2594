"""CPU threads and bf16 for a training run, picked from the machine and its load, not by habit.

bf16 autocast pays only where the hardware computes bf16 (avx512_bf16 or AMX on x86, CUDA with
bf16 support); elsewhere it is emulated and slower than fp32. Torch's OpenMP threads
spin-wait on each other, so one thread on a core that other work holds stalls them all: cores
the load average shows taken by other work are left to it. Figures: docs/recipes.md, "CPU
threads and precision" (benchmarks/train_dpo.py).

Precedence: the recipe (`threads`, `trainer.bf16`), then OMP_NUM_THREADS, then the machine.
Kept free of pydantic and TRL: the PPO worker (TRL 1.12 environment) imports it too.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportloop.cpu import cpu_flags, native_bf16_flags

CHANGE_THREADS = "threads=N or OMP_NUM_THREADS=N"


@dataclass(frozen=True)
class Threads:
    """Torch CPU threads per process, and why."""

    count: int
    why: str


@dataclass(frozen=True)
class Precision:
    """Whether the trainer runs under bf16 autocast, and why."""

    bf16: bool
    why: str


def choose_threads(
    cores: int,
    other_load: float,
    processes: int = 1,
    omp_env: str | None = None,
    requested: int | None = None,
) -> Threads:
    """Threads per process: the recipe's, else OMP_NUM_THREADS, else the free cores / processes.

    A core counts as free when the 1-minute load of other work leaves at least half of it.
    """
    if requested is not None:
        return Threads(requested, f"threads={requested} in the recipe")
    if omp_env is not None:
        if not omp_env.isdigit() or int(omp_env) < 1:
            raise ValueError(f"OMP_NUM_THREADS={omp_env!r} is not a positive whole number")
        return Threads(int(omp_env), f"OMP_NUM_THREADS={omp_env}")
    free = min(cores, max(1, math.floor(cores - other_load + 0.5)))
    why = f"load of other work {other_load:.1f} on {cores} usable cores"
    if processes > 1:
        why += f", {free} free cores shared by {processes} processes"
    return Threads(max(1, free // processes), why)


def choose_precision(
    cpu_flags: frozenset[str],
    cuda: bool,
    cuda_bf16: bool,
    requested: bool | None = None,
    fp16: bool = False,
) -> Precision:
    """bf16 autocast where the device computes bf16 natively, unless the recipe says."""
    if requested is not None:
        return Precision(requested, f"trainer.bf16={str(requested).lower()} in the recipe")
    if fp16:
        return Precision(False, "trainer.fp16=true in the recipe")
    if cuda:
        return Precision(cuda_bf16, f"the GPU {'computes' if cuda_bf16 else 'lacks'} bf16")
    native = native_bf16_flags(cpu_flags)
    if native:
        return Precision(True, f"the CPU computes bf16 natively: {', '.join(native)}")
    return Precision(False, "the CPU has no native bf16 (no avx512_bf16/amx_bf16)")


def parse_cgroup_cpus(cpu_max: str) -> int | None:
    """Whole CPUs a cgroup v2 `cpu.max` quota allows (`150000 100000` -> 1); None: no quota."""
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return max(1, int(quota) // int(period))


def own_load(cpu_seconds: float, age_seconds: float) -> float:
    """This process's share of the 1-minute load average, assuming it ran at an even pace.

    A pipeline that just generated replies on every core would otherwise read its own work
    as a busy machine and train on one thread.
    """
    if age_seconds <= 0:
        return 0.0
    return cpu_seconds / age_seconds * (1 - math.exp(-age_seconds / 60))


def usable_cores() -> int:
    """Cores this process may run on: its affinity, capped by a container's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota_file = Path("/sys/fs/cgroup/cpu.max")
    quota = parse_cgroup_cpus(quota_file.read_text()) if quota_file.is_file() else None
    return min(cores or 1, quota or cores or 1)


def busy_jiffies(stat: str, cpus: set[int]) -> tuple[int, int]:
    """(busy, total) CPU time of the given CPUs in a /proc/stat text; steal counts as busy."""
    busy = total = 0
    for line in stat.splitlines():
        name, *fields = line.split() or [""]
        if name[3:].isdigit() and name.startswith("cpu") and int(name[3:]) in cpus:
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[:8])
            total += user + nice + system + idle + iowait + irq + softirq + steal
            busy += user + nice + system + irq + softirq + steal
    return busy, total


def busy_cores_now(cpus: set[int], window: float = 0.5) -> float | None:
    """Cores of `cpus` that other processes keep busy right now (None: no /proc/stat)."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return None
    own_before, (busy_before, total_before) = _own_cpu(), busy_jiffies(stat.read_text(), cpus)
    time.sleep(window)
    busy, total = busy_jiffies(stat.read_text(), cpus)
    if total <= total_before:
        return None
    share = (busy - busy_before) / (total - total_before)
    return max(0.0, share * len(cpus) - (_own_cpu() - own_before) / window)


def _own_cpu(children: bool = False) -> float:
    times = os.times()
    own = times.user + times.system
    return own + times.children_user + times.children_system if children else own


def other_load() -> float:
    """The load other work puts on this machine: the 1-minute load average less this process's
    own part, or what the usable CPUs show busy right now if that is less.

    The load average lags a minute (a command that has just ended still counts); a moment's
    snapshot misses work that pauses: only load seen by both is taken as lasting.
    """
    import psutil

    age = time.time() - psutil.Process().create_time()
    average = max(0.0, os.getloadavg()[0] - own_load(_own_cpu(children=True), age))
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    now = busy_cores_now(cpus) if cpus else None
    return average if now is None else min(average, now)


def detect_threads(requested: int | None = None, processes: int = 1) -> Threads:
    return choose_threads(
        usable_cores(),
        other_load(),
        processes,
        os.environ.get("OMP_NUM_THREADS") or None,
        requested,
    )


def detect_precision(trainer: dict[str, Any]) -> Precision:
    """The precision for a recipe's `trainer:` section on this machine."""
    import torch

    cuda = torch.cuda.is_available() and not trainer.get("use_cpu")
    return choose_precision(
        cpu_flags(),
        cuda,
        cuda and torch.cuda.is_bf16_supported(),
        trainer.get("bf16"),
        bool(trainer.get("fp16")),
    )


def describe(threads: Threads, precision: Precision) -> str:
    """The start line's account of the machine settings, with how to change each."""
    dtype = "bf16 autocast" if precision.bf16 else "fp32"
    return (
        f"{threads.count} CPU thread(s) ({threads.why}; change: {CHANGE_THREADS}), "
        f"{dtype} ({precision.why}; change: trainer.bf16={str(not precision.bf16).lower()})"
    )


def inherited_threads() -> Threads:
    """The threads this process was started with (a rank of `accelerate launch`, a test)."""
    import torch

    env = os.environ.get("OMP_NUM_THREADS")
    why = f"OMP_NUM_THREADS={env} from the launcher" if env else "torch's default"
    return Threads(torch.get_num_threads(), why)

"""The CPU's instruction-set flags, read once: training and generation pick their precision
from them, the repeat-contact encoder its int8 quantisation."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def parse_cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The x86 `flags` of /proc/cpuinfo (first CPU); empty where there are none."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    path = Path("/proc/cpuinfo")
    return parse_cpu_flags(path.read_text()) if path.is_file() else frozenset()


# bf16 pays on a CPU only where it is computed natively; elsewhere it is emulated, slower than fp32.
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16_flags(flags: frozenset[str]) -> list[str]:
    """The flags that make this CPU compute bf16 natively (empty: it would be emulated)."""
    return [flag for flag in NATIVE_BF16_CPU_FLAGS if flag in flags]

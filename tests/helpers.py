"""Plain helpers shared by tests in any folder (fixtures live in tests/conftest.py).

Nothing heavy is imported at module level: tests/conftest.py imports this module before it
sets the offline variables that transformers and huggingface_hub read on import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings


def save_tiny_llama(
    target: Path,
    padding_side: str = "left",
    model_class: str = "LlamaForCausalLM",
    **config_overrides: Any,
) -> Path:
    """Save a random 2-layer Llama (hidden 32) with SmolLM2's real tokenizer and chat template.

    Fast enough for real generate/train calls; its outputs are noise, which is what tests of
    plumbing need (the real 135M model is used where quality matters).
    """
    import torch
    import transformers
    from transformers import LlamaConfig

    from supportloop.models.checkpoints import load_tokenizer

    tokenizer = load_tokenizer("smollm2-135m-instruct", padding_side=padding_side)
    settings = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **config_overrides,
    }
    torch.manual_seed(0)
    getattr(transformers, model_class)(LlamaConfig(**settings)).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


# Hypothesis settings of the fuzz tests: reproducible in CI, nothing written into the repository.
FUZZ = settings(
    database=None,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class OutputFault:
    """A directory whose writes fail for real, for the child process that writes into it.

    As root a tmpfs is mounted there: `size` bytes fill up (ENOSPC), and `freeze()` remounts
    it read-only (EROFS; chmod alone cannot stop root). Without the right to mount, the
    child's RLIMIT_FSIZE stops any file past `size` bytes (EFBIG, SIGXFSZ ignored: pass
    `preexec` to subprocess), and `freeze()` takes the write bit off every folder.
    """

    def __init__(self, root: Path, size: int = 64 << 20) -> None:
        import os
        import subprocess

        self.path = root / "out"
        self.path.mkdir(parents=True)
        self.size = size
        argv = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.path)]
        self.mounted = os.geteuid() == 0 and subprocess.run(argv, check=False).returncode == 0
        self.frozen = False

    def preexec(self) -> None:
        """In the child before exec: the file-size limit that stands in for a full disk."""
        import resource
        import signal

        if not self.mounted:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, self.size))

    def fill(self, room: int) -> None:
        """Leave only `room` bytes to write: a filler file takes the rest of the tmpfs (or,
        without it, the file-size limit drops to `room`)."""
        import os

        if not self.mounted:
            self.size = room
            return
        stats = os.statvfs(self.path)
        free = stats.f_bavail * stats.f_frsize
        with (self.path / "filler").open("wb") as handle:
            handle.truncate(0)
            handle.write(b"\0" * max(free - room, 0))

    def freeze(self) -> None:
        """Make everything under the directory read-only from now on."""
        import subprocess

        if self.mounted:
            argv = ["mount", "-o", "remount,ro", str(self.path)]
            subprocess.run(argv, check=True)
        else:
            for folder in [self.path, *(p for p in self.path.rglob("*") if p.is_dir())]:
                folder.chmod(0o555)
        self.frozen = True

    @property
    def errors(self) -> tuple[str, ...]:
        """The one-line reasons the fault may surface as."""
        if self.frozen:
            return ("Read-only file system", "Permission denied")
        return ("No space left on device", "File too large")

    def assert_refused_in_one_line(self, result: Any) -> None:
        """The writing command (a CompletedProcess) stopped with exit 2 and exactly one
        `error: cannot write ...` line naming this fault, and no traceback."""
        said = (result.stdout + result.stderr).strip()
        assert result.returncode == 2, said[-3000:]
        errors = [line for line in said.splitlines() if line.startswith("error:")]
        assert "Traceback" not in said and len(errors) == 1, said[-3000:]
        assert errors[0].startswith("error: cannot write") and errors[0].endswith(self.errors), said

    def close(self) -> None:
        import subprocess

        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)
        else:
            for folder in [self.path, *(p for p in self.path.rglob("*") if p.is_dir())]:
                folder.chmod(0o755)


def hidden_leftovers(folder: Path) -> list[str]:
    """Staging and scratch entries (dot-names) a stage left in its output folder."""
    return sorted(p.name for p in folder.rglob(".*")) if folder.is_dir() else []

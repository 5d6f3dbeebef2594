"""Session-wide test settings: nothing reaches a hub, W&B writes offline runs only.

How tests share code: fixtures live in conftest.py; plain helpers and constants in helpers
modules, imported by package path (`from tests.eval.helpers import ACME_SUITE`). A conftest is
never imported, nothing is put on sys.path, and no fixture exists only to hand a plain function
or constant to a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import save_tiny_llama

# Must be set before transformers / huggingface_hub / wandb / tldextract are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generator whose wide random weights give varied tokens, not one repeated."""
    target = tmp_path_factory.mktemp("tiny-llama")
    return save_tiny_llama(target, max_position_embeddings=2048, initializer_range=0.5)


@pytest.fixture(scope="session")
def fresh_cli(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., subprocess.CompletedProcess]:
    """Run `supportloop ARGS` in a new process as a user on a fresh machine after setup would.

    The child gets no WANDB_* variables (this process sets WANDB_MODE=offline), and a HOME
    without netrc or W&B settings; only the models cache, provisioned by setup, is shared.
    Hub downloads stay off (HF_HUB_OFFLINE), as everywhere in the tests.
    """
    from supportloop.cache import cache_dir

    home = tmp_path_factory.mktemp("fresh-home")
    env = {name: value for name, value in os.environ.items() if not name.startswith("WANDB_")}
    env.update(HOME=str(home), SUPPORTLOOP_CACHE=str(cache_dir()))
    supportloop = str(Path(sys.executable).parent / "supportloop")

    def run(*args: str, timeout: float = 600, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [supportloop, *args],
            env={**env, **extra_env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=Path(__file__).resolve().parents[1],
        )

    return run

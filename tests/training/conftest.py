"""Fixtures for the training tests: the tiny model, the toy preference data sets, a reward run.

The model is a random 2-layer Llama with SmolLM2's tokenizer (so chat templates are real) and
trains in milliseconds per step; the data (tests/training/helpers.py) is a learnable toy
preference: polite replies are chosen, rude ones rejected, in the TRL conversational formats of
the preferences stage.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import save_tiny_llama
from tests.training.helpers import (
    kto_rows,
    pair_rows,
    quick_overrides,
    run_recipe,
    save_splits,
    sft_rows,
)


@pytest.fixture(scope="session")
def datasets_dir(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("prefs")
    return {
        "pairs": save_splits(pair_rows, root / "pairs"),
        "kto": save_splits(kto_rows, root / "kto"),
        "sft": save_splits(sft_rows, root / "sft"),
    }


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random 2-layer Llama (hidden 32) saved with SmolLM2's tokenizer and chat template."""
    path = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    return save_tiny_llama(path, padding_side="right")


@pytest.fixture(scope="session")
def reward_run(tiny_model, datasets_dir, tmp_path_factory) -> Path:
    """A reward adapter trained enough on the toy pairs to prefer polite replies."""
    output = tmp_path_factory.mktemp("reward") / "run"
    run_recipe(
        "reward",
        [
            *quick_overrides(tiny_model, datasets_dir["pairs"], output, steps=24),
            "trainer.max_length=64",
            "trainer.learning_rate=3e-3",
            "trainer.per_device_train_batch_size=4",
            "trainer.warmup_steps=0",
        ],
    )
    return output

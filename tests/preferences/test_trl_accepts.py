"""The saved datasets go straight into TRL's trainers: `load_from_disk`, then train one step.

Built from the hand-counted fixture by the real stage; the tiny random Llama (with SmolLM2's
tokenizer and chat template) is the session fixture `tiny_llama_dir` from tests/conftest.py.
"""

from __future__ import annotations

import math

import pytest
from datasets import load_from_disk

from supportloop.config import validate_config
from supportloop.feedback.preferences import PreferencesConfig, build_preferences


@pytest.fixture(scope="module")
def run_dir(saved_inputs, tmp_path_factory):
    inputs = {name: str(path) for name, path in saved_inputs.items()}
    output_dir = str(tmp_path_factory.mktemp("prefs") / "run")
    config = validate_config(PreferencesConfig, {"inputs": inputs, "output_dir": output_dir}, "t")
    return build_preferences(config).run_dir


def _args(config_cls, tmp_path, **extra):
    return config_cls(
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        max_length=64,
        gradient_checkpointing=False,
        **extra,
    )


def _train_one_step(trainer) -> None:
    trainer.train()
    assert trainer.state.global_step == 1
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert losses and all(math.isfinite(loss) for loss in losses)


@pytest.mark.slow
def test_dpo_trainer_takes_pairs(run_dir, tiny_llama_dir, tmp_path):
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    train = load_from_disk(str(run_dir / "pairs"))["train"]
    assert train.num_rows >= 2
    trainer = DPOTrainer(
        model=str(tiny_llama_dir),
        args=_args(DPOConfig, tmp_path),
        train_dataset=train,
        processing_class=AutoTokenizer.from_pretrained(tiny_llama_dir),
    )
    _train_one_step(trainer)


@pytest.mark.slow
def test_reward_trainer_takes_pairs(run_dir, tiny_llama_dir, tmp_path):
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    train = load_from_disk(str(run_dir / "pairs"))["train"]
    trainer = RewardTrainer(
        model=str(tiny_llama_dir),
        args=_args(RewardConfig, tmp_path),
        train_dataset=train,
        processing_class=AutoTokenizer.from_pretrained(tiny_llama_dir),
    )
    _train_one_step(trainer)


@pytest.mark.slow
def test_kto_trainer_takes_kto_rows(run_dir, tiny_llama_dir, tmp_path):
    from transformers import AutoTokenizer
    from trl import KTOConfig, KTOTrainer

    train = load_from_disk(str(run_dir / "kto"))["train"]
    assert set(train["label"]) == {True, False}
    trainer = KTOTrainer(
        model=str(tiny_llama_dir),
        args=_args(KTOConfig, tmp_path),
        train_dataset=train,
        processing_class=AutoTokenizer.from_pretrained(tiny_llama_dir),
    )
    _train_one_step(trainer)

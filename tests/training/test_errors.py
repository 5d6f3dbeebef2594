"""Mistakes a user makes with recipes end in one clear line (exit 2), before any training."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supportloop.cli import app


def _train(*args: str):
    return CliRunner().invoke(app, ["train", *args], catch_exceptions=False)


def _one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert text.startswith("error:"), text
    for fragment in fragments:
        assert fragment in text, text
    assert "Traceback" not in result.output
    return text


def test_unknown_trainer_key_names_the_key_and_the_trl_class(datasets_dir):
    result = _train("dpo", f"data.path={datasets_dir['pairs']}", "trainer.bta=0.2")
    _one_line_error(result, "trainer.bta", "DPOConfig")


def test_unknown_recipe_key(datasets_dir):
    result = _train("kto", f"data.path={datasets_dir['kto']}", "peft.rank=8")
    _one_line_error(result, "unknown key peft.rank")


def test_output_dir_is_owned_by_the_recipe(datasets_dir):
    result = _train("sft", f"data.path={datasets_dir['sft']}", "trainer.output_dir=/tmp/x")
    _one_line_error(result, "trainer.output_dir", "output_dir=... at the top level")


def test_trl_rejects_a_value(datasets_dir, tmp_path):
    args = [f"data.path={datasets_dir['pairs']}", f"output_dir={tmp_path / 'o'}"]
    result = _train("dpo", *args, "trainer.eval_strategy=sometimes")
    _one_line_error(result, "trainer rejected by DPOConfig", "sometimes")


def test_kto_data_given_to_dpo(datasets_dir, tmp_path):
    result = _train("dpo", f"data.path={datasets_dir['kto']}", f"output_dir={tmp_path / 'o'}")
    _one_line_error(result, "unpaired preference (kto) dataset", "dpo needs a preference")


def test_pairs_given_to_sft(datasets_dir, tmp_path):
    result = _train("sft", f"data.path={datasets_dir['pairs']}", f"output_dir={tmp_path / 'o'}")
    _one_line_error(result, "preference (dpo/reward) dataset", "sft needs")


def test_missing_dataset(tmp_path):
    result = _train("dpo", f"data.path={tmp_path / 'nope'}", f"output_dir={tmp_path / 'o'}")
    _one_line_error(result, "not found", "data.path")


def test_missing_split(datasets_dir, tmp_path):
    args = [f"data.path={datasets_dir['pairs']}", "data.train_split=validation"]
    result = _train("dpo", *args, f"output_dir={tmp_path / 'o'}")
    _one_line_error(result, "no split 'validation'", "train, test")


def test_model_not_found_offline(datasets_dir, tmp_path):
    args = [f"data.path={datasets_dir['pairs']}", "model.name=acme-corp/no-such-model"]
    result = _train("dpo", *args, f"output_dir={tmp_path / 'o'}")
    _one_line_error(result, "acme-corp/no-such-model", "HF_HUB_OFFLINE=1")


def test_online_rl_needs_a_reward_model(datasets_dir, tmp_path):
    args = [f"data.path={datasets_dir['pairs']}", f"output_dir={tmp_path / 'o'}"]
    result = _train("grpo", *args, "reward.model=/nowhere/rm")
    _one_line_error(result, "reward model /nowhere/rm not found")


def test_unknown_accelerate_config(datasets_dir, tmp_path):
    args = [f"data.path={datasets_dir['pairs']}", f"output_dir={tmp_path / 'o'}"]
    result = _train("dpo", *args, "--accelerate-config", "tpu_pod")
    _one_line_error(result, "tpu_pod", "cpu_ddp", "deepspeed_zero3", "fsdp")


def test_unknown_recipe_name():
    _one_line_error(_train("dpoo"), "recipe 'dpoo' not found")


@pytest.mark.parametrize("name", ["sft", "reward", "dpo", "kto", "rloo", "grpo", "dpo_qlora"])
def test_shipped_recipes_validate_against_trl(name):
    """Every shipped recipe's trainer section is accepted by its TRL config class."""
    from supportloop.config import load_config
    from supportloop.training.recipes import Recipe, build_trl_config, resolve_recipe_path

    recipe = load_config(Recipe, resolve_recipe_path(name), ["data.path=/tmp/any"])
    args = build_trl_config(recipe)
    assert args.output_dir == str(recipe.output_dir)

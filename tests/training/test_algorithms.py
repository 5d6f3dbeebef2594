"""The algorithm registry is the one place an algorithm is declared (training/algorithms.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from supportloop.config import ConfigError
from supportloop.training.algorithms import ALGORITHMS, AlgorithmSpec, register
from supportloop.training.data import DatasetFormatError, load_splits
from supportloop.training.recipes import Recipe, load_recipe
from supportloop.training.trl_options import TrainerOptionsError


@pytest.fixture
def dummy():
    """A new algorithm, added the one way the project supports: a registered spec."""
    spec = register(
        AlgorithmSpec(
            name="dummy",
            config="trl:DPOConfig",
            trainer="trl:DPOTrainer",
            formats=("preference (dpo/reward)",),
        )
    )
    yield spec
    del ALGORITHMS[spec.name]


def _recipe(tmp_path, data, **extra) -> str:
    body = {"algorithm": "dummy", "data": {"path": str(data)}, "output_dir": str(tmp_path / "o")}
    path = tmp_path / "dummy.yaml"
    path.write_text(yaml.safe_dump({**body, **extra}))
    return str(path)


def test_a_registered_algorithm_validates_as_a_recipe(dummy, datasets_dir, tmp_path):
    recipe = load_recipe(_recipe(tmp_path, datasets_dir["pairs"], trainer={"beta": 0.2}))
    assert recipe.spec is dummy
    assert "dummy" in Recipe.model_json_schema()["properties"]["algorithm"]["enum"]
    with pytest.raises(TrainerOptionsError, match=r"unknown key trainer.bta .*DPOConfig"):
        load_recipe(_recipe(tmp_path, datasets_dir["pairs"], trainer={"bta": 0.2}))


def test_a_registered_algorithms_data_check(dummy, datasets_dir, tmp_path):
    recipe = load_recipe(_recipe(tmp_path, datasets_dir["pairs"]))
    train, _ = load_splits(recipe.spec, recipe.data)
    assert {"prompt", "chosen", "rejected"} <= set(train.column_names)
    wrong = load_recipe(_recipe(tmp_path, datasets_dir["kto"]))
    with pytest.raises(DatasetFormatError, match=r"unpaired preference .*; dummy needs a pref"):
        load_splits(wrong.spec, wrong.data)


def test_an_unregistered_algorithm_is_refused_like_a_literal(datasets_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"key algorithm: Input should be 'sft', .* or 'ppo'"):
        load_recipe(_recipe(tmp_path, datasets_dir["pairs"]))


def test_register_refuses_unknown_formats_and_duplicates():
    with pytest.raises(ValueError, match="unknown dataset formats"):
        register(AlgorithmSpec("odd", "trl:DPOConfig", "trl:DPOTrainer", ("triples",)))
    with pytest.raises(ValueError, match="already registered"):
        register(ALGORITHMS["dpo"])
    assert "odd" not in ALGORITHMS


def test_online_rl_reads_only_prompts_from_any_dataset(datasets_dir, tmp_path):
    from supportloop.training.data import check_format

    check_format(ALGORITHMS["grpo"], ["prompt", "chosen", "rejected"], "pairs")
    with pytest.raises(DatasetFormatError, match="grpo needs a prompt-only"):
        check_format(ALGORITHMS["grpo"], ["messages"], "sft")


def test_the_registry_imports_neither_torch_nor_trl():
    """Validating a recipe stays cheap, and the PPO worker's environment can import it."""
    code = (
        "import sys, supportloop.training.recipes; "
        "print(sorted({'torch', 'trl'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

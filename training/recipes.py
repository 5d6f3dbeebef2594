"""Training recipes: one YAML per algorithm, validated here before anything heavy is loaded.

A recipe names the model, the data, the LoRA adapter and a `trainer:` section that goes
unchanged into TRL's own config class (DPOConfig, KTOConfig, ...), so every TRL option is
available without being re-declared here, and a misspelt option fails before training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from supportloop.config import (
    ConfigError,
    ProjectPath,
    StrictModel,
    dump_config,
    load_config,
    project_root,
)
from supportloop.training.algorithms import ALGORITHMS, AlgorithmSpec
from supportloop.training.trl_options import build_config


class QuantizationConfig(StrictModel):
    """4-bit loading for QLoRA (GPU + bitsandbytes only)."""

    load_in_4bit: bool = Field(default=True, description="load the base model's weights in 4 bit")
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = Field(
        default="nf4", description="4-bit data type: NF4 (normal float, QLoRA's) or FP4"
    )
    bnb_4bit_compute_dtype: Literal["bfloat16", "float16", "float32"] = Field(
        default="bfloat16", description="dtype the 4-bit weights are dequantized to for matmuls"
    )
    bnb_4bit_use_double_quant: bool = Field(
        default=True, description="also quantize the quantization constants (saves ~0.4 bit/param)"
    )


class ModelSection(StrictModel):
    """The base model: an alias (models/checkpoints.py), a local checkpoint dir or a hub id."""

    name: str = Field(
        default="smollm2-135m-instruct",
        description="built-in alias (models/checkpoints.py), local checkpoint dir, or hub id",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="float32", description="dtype the base model's weights are loaded in"
    )
    attn_implementation: str | None = Field(
        default=None,
        description="transformers attention kernel, e.g. flash_attention_2 on GPUs; null: default",
    )
    quantization: QuantizationConfig | None = Field(
        default=None, description="QLoRA: load the base in 4 bit (GPU + bitsandbytes); null: off"
    )


class DataSection(StrictModel):
    """A dataset saved by the preferences stage (DatasetDict with train/test splits)."""

    path: ProjectPath = Field(
        description="DatasetDict saved by the preferences stage (save_to_disk), e.g. "
        "`runs/preferences/<run>/pairs`; relative to the project root"
    )
    train_split: str = Field(default="train", description="split to train on")
    eval_split: str | None = Field(
        default="test", description="split to evaluate on; null (or an empty split): no evaluation"
    )
    max_train_samples: int | None = Field(
        default=None, gt=0, description="train on the first N rows only; null: all"
    )
    max_eval_samples: int | None = Field(
        default=None, gt=0, description="evaluate on the first N rows only; null: all"
    )


class PeftSection(StrictModel):
    """LoRA settings (peft.LoraConfig); `target_modules: all-linear` adapts every linear layer."""

    enabled: bool = Field(default=True, description="train a LoRA adapter; false: full fine-tune")
    r: int = Field(default=16, gt=0, description="LoRA rank")
    lora_alpha: int = Field(default=32, gt=0, description="LoRA scaling: updates scale by alpha/r")
    lora_dropout: float = Field(
        default=0.05, ge=0, lt=1, description="dropout on the adapter's input"
    )
    target_modules: list[str] | str = Field(
        default="all-linear",
        description="modules to adapt: `all-linear`, or a list of names such as `[q_proj, v_proj]`",
    )
    modules_to_save: list[str] | None = Field(
        default=None, description="modules trained in full and saved with the adapter"
    )


class RewardSection(StrictModel):
    """The reward for online RL: a reward-model run dir (adapter), a classifier dir or hub id."""

    model: str = Field(
        description="a `reward` recipe's output_dir, a sequence-classification checkpoint dir "
        "or a hub id; a relative path that exists is taken from the project root"
    )

    @field_validator("model")
    @classmethod
    def _project_relative(cls, value: str, info: ValidationInfo) -> str:
        """A relative path that exists under the project root is taken from there."""
        root = Path((info.context or {}).get("root") or project_root())
        candidate = root / value
        if Path(value).is_absolute() or not candidate.exists():
            return value
        return str(candidate.resolve())


def _list_algorithms(schema: dict[str, Any]) -> None:
    """The schema names the registered algorithms, as a Literal would."""
    schema["enum"] = list(ALGORITHMS)


class Recipe(StrictModel):
    """One training run: model, data, adapter and TRL's own options for the algorithm."""

    algorithm: str = Field(
        description="training algorithm (training/algorithms.py): picks TRL's config and trainer",
        json_schema_extra=_list_algorithms,
    )
    model: ModelSection = Field(default=ModelSection(), description="the base model")
    data: DataSection = Field(description="the dataset to train on")
    peft: PeftSection = Field(default=PeftSection(), description="the LoRA adapter")
    reward: RewardSection | None = Field(
        default=None, description="the reward model; required by online-RL algorithms"
    )
    output_dir: ProjectPath = Field(
        description="where the adapter, checkpoints and summaries go; relative to the project root"
    )
    resume: bool = Field(
        default=False,
        description="continue from output_dir's last checkpoint; false refuses a used output_dir",
    )
    seed: int = Field(default=0, description="random seed (TRL's `seed` unless trainer sets it)")
    wandb_project: str = Field(
        default="supportloop", description="W&B project when trainer.report_to includes wandb"
    )
    threads: int | None = Field(
        default=None,
        gt=0,
        description="torch CPU threads per process; null: OMP_NUM_THREADS, else the free cores "
        "(supportloop.training.hardware)",
    )
    trainer: dict[str, Any] = Field(
        default_factory=dict,
        description="passed as is to the algorithm's TRL config class (DPOConfig, ...): "
        "every TRL option; unknown keys are errors",
    )

    @field_validator("algorithm")
    @classmethod
    def _registered(cls, value: str) -> str:
        """Checked against the registry at validation time, so a new spec needs no edit here."""
        if value not in ALGORITHMS:
            names = [repr(name) for name in ALGORITHMS]
            expected = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    @property
    def spec(self) -> AlgorithmSpec:
        """The algorithm's registry entry."""
        return ALGORITHMS[self.algorithm]


def build_trl_config(recipe: Recipe, source: str = "recipe"):
    """Instantiate TRL's config class from the recipe's `trainer:` section."""
    return build_config(
        recipe.spec.config_class(),
        recipe.trainer,
        str(recipe.output_dir),
        source,
        seed=recipe.seed,
        run_name=recipe.output_dir.name,
    )


def resolve_recipe_path(name: str | Path) -> Path:
    """`dpo` -> configs/train/dpo.yaml; a path stays a path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    candidate = project_root() / "configs" / "train" / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    raise ConfigError(f"recipe {name!r} not found: give a YAML path or a name in configs/train/")


def load_recipe(name: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read and validate a recipe, with its trainer section where TRL's class can be imported.

    An algorithm in its own venv (PPO) has its trainer section checked by its worker.
    """
    path = resolve_recipe_path(name)
    recipe = load_config(Recipe, path, overrides)
    if recipe.spec.needs_reward and recipe.reward is None:
        raise ConfigError(f"{path}: {recipe.algorithm} needs reward.model (a reward-model run)")
    if recipe.spec.venv is None:
        build_trl_config(recipe, source=str(path))
    return recipe


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as JSON-ready data: what lineage, W&B and the PPO worker receive."""
    return dump_config(recipe)

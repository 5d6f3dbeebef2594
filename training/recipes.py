"""Training recipes: one YAML per algorithm, validated here before anything heavy is loaded.

A recipe names the model, the data, the LoRA adapter and a `trainer:` section that goes
unchanged into TRL's own config class (DPOConfig, KTOConfig, ...), so every TRL option is
available without being re-declared here, and a misspelt option fails before training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from supportloop.config import (
    ConfigError,
    ProjectPath,
    StrictModel,
    dump_config,
    load_config,
    project_root,
)
from training.data import ONLINE_RL
from training.trl_options import build_config

Algorithm = Literal["sft", "reward", "dpo", "kto", "rloo", "grpo", "ppo"]


class QuantizationConfig(StrictModel):
    """4-bit loading for QLoRA (GPU + bitsandbytes only)."""

    load_in_4bit: bool = True
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_compute_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    bnb_4bit_use_double_quant: bool = True


class ModelSection(StrictModel):
    """The base model: an alias (training.models), a local checkpoint dir or a hub id."""

    name: str = "smollm2-135m-instruct"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"
    attn_implementation: str | None = None
    quantization: QuantizationConfig | None = None


class DataSection(StrictModel):
    """A dataset saved by the preferences stage (DatasetDict with train/test splits)."""

    path: ProjectPath
    train_split: str = "train"
    eval_split: str | None = "test"
    max_train_samples: int | None = Field(default=None, gt=0)
    max_eval_samples: int | None = Field(default=None, gt=0)


class PeftSection(StrictModel):
    """LoRA settings (peft.LoraConfig); `target_modules: all-linear` adapts every linear layer."""

    enabled: bool = True
    r: int = Field(default=16, gt=0)
    lora_alpha: int = Field(default=32, gt=0)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"
    modules_to_save: list[str] | None = None


class RewardSection(StrictModel):
    """The reward for online RL: a reward-model run dir (adapter), a classifier dir or hub id."""

    model: str

    @field_validator("model")
    @classmethod
    def _project_relative(cls, value: str, info: ValidationInfo) -> str:
        """A relative path that exists under the project root is taken from there."""
        root = Path((info.context or {}).get("root") or project_root())
        candidate = root / value
        if Path(value).is_absolute() or not candidate.exists():
            return value
        return str(candidate.resolve())


class Recipe(StrictModel):
    algorithm: Algorithm
    model: ModelSection = ModelSection()
    data: DataSection
    peft: PeftSection = PeftSection()
    reward: RewardSection | None = None
    output_dir: ProjectPath
    resume: bool = False
    seed: int = 0
    wandb_project: str = "supportloop"
    threads: int | None = Field(
        default=None,
        gt=0,
        description="torch CPU threads per process; null: OMP_NUM_THREADS, else the free cores "
        "(training.hardware)",
    )
    trainer: dict[str, Any] = Field(default_factory=dict)


def trl_config_class(algorithm: str) -> type:
    """TRL's config class for an algorithm (PPO's lives in the TRL 1.12 environment)."""
    import trl

    classes = {
        "sft": trl.SFTConfig,
        "reward": trl.RewardConfig,
        "dpo": trl.DPOConfig,
        "kto": trl.KTOConfig,
        "rloo": trl.RLOOConfig,
        "grpo": trl.GRPOConfig,
    }
    return classes[algorithm]


def build_trl_config(recipe: Recipe, source: str = "recipe"):
    """Instantiate TRL's config class from the recipe's `trainer:` section."""
    return build_config(
        trl_config_class(recipe.algorithm),
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
    """Read and validate a recipe, including its trainer section (except PPO's, see ppo_worker)."""
    path = resolve_recipe_path(name)
    recipe = load_config(Recipe, path, overrides)
    if recipe.algorithm in ONLINE_RL and recipe.reward is None:
        raise ConfigError(f"{path}: {recipe.algorithm} needs reward.model (a reward-model run)")
    if recipe.algorithm != "ppo":
        build_trl_config(recipe, source=str(path))
    return recipe


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    return dump_config(recipe)

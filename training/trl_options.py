"""Checks and machine defaults for a recipe's `trainer:` section, shared by every TRL version.

Kept free of pydantic so the PPO worker (TRL 1.12 environment) applies the same rules to
PPOConfig as the main environment applies to DPOConfig and friends.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from supportloop.errors import UserError
from supportloop.training.hardware import detect_precision

# Trainer options the recipe owns at its top level: set them there, not under `trainer:`.
OWNED_TRAINER_KEYS = {"output_dir": "output_dir", "resume_from_checkpoint": "resume"}


class TrainerOptionsError(UserError):
    """A `trainer:` key TRL's config class does not know, or a value it rejects."""


def check_trainer_keys(trainer: dict[str, Any], config_class: type, source: str) -> None:
    """One line per key the config class does not know or the recipe owns."""
    fields = {field.name for field in dataclasses.fields(config_class)}
    problems = []
    for key in trainer:
        if key in OWNED_TRAINER_KEYS:
            problems.append(
                f"{source}: key trainer.{key} is set by the recipe: use "
                f"{OWNED_TRAINER_KEYS[key]}=... at the top level"
            )
        elif key not in fields:
            problems.append(
                f"{source}: unknown key trainer.{key} (not a field of {config_class.__name__})"
            )
    if problems:
        raise TrainerOptionsError("\n".join(problems))


def device_defaults(trainer: dict[str, Any], cuda: bool) -> dict[str, Any]:
    """Options that depend on the machine, unless the recipe sets them.

    `bf16` where the device computes it natively (supportloop.training.hardware): TRL's own default,
    bf16 autocast everywhere, is emulated and slower than float32 on CPUs without bf16 instructions.
    `use_cpu` makes a MULTI_GPU accelerate launch on a CPU machine use gloo (see DESIGN.md).
    """
    resolved = dict(trainer)
    if not cuda:
        resolved.setdefault("use_cpu", True)
    resolved["bf16"] = detect_precision(resolved).bf16
    return resolved


def yaml_fixups(trainer: dict[str, Any], config_class: type) -> dict[str, Any]:
    """Undo two YAML 1.1 surprises before TRL sees the values.

    `save_strategy: no` reads as False, and `learning_rate: 1e-5` (no dot) reads as a string.
    """
    fields = {field.name: str(field.type) for field in dataclasses.fields(config_class)}
    fixed = dict(trainer)
    for key, value in trainer.items():
        kind = fields.get(key, "")
        if value is False and "Strategy" in kind:
            fixed[key] = "no"
        elif isinstance(value, str) and "float" in kind:
            try:
                fixed[key] = float(value)
            except ValueError:
                continue
    return fixed


def build_config(
    config_class: type, trainer: dict[str, Any], output_dir: str, source: str, **defaults: Any
):
    """Instantiate a TRL config class from a recipe's trainer section, errors in one line."""
    import torch

    check_trainer_keys(trainer, config_class, source)
    kwargs = device_defaults(yaml_fixups(trainer, config_class), torch.cuda.is_available())
    for key, value in defaults.items():
        kwargs.setdefault(key, value)
    try:
        return config_class(output_dir=output_dir, **kwargs)
    except (ValueError, TypeError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        name = config_class.__name__
        raise TrainerOptionsError(f"{source}: trainer rejected by {name}: {first}") from None

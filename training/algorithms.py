"""The training algorithms a recipe can name: one registry, read by every part of training.

Like TRL, an algorithm is a config class and a trainer class side by side; here each one is an
`AlgorithmSpec` that also says which dataset formats it takes, whether it needs a reward model,
and which environment runs it. Adding an algorithm is one `register(...)` call.

Plain dataclasses and class names only: the PPO worker imports this in an environment without
pydantic, and checking a recipe must not pay for importing torch or TRL.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

# Column sets of the TRL conversational formats, most specific first (see
# supportloop.training.data).
FORMATS: dict[str, tuple[str, ...]] = {
    "preference (dpo/reward)": ("prompt", "chosen", "rejected"),
    "unpaired preference (kto)": ("prompt", "completion", "label"),
    "conversation (sft)": ("messages",),
    "prompt-completion (sft)": ("prompt", "completion"),
    "prompt-only (online RL)": ("prompt",),
}


@dataclass(frozen=True)
class AlgorithmSpec:
    """What supportloop needs to know about one algorithm; classes are `module:Name` strings."""

    name: str
    config: str  # TRL's config class, e.g. "trl:DPOConfig": the recipe's `trainer:` goes here
    trainer: str  # TRL's trainer class, e.g. "trl:DPOTrainer"
    formats: tuple[str, ...]  # names in FORMATS of the datasets it trains on
    reads: tuple[str, ...] | None = None  # only these columns: any dataset holding them will do
    needs_reward: bool = False  # online RL: samples replies and scores them with reward.model
    task_type: str = "CAUSAL_LM"  # PEFT task type of the adapter it trains
    venv: str | None = None  # its own virtualenv (project-relative); None: the main one
    worker: str | None = None  # the module that trains it inside `venv`
    resumable: bool = True  # whether a run can continue from a checkpoint
    note: str = ""  # shown next to its name where it differs from the rest (e.g. its TRL)

    def config_class(self) -> type:
        """TRL's config class; importable only inside the spec's own environment."""
        return _import(self.config)

    def trainer_class(self) -> type:
        """TRL's trainer class; importable only inside the spec's own environment."""
        return _import(self.trainer)

    @property
    def label(self) -> str:
        """`ppo (TRL 1.12 experimental)`: the name as messages show it."""
        return f"{self.name} ({self.note})" if self.note else self.name


def _import(target: str) -> type:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


ALGORITHMS: dict[str, AlgorithmSpec] = {}


def register(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add an algorithm; its formats must be known and a separate venv needs a worker."""
    if spec.name in ALGORITHMS:
        raise ValueError(f"algorithm {spec.name!r} is already registered")
    unknown = [name for name in spec.formats if name not in FORMATS]
    if unknown or not spec.formats:
        raise ValueError(f"algorithm {spec.name!r}: unknown dataset formats {unknown}")
    if (spec.venv is None) != (spec.worker is None):
        raise ValueError(f"algorithm {spec.name!r}: venv and worker go together")
    ALGORITHMS[spec.name] = spec
    return spec


# Online RL: prompts from any dataset; the replies it samples are scored by reward.model.
_PROMPTS: dict[str, Any] = {
    "formats": ("prompt-only (online RL)",),
    "reads": ("prompt",),
    "needs_reward": True,
}

register(
    AlgorithmSpec(
        "sft",
        "trl:SFTConfig",
        "trl:SFTTrainer",
        ("conversation (sft)", "prompt-completion (sft)"),
    )
)
register(
    AlgorithmSpec(
        "reward",
        "trl:RewardConfig",
        "trl:RewardTrainer",
        ("preference (dpo/reward)",),
        task_type="SEQ_CLS",
    )
)
register(AlgorithmSpec("dpo", "trl:DPOConfig", "trl:DPOTrainer", ("preference (dpo/reward)",)))
register(AlgorithmSpec("kto", "trl:KTOConfig", "trl:KTOTrainer", ("unpaired preference (kto)",)))
register(AlgorithmSpec("rloo", "trl:RLOOConfig", "trl:RLOOTrainer", **_PROMPTS))
register(AlgorithmSpec("grpo", "trl:GRPOConfig", "trl:GRPOTrainer", **_PROMPTS))
register(
    AlgorithmSpec(
        "ppo",
        "trl.experimental.ppo:PPOConfig",
        "trl.experimental.ppo:PPOTrainer",
        **_PROMPTS,
        venv=".venv-ppo",  # TRL removed PPOTrainer after 1.12; scripts/setup.sh --ppo builds it
        worker="supportloop.training.ppo_worker",
        resumable=False,
        note="TRL 1.12 experimental",
    )
)

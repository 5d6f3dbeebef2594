"""The reward model a `reward` recipe trains, loaded for scoring replies.

Used as the reward of RLOO/GRPO/PPO, for Argilla suggestions and as an eval judge. A reward
run dir holds a sequence-classification LoRA adapter; it is merged into its base on load so
callers get a plain `PreTrainedModel` (what TRL's online trainers accept as a reward).
Imports no pydantic/TRL: the PPO worker uses it inside the TRL 1.12 environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportloop.errors import UserError
from supportloop.models.checkpoints import ModelNotFoundError, require_adapter, resolve_model

Messages = list[dict[str, str]]


class RewardModelError(UserError):
    """A reward-model path that holds neither a reward adapter nor a classifier checkpoint."""


def adapter_base(path: Path) -> str:
    """The base model of an adapter run: the recipe's name (alias) if known, else PEFT's record."""
    summary = path / "training_summary.json"
    if summary.is_file():
        return json.loads(summary.read_text(encoding="utf-8"))["model"]
    config = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
    return config["base_model_name_or_path"]


@dataclass
class RewardModel:
    """A merged sequence classifier with one logit, and the tokenizer it was trained with."""

    model: Any
    tokenizer: Any
    max_length: int = 1024
    batch_size: int = 8

    def texts(self, prompts: list[Messages], replies: list[str]) -> list[str]:
        """Prompt + reply rendered with the chat template, as the reward trainer saw them."""
        return [
            self.tokenizer.apply_chat_template(
                [*prompt, {"role": "assistant", "content": reply}], tokenize=False
            )
            for prompt, reply in zip(prompts, replies, strict=True)
        ]

    def score(self, prompts: list[Messages], replies: list[str]) -> list[float]:
        """One scalar per (prompt, reply); higher means annotators would prefer it."""
        import torch

        scores: list[float] = []
        texts = self.texts(prompts, replies)
        device = next(self.model.parameters()).device
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                padding_side="right",
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,
            ).to(device)
            with torch.inference_mode():
                logits = self.model(**batch).logits[:, 0]
            scores.extend(logits.float().cpu().tolist())
        return scores


def load_reward_model(path: str | Path, dtype: str = "float32") -> RewardModel:
    """A reward run dir (adapter) or a full sequence-classification checkpoint -> RewardModel."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = Path(path).expanduser()
    is_adapter = (source / "adapter_config.json").is_file()
    if str(path).startswith((".", "/", "~")) and not source.exists():
        raise RewardModelError(f"reward model {path} not found (train one with the reward recipe)")
    if is_adapter:
        require_adapter(source)
    base = resolve_model(adapter_base(source) if is_adapter else str(path))
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=1, dtype=getattr(torch, dtype)
        )
        tokenizer = AutoTokenizer.from_pretrained(str(source) if is_adapter else base)
    except OSError as exc:
        raise ModelNotFoundError(f"reward model {path}: {str(exc).splitlines()[0]}") from None
    if is_adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return RewardModel(model=model, tokenizer=tokenizer)

"""PPO with TRL 1.12's `trl.experimental.ppo`, run inside its own environment (.venv-ppo).

TRL removed PPOTrainer after 1.12 and the project stays on TRL 1.16, so `supportloop train`
(supportloop.training.launch) validates the recipe in the main environment, writes it as JSON and
runs
`python -m supportloop.training.ppo_worker SPEC.json` with .venv-ppo's interpreter. This module
therefore imports no pydantic and nothing of TRL 1.16; it produces the same outputs as the other
recipes (adapter + tokenizer, training_summary.json, lineage.json).

Policy and critic both carry LoRA; the reference is the policy with its adapter off; the
reward model is the `reward` recipe's adapter merged into its base (supportloop.models.reward).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from supportloop.errors import UserError
from supportloop.models.checkpoints import load_tokenizer, resolve_model
from supportloop.models.reward import load_reward_model
from supportloop.runs import CACHE_DIR
from supportloop.training.algorithms import ALGORITHMS
from supportloop.training.artifacts import (
    finish_wandb,
    prepare_wandb,
    rank_reports,
    write_training_outputs,
)
from supportloop.training.data import load_splits
from supportloop.training.rank_exit import run_rank
from supportloop.training.trl_options import build_config

PAD_FALLBACK = "<|pad|>"
PPO = ALGORITHMS["ppo"]


def distinct_pad_token(tokenizer) -> bool:
    """Give the tokenizer a pad token other than eos; True when a new token had to be added.

    PPO masks every pad id out of the rollouts, so with pad == eos (SmolLM2) each reply would
    lose its end-of-turn token and the reward model would score the wrong position.
    """
    if tokenizer.pad_token is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return False
    taken = {tokenizer.eos_token, tokenizer.bos_token}
    spare = [token for token in tokenizer.all_special_tokens if token not in taken]
    if spare:
        tokenizer.pad_token = spare[0]
        return False
    tokenizer.add_special_tokens({"pad_token": PAD_FALLBACK})
    return True


def tokenized_prompts(dataset, tokenizer):
    """Chat-templated prompt ids (with the generation prompt): what PPO's rollouts start from."""

    def encode(row: dict[str, Any]) -> dict[str, Any]:
        ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True)
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        return {"input_ids": ids}

    return dataset.map(encode, remove_columns=dataset.column_names)


def lora(peft: dict[str, Any], task_type: str):
    from peft import LoraConfig

    return LoraConfig(
        r=peft["r"],
        lora_alpha=peft["lora_alpha"],
        lora_dropout=peft["lora_dropout"],
        target_modules=peft["target_modules"],
        modules_to_save=peft["modules_to_save"],
        task_type=task_type,
    )


def train_ppo(recipe: dict[str, Any], source: str) -> dict[str, Any]:
    """Build TRL 1.12's PPOTrainer from a validated recipe dict, train, save like other recipes."""
    import torch
    from transformers import AutoModelForCausalLM

    output_dir = Path(recipe["output_dir"])
    if recipe["resume"]:
        raise UserError(f"{PPO.label} cannot resume from a checkpoint; start anew")
    trainer_options = dict(recipe["trainer"])
    if not torch.cuda.is_available():  # TRL 1.12's PPO breaks under CPU bf16 autocast
        trainer_options.setdefault("bf16", False)
    args = build_config(
        PPO.config_class(),
        trainer_options,
        str(output_dir),
        source,
        seed=recipe["seed"],
        run_name=output_dir.name,
    )
    wandb_note = prepare_wandb(args.report_to, output_dir, recipe["wandb_project"])
    data = SimpleNamespace(**{**recipe["data"], "path": Path(recipe["data"]["path"])})
    train, evaluation = load_splits(PPO, data, output_dir / CACHE_DIR)
    tokenizer = load_tokenizer(recipe["model"]["name"], padding_side="left")  # for generation
    added = distinct_pad_token(tokenizer)
    name, dtype = recipe["model"]["name"], recipe["model"]["dtype"]
    dtype = getattr(torch, dtype) if dtype != "auto" else "auto"
    policy = AutoModelForCausalLM.from_pretrained(resolve_model(name), dtype=dtype)
    reward = load_reward_model(recipe["reward"]["model"])
    value = load_reward_model(recipe["reward"]["model"]).model
    if added:
        for model in (policy, reward.model, value):
            model.resize_token_embeddings(len(tokenizer))
    for model in (policy, reward.model, value):
        model.config.pad_token_id = tokenizer.pad_token_id
    policy.generation_config.pad_token_id = tokenizer.pad_token_id
    peft_config = None
    if recipe["peft"]["enabled"]:
        from peft import get_peft_model

        peft_config = lora(recipe["peft"], "CAUSAL_LM")
        value = get_peft_model(value, lora(recipe["peft"], "SEQ_CLS"))
    trainer = PPO.trainer_class()(
        args=args,
        processing_class=tokenizer,
        model=policy,
        ref_model=None,  # LoRA: the policy with its adapter off; else TRL copies the policy
        reward_model=reward.model,
        value_model=value,
        train_dataset=tokenized_prompts(train, tokenizer),
        eval_dataset=tokenized_prompts(evaluation, tokenizer) if evaluation is not None else None,
        peft_config=peft_config,
    )
    main = trainer.accelerator.is_main_process
    if main:
        rows = f"{len(train)} rows"
        print(f"ppo: {recipe['model']['name']} on {rows}, TRL 1.12 experimental PPO", flush=True)
        if wandb_note:
            print(wandb_note, flush=True)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    ranks = rank_reports(trainer)
    trainer.save_model(str(output_dir))
    summary: dict[str, Any] = {}
    if main:
        tokenizer.save_pretrained(str(output_dir))
        steps = max(trainer.state.global_step, 1)
        summary = write_training_outputs(
            output_dir,
            recipe,
            trainer,
            {"train": train, "eval": evaluation},
            {
                "resumed_from": None,
                "train_seconds": round(seconds, 3),
                "seconds_per_step": round(seconds / steps, 4),
                "ranks": ranks,
                "pad_token": tokenizer.pad_token,
            },
        )
        print(f"adapter saved to {output_dir} (step {trainer.state.global_step})", flush=True)
    finish_wandb()  # no trainer.end(): under accelerate the rank's exit ends the group
    return summary


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m supportloop.training.ppo_worker SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    return run_rank(lambda: train_ppo(spec["recipe"], spec["source"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

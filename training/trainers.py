"""Run a recipe with its algorithm's own TRL trainer (training/algorithms.py) and a LoRA adapter.

This is the function every launch path ends in: `supportloop train` in-process, and each
process of an `accelerate launch` (see supportloop.training.launch). PPO runs in its own environment
(supportloop.training.ppo_worker) and shares only the outputs' shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supportloop.errors import UserError
from supportloop.runs import CACHE_DIR, RunDir
from supportloop.training.artifacts import (
    checkpoint_sealer,
    finish_wandb,
    last_checkpoint,
    prepare_wandb,
    rank_reports,
    recipe_config_callback,
    write_training_outputs,
)
from supportloop.training.data import load_splits
from supportloop.training.hardware import Threads, describe, detect_precision, inherited_threads
from supportloop.training.mixed_precision import frozen_linears_return_fp32
from supportloop.training.recipes import Recipe, build_trl_config, recipe_dict

Say = Callable[[str], None]


class OutputDirError(UserError):
    """An output dir that holds an earlier run while the recipe does not ask to resume."""


def lora_config(recipe: Recipe):
    from peft import LoraConfig

    section = recipe.peft
    return LoraConfig(
        r=section.r,
        lora_alpha=section.lora_alpha,
        lora_dropout=section.lora_dropout,
        target_modules=section.target_modules,
        modules_to_save=section.modules_to_save,
        task_type=recipe.spec.task_type,
    )


def quantization_config(recipe: Recipe):
    """BitsAndBytesConfig for QLoRA; refuses early where 4-bit kernels cannot run."""
    import torch

    quant = recipe.model.quantization
    if quant is None:
        return None
    if not torch.cuda.is_available():
        raise UserError("model.quantization (QLoRA) needs a CUDA GPU; remove it to train on CPU")
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        raise UserError("model.quantization (QLoRA) needs `pip install bitsandbytes`") from None
    return BitsAndBytesConfig(
        load_in_4bit=quant.load_in_4bit,
        bnb_4bit_quant_type=quant.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=getattr(torch, quant.bnb_4bit_compute_dtype),
        bnb_4bit_use_double_quant=quant.bnb_4bit_use_double_quant,
    )


def resume_point(recipe: Recipe) -> tuple[Path | None, list[str]]:
    """The checkpoint to resume from (None: a fresh run) and why newer ones were skipped.

    Refuses to mix two runs: an output dir with any checkpoint or adapter needs resume=true.
    """
    checkpoint, skipped = last_checkpoint(recipe.output_dir)
    if recipe.resume:
        RunDir(recipe.output_dir, "train").reopen()  # its saved adapter will be overwritten
        return checkpoint, skipped
    if checkpoint is not None or skipped or (recipe.output_dir / "adapter_config.json").is_file():
        raise OutputDirError(
            f"{recipe.output_dir} already holds a run: pass resume=true to continue it, "
            "or output_dir=... for a new one"
        )
    return None, []


def check_inputs(recipe: Recipe) -> None:
    """Refuse once, before processes are spawned, what each of them would refuse.

    The data (exists, has the split, right format), the model's tokenizer (path or hub id
    reachable) and QLoRA's need for CUDA; under `accelerate launch` a refusal inside the
    ranks arrives as one line per rank buried under the launcher's traceback.
    """
    from supportloop.models.checkpoints import load_tokenizer

    load_splits(recipe.spec, recipe.data)
    load_tokenizer(recipe.model.name)
    if recipe.spec.venv is None:  # workers in their own venv (PPO) have no QLoRA path
        quantization_config(recipe)


def build_trainer(
    recipe: Recipe, source: str = "recipe", say: Say = print, threads: Threads | None = None
):
    """TRL trainer for the recipe, plus the datasets it reads (for fingerprints).

    The start line says which CPU threads (`threads`, a supportloop.training.hardware.Threads;
    default: what this process was started with) and precision the run uses, why, and how to change
    them.
    """
    from supportloop.models.checkpoints import load_tokenizer, resolve_model

    args = build_trl_config(recipe, source)
    train, evaluation = load_splits(recipe.spec, recipe.data, recipe.output_dir / CACHE_DIR)
    online = recipe.spec.needs_reward
    tokenizer = load_tokenizer(recipe.model.name, padding_side="left" if online else "right")
    if args.model_init_kwargs is None:
        args.model_init_kwargs = {"dtype": recipe.model.dtype}
        if recipe.model.attn_implementation:
            args.model_init_kwargs["attn_implementation"] = recipe.model.attn_implementation
    kwargs: dict[str, Any] = {
        "model": resolve_model(recipe.model.name),
        "args": args,
        "train_dataset": train,
        "eval_dataset": evaluation,
        "processing_class": tokenizer,
        "callbacks": [recipe_config_callback(recipe_dict(recipe)), checkpoint_sealer()],
    }
    if recipe.peft.enabled:
        kwargs["peft_config"] = lora_config(recipe)
    if (quant := quantization_config(recipe)) is not None:
        kwargs["quantization_config"] = quant
    if online:
        from supportloop.models.reward import load_reward_model

        reward = load_reward_model(recipe.reward.model)
        kwargs["reward_funcs"] = reward.model
        kwargs["reward_processing_classes"] = reward.tokenizer
    rows = f"{len(train)} rows" + (f" (+{len(evaluation)} eval)" if evaluation is not None else "")
    adapter = f"LoRA r={recipe.peft.r}" if recipe.peft.enabled else "full fine-tune"
    if args.process_index == 0:
        machine = describe(threads or inherited_threads(), detect_precision(recipe.trainer))
        say(f"{recipe.algorithm}: {recipe.model.name} on {rows}, {adapter}; {machine}")
    trainer = recipe.spec.trainer_class()(**kwargs)
    return trainer, {"train": train, "eval": evaluation}


def train_recipe(
    recipe: Recipe, source: str = "recipe", say: Say = print, threads: Threads | None = None
) -> dict[str, Any]:
    """Train, save adapter + tokenizer, write training_summary.json and lineage.json."""
    import torch

    checkpoint, skipped = resume_point(recipe)
    recipe.output_dir.mkdir(parents=True, exist_ok=True)
    report_to = recipe.trainer.get("report_to")
    wandb_note = prepare_wandb(report_to, recipe.output_dir, recipe.wandb_project)
    threads = threads or inherited_threads()
    with frozen_linears_return_fp32():  # CPU bf16 autocast keeps LoRA's small updates
        trainer, datasets = build_trainer(recipe, source, say, threads)
        main = trainer.accelerator.is_main_process
        if main and wandb_note:
            say(wandb_note)
        for note in skipped if main else []:
            say(note)
        if main and checkpoint is not None:
            say(f"resuming from {checkpoint}")
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        seconds = time.perf_counter() - started
        if datasets["eval"] is not None:
            trainer.evaluate()
    ranks = rank_reports(trainer)
    trainer.save_model(str(recipe.output_dir))
    summary: dict[str, Any] = {}
    if main:
        trainer.processing_class.save_pretrained(str(recipe.output_dir))
        start = int(checkpoint.name.split("-")[-1]) if checkpoint else 0
        steps = max(trainer.state.global_step - start, 1)
        summary = write_training_outputs(
            recipe.output_dir,
            recipe_dict(recipe),
            trainer,
            datasets,
            {
                "resumed_from": str(checkpoint) if checkpoint else None,
                "train_seconds": round(seconds, 3),
                "seconds_per_step": round(seconds / steps, 4),
                "torch_threads": torch.get_num_threads(),
                "threads_why": threads.why,
                "bf16": trainer.args.bf16,
                "bf16_why": detect_precision(recipe.trainer).why,
                "ranks": ranks,
            },
        )
        say(f"adapter saved to {recipe.output_dir} (step {trainer.state.global_step})")
    finish_wandb()  # no trainer.end(): under accelerate the rank's exit ends the group
    return summary

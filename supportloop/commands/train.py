"""`supportloop train` and `supportloop export`: TRL recipes -> PEFT adapters -> checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supportloop.app import OVERRIDES_HELP, app, console, user_errors
from supportloop.training.algorithms import ALGORITHMS

TRAIN_HELP = f"""Train a LoRA adapter with TRL from a recipe ({", ".join(ALGORITHMS)}).

Everything under the recipe's `trainer:` goes to TRL's own config class (DPOConfig, ...),
e.g. `supportloop train dpo trainer.beta=0.05 trainer.max_steps=100`. Writes the adapter
and tokenizer, training_summary.json and lineage.json into output_dir; `resume=true`
continues from the last checkpoint there that was saved whole (newer ones cut short by a
kill or a full disk are skipped, with a line saying so). {
    "; ".join(
        f"{spec.name} runs in {spec.venv} ({spec.note})"
        for spec in ALGORITHMS.values()
        if spec.venv
    )
}.
"""


@app.command(help=TRAIN_HELP)
@user_errors
def train(
    recipe: Annotated[
        str, typer.Argument(help="Recipe YAML (configs/train/dpo.yaml) or its name (dpo).")
    ],
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP)] = None,
    accelerate_config: Annotated[
        str | None,
        typer.Option(
            "--accelerate-config",
            help="Launch through `accelerate launch` with configs/accelerate/NAME.yaml "
            "(cpu_ddp, multi_gpu, deepspeed_zero2, deepspeed_zero3, fsdp) or a YAML path.",
        ),
    ] = None,
) -> None:
    """Train a recipe (the help text is TRAIN_HELP, built from the algorithm registry)."""
    from supportloop.training.launch import launch

    status = launch(
        recipe,
        list(overrides or []),
        accelerate_config,
        say=lambda text: console.print(text, highlight=False, soft_wrap=True),
    )
    if status:
        raise typer.Exit(status)


@app.command()
@user_errors
def export(
    adapter: Annotated[Path, typer.Argument(help="A training run dir (adapter + tokenizer).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model.")],
    base: Annotated[
        str | None,
        typer.Option(help="Base model (alias, path or hub id); default: the run's recipe."),
    ] = None,
) -> None:
    """Merge a LoRA adapter into its base model and save a full checkpoint (+ tokenizer).

    The result loads with plain transformers (`AutoModelFor*.from_pretrained(output)`), e.g.
    for serving; reward adapters become a sequence-classification checkpoint.
    """
    from supportloop.training.export import merge_adapter

    target = merge_adapter(adapter, output, base)
    console.print(f"merged checkpoint written to {target}", highlight=False)

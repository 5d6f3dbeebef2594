"""`supportloop run PIPELINE`: the whole loop as a list of the same commands a user would type."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import Field

from supportloop.app import OVERRIDES_HELP, app, console, user_errors
from supportloop.config import ProjectPath, StrictModel


class PipelineStep(StrictModel):
    """One command of the loop, e.g. `ingest` or `argilla push`, with its config file."""

    command: str = Field(description="a supportloop command, e.g. 'ingest' or 'argilla push'")
    config: ProjectPath | None = None
    overrides: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list, description="extra arguments or options")


class PipelineConfig(StrictModel):
    steps: list[PipelineStep] = Field(min_length=1)


@app.command("run")
@user_errors
def run_pipeline(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML, e.g. configs/pipeline/demo.yaml"),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    only: list[str] = typer.Option(None, help="Run only the steps with these commands."),
) -> None:
    """Run the loop's steps in order, each exactly as its own command would run.

    Every step reads the artifacts the previous ones wrote (see each stage's config), so a
    failed step can be fixed and re-run alone with its own command.
    """
    from supportloop.config import load_config

    settings = load_config(PipelineConfig, pipeline, overrides or [])
    command = typer.main.get_command(app)
    for number, step in enumerate(settings.steps, start=1):
        if only and step.command not in only:
            continue
        argv = [
            *step.command.split(),
            *([str(step.config)] if step.config else []),
            *step.overrides,
            *step.args,
        ]
        console.rule(f"[bold]step {number}/{len(settings.steps)}: supportloop {' '.join(argv)}")
        command.main(args=argv, prog_name="supportloop", standalone_mode=False)

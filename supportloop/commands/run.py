"""`supportloop run PIPELINE`: the whole loop as a list of the same commands a user would type."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import Field

from supportloop.app import OVERRIDES_HELP, app, console, user_errors
from supportloop.config import ProjectPath, StrictModel

RUN_ID = "{run_id}"


class PipelineStep(StrictModel):
    """One command of the loop, e.g. `ingest` or `argilla push`, with its config file."""

    command: str = Field(description="a supportloop command, e.g. 'ingest' or 'argilla push'")
    config: ProjectPath | None = None
    overrides: list[str] = Field(
        default_factory=list, description=f"key=value overrides; {RUN_ID} becomes the run's id"
    )
    args: list[str] = Field(default_factory=list, description="extra arguments or options")

    def argv(self, run_id: str) -> list[str]:
        """The step's command line, with this pipeline run's id in place of {run_id}."""
        extra = [value.replace(RUN_ID, run_id) for value in [*self.overrides, *self.args]]
        return [*self.command.split(), *([str(self.config)] if self.config else []), *extra]


class PipelineConfig(StrictModel):
    steps: list[PipelineStep] = Field(min_length=1)
    record_dir: ProjectPath = Field(
        Path("runs/pipeline"),
        description="where each run writes <run_id>/steps.json: every step's command line, "
        "exit status and wall time, rewritten after each step",
    )


def _record_steps(path: Path, run_id: str, done: list[dict[str, Any]]) -> None:
    from supportloop.runs import write_json_atomic

    total = round(sum(step["seconds"] for step in done), 1)
    write_json_atomic(path, {"run_id": run_id, "total_seconds": total, "steps": done})


def _print_times(done: list[dict[str, Any]], record: Path) -> None:
    from rich.table import Table

    table = Table("step", "command", "wall time", title="pipeline steps")
    for step in done:
        table.add_row(str(step["step"]), step["command"], f"{step['seconds']:.1f} s")
    total = sum(step["seconds"] for step in done)
    table.add_row("", "total", f"{total:.1f} s ({total / 60:.1f} min)")
    console.print(table)
    console.print(f"step times: {record}", highlight=False, soft_wrap=True)


@app.command("run")
@user_errors
def run_pipeline(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML, e.g. configs/pipeline/demo.yaml"),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    only: list[str] = typer.Option(None, help="Run only the steps with these commands."),
    run_id: str = typer.Option(
        None,
        help="Reuse an earlier run's id (printed at its start), e.g. with --only eval; "
        "default: a new one, this run's UTC time.",
    ),
) -> None:
    """Run the loop's steps in order, each exactly as its own command would run.

    Every step reads the artifacts the previous ones wrote (see each stage's config), so a
    failed step can be fixed and re-run alone with its own command. `{run_id}` in a step's
    overrides becomes this run's UTC time (e.g. output_dir=runs/train/dpo-{run_id}), so
    running the loop again writes new artifacts next to the earlier ones.
    """
    from supportloop.config import load_config

    settings = load_config(PipelineConfig, pipeline, overrides or [])
    command = typer.main.get_command(app)
    run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    console.print(f"pipeline run {run_id}", highlight=False)
    record = settings.record_dir / run_id / "steps.json"
    done: list[dict[str, Any]] = []
    for number, step in enumerate(settings.steps, start=1):
        if only and step.command not in only:
            continue
        argv = step.argv(run_id)
        console.rule(f"[bold]step {number}/{len(settings.steps)}: supportloop {' '.join(argv)}")
        started, status = time.perf_counter(), "error"  # stays "error" if the step raises
        try:
            status = command.main(args=argv, prog_name="supportloop", standalone_mode=False)
        finally:
            seconds = round(time.perf_counter() - started, 1)
            exit_status = status if isinstance(status, int | str) else 0
            done.append(
                {"step": number, "command": step.command, "argv": argv, "status": exit_status,
                 "seconds": seconds}
            )  # fmt: skip
            _record_steps(record, run_id, done)
        if isinstance(status, int) and status != 0:  # a step that left through typer.Exit
            console.print(
                f"error: step {number} (supportloop {step.command}) exited with {status}; "
                "later steps were not run",
                highlight=False,
            )
            raise typer.Exit(status)
    _print_times(done, record)

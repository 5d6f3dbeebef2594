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
from supportloop.errors import UserError

RUN_ID = "{run_id}"


class PipelineStep(StrictModel):
    """One command of the loop, e.g. `ingest` or `argilla push`, with its config file."""

    command: str = Field(description="a supportloop command, e.g. 'ingest' or 'argilla push'")
    config: ProjectPath | None = None
    overrides: list[str] = Field(
        default_factory=list, description=f"key=value overrides; {RUN_ID} becomes the run's id"
    )
    args: list[str] = Field(default_factory=list, description="extra arguments or options")
    always_rerun: bool = Field(
        False,
        description="run this step again on --resume even when its files are unchanged: what "
        "it reads lives elsewhere (e.g. `argilla pull` reads the server's new responses)",
    )
    resume_overrides: list[str] = Field(
        default_factory=list,
        description="overrides added when --resume re-runs this step after it was interrupted "
        "with the same inputs, e.g. [resume=true] for `train` to continue from its checkpoint",
    )

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
        took = "reused" if step.get("reused") else f"{step['seconds']:.1f} s"
        table.add_row(str(step["step"]), step["command"], took)
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
    resume: str = typer.Option(
        None,
        metavar="RUN_ID",
        help="Continue an earlier run: reuse each step whose outputs and inputs are as that "
        "run left them (fingerprints in <record_dir>/RUN_ID/steps.json), run the others.",
    ),
) -> None:
    """Run the loop's steps in order, each exactly as its own command would run.

    Every step reads the artifacts the previous ones wrote (see each stage's config), so a
    failed step can be fixed and re-run alone with its own command, or the whole run
    continued with --resume. `{run_id}` in a step's overrides becomes this run's UTC time
    (e.g. output_dir=runs/train/dpo-{run_id}), so running the loop again writes new
    artifacts next to the earlier ones. A step refuses an input that another run wrote
    (the adapter eval judges, the preferences train reads, the conversations push sends),
    naming both runs: use --run-id to work on an earlier run's outputs.
    """
    from supportloop.config import load_config
    from supportloop.resume import STEPS_FILE, load_steps

    settings = load_config(PipelineConfig, pipeline, overrides or [])
    if resume and (only or run_id):
        raise UserError("--resume continues a whole run; it takes no --only or --run-id")
    earlier = load_steps(settings.record_dir, resume) if resume else None
    run_id = resume or run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    console.print(f"pipeline run {run_id}" + (" (resumed)" if resume else ""), highlight=False)
    record = settings.record_dir / run_id / STEPS_FILE
    done: list[dict[str, Any]] = []
    for number, step in enumerate(settings.steps, start=1):
        if only and step.command not in only:
            continue
        entry = _reuse_or_run(number, step, settings, run_id, earlier, record, done)
        if isinstance(entry["status"], int) and entry["status"] != 0:  # left through typer.Exit
            console.print(
                f"error: step {number} (supportloop {step.command}) exited with "
                f"{entry['status']}; later steps were not run. Continue once it is fixed: "
                f"supportloop run {pipeline} --resume {run_id}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(entry["status"])
    _print_times(done, record)
    from supportloop.run_summary import run_summary

    for line in run_summary(done):
        console.print(line, highlight=False, soft_wrap=True)


def _reuse_or_run(
    number: int,
    step: PipelineStep,
    settings: PipelineConfig,
    run_id: str,
    earlier: dict[int, dict[str, Any]] | None,
    record: Path,
    done: list[dict[str, Any]],
) -> dict[str, Any]:
    """One step: reused from the run being resumed when nothing it depends on changed, else run.

    Its record is written before it starts (status "running", so a killed step shows) and
    after it ends, with the fingerprints the next --resume compares.
    """
    from supportloop.resume import rerun_reason, step_fingerprint, was_interrupted

    total = len(settings.steps)
    argv = step.argv(run_id)
    upstream = [entry["outputs"] for entry in done]
    fingerprint = step_fingerprint(argv, step.config, upstream)
    if earlier is not None:
        previous = earlier.get(number)
        previous = previous if previous and previous["command"] == step.command else None
        reason = "always_rerun is set" if step.always_rerun else None
        reason = reason or rerun_reason(previous, fingerprint, run_id)
        if reason is None:
            console.print(
                f"step {number}/{total}: supportloop {step.command}: reused (unchanged)",
                highlight=False,
            )
            entry = {**previous, "seconds": 0.0, "reused": True}
            done.append(entry)
            _record_steps(record, run_id, done)
            return entry
        console.print(
            f"step {number}/{total}: supportloop {step.command} runs: {reason}",
            highlight=False,
            soft_wrap=True,
        )
        if was_interrupted(previous, fingerprint):
            argv = [*argv, *step.resume_overrides]
    return _run_step(number, total, step, argv, fingerprint, record, run_id, done)


def _run_step(
    number: int,
    total: int,
    step: PipelineStep,
    argv: list[str],
    fingerprint: dict[str, Any],
    record: Path,
    run_id: str,
    done: list[dict[str, Any]],
) -> dict[str, Any]:
    """Run one step in this process; its announced outputs are fingerprinted when it succeeds."""
    from supportloop.resume import announced_outputs, output_digests, pipeline_run

    command = typer.main.get_command(app)
    console.rule(f"[bold]step {number}/{total}: supportloop {' '.join(argv)}")
    entry: dict[str, Any] = {
        "step": number, "command": step.command, **fingerprint, "status": "running",
        "seconds": 0.0, "outputs": {}, "reused": False,
    }  # fmt: skip
    done.append(entry)
    _record_steps(record, run_id, done)
    started, status = time.perf_counter(), "error"  # stays "error" if the step raises
    try:
        with (
            pipeline_run(run_id),
            announced_outputs(record.parent / f".step-{number}.outputs") as outputs,
        ):
            status = command.main(args=argv, prog_name="supportloop", standalone_mode=False)
    finally:
        entry["seconds"] = round(time.perf_counter() - started, 1)
        entry["status"] = status if isinstance(status, int | str) else 0
        entry["outputs"] = output_digests(outputs) if entry["status"] == 0 else {}
        _record_steps(record, run_id, done)
    return entry

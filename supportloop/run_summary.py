"""The summary `supportloop run` ends with: what was decided and why, and where everything is.

Read from the outputs the steps announced (their lineage names the stage) and the summaries
the stages wrote, so it says what the run produced, not what the pipeline file intended.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supportloop.runs import LINEAGE_FILE, SUMMARY_FILE

_KEY_CRITERIA = 4  # besides the primary one: the failed or undecided criteria shown


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _stage(output: Path, command: str) -> str:
    """The stage that wrote an output: its lineage's name, else the step's command."""
    return _read(output / LINEAGE_FILE).get("stage", command) if output.is_dir() else command


def run_summary(done: list[dict[str, Any]]) -> list[str]:
    """Lines for a person: the last eval's decision with its key evidence, then the artifacts."""
    artifacts: list[tuple[str, Path]] = []
    for step in done:
        artifacts += [(_stage(Path(p), step["command"]), Path(p)) for p in step.get("outputs", {})]
    lines: list[str] = []
    evals = [path for stage, path in artifacts if stage == "eval"]
    if evals:
        lines += _decision_lines(evals[-1])
    else:
        lines.append("decision: none (no eval step finished in this run)")
    lines.append("artifacts:")
    for stage, path in artifacts:
        lines.append(f"  {stage:<18} {path}")
        lines += [f"  {'':<18} {extra}" for extra in _extras(stage, path)]
    return lines


def _decision_lines(eval_dir: Path) -> list[str]:
    summary = _read(eval_dir / SUMMARY_FILE)
    decision = summary.get("decision") or {}
    lines = [f"decision: {str(decision.get('verdict', '?')).upper()}: {decision.get('reason', '')}"]
    if decision.get("stability") is not None:
        lines.append(
            f"  stability {decision['stability']:.1%} of {decision.get('n_resamples')} resamples"
            + (
                f"; scenarios needed {decision['scenarios_needed']} "
                f"(this suite: {decision.get('n_scenarios')})"
                if decision.get("scenarios_needed")
                else ""
            )
        )
    criteria = decision.get("criteria", [])
    primary = [c for c in criteria if c["name"].startswith("primary:")]
    others = [c for c in criteria if c not in primary and c["status"] == "fail"]
    others += [c for c in criteria if c not in primary and c["status"] == "unsure"]
    for criterion in [*primary, *others[:_KEY_CRITERIA]]:
        lines.append(f"  {criterion['status'].upper()} {criterion['name']}: {criterion['value']}")
    if len(others) > _KEY_CRITERIA:
        lines.append(f"  ... {len(others) - _KEY_CRITERIA} more not passed: see the report")
    return lines


def _extras(stage: str, path: Path) -> list[str]:
    """What a reader opens next from this artifact: the report, the W&B run, the Argilla UI."""
    extras = []
    if stage == "argilla-push":
        url = _read(path / SUMMARY_FILE).get("annotation_url")
        extras += [f"annotate at {url}"] if url else []
    if (path / "report.html").is_file():
        extras.append(f"report {path / 'report.html'}")
    wandb_runs = sorted(path.glob("wandb/*run-*")) if path.is_dir() else []
    extras += [f"W&B run {wandb_runs[-1]}"] if wandb_runs else []
    return extras

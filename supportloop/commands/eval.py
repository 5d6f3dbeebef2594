"""`supportloop eval | promote | rollback | registry`: the promotion gate and the model registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from supportloop.app import OVERRIDES_HELP, app, console, user_errors

DEFAULT_REGISTRY = Path("runs/registry.sqlite")
RegistryOption = Annotated[
    Path,
    typer.Option("--registry", help="The registry's SQLite file (the eval config's `registry`)."),
]


def _registry(path: Path):
    """The registry at `path`; a relative path is relative to the project root, as in configs."""
    from eval.registry import Registry
    from supportloop.config import project_root

    return Registry(path if path.is_absolute() else project_root() / path)


@app.command("eval")
@user_errors
def eval_command(
    config: Annotated[Path, typer.Argument(help="YAML config, e.g. configs/eval/retail.yaml")],
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP)] = None,
) -> None:
    """Evaluate a candidate (base model + adapter) against the champion and apply the gate.

    Both models converse with the same simulated customers (same scenarios, same seeds);
    resolution, repeat-inquiry proxies and safety are compared with paired bootstrap CIs, the
    gate in configs/eval/gate.yaml decides, and the run dir gets summary.json, decision.json,
    a self-contained report.html and a W&B run. A passing candidate becomes the registry's
    challenger; `supportloop promote` makes it the champion.
    """
    from eval.config import EvalConfig
    from eval.run import run_eval
    from supportloop.config import load_config

    outcome = run_eval(load_config(EvalConfig, config, overrides or []), log=console.print)
    console.print(f"eval {outcome.eval_id}: {outcome.decision.verdict} -> {outcome.run_dir}")


@app.command()
@user_errors
def promote(
    eval_id: Annotated[
        str | None, typer.Option("--eval-id", help="A passing eval; default: the challenger's.")
    ] = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Make the candidate of a passing eval the champion (refused for failed or stale evals)."""
    champion = _registry(registry).promote(eval_id)
    console.print(f"champion is now {champion['model_id']} (eval {champion['eval_id']})")


@app.command()
@user_errors
def rollback(registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Restore the champion that the current champion replaced."""
    champion = _registry(registry).rollback()
    console.print(f"champion is now {champion['model_id']} (rolled back)")


@app.command("registry")
@user_errors
def show_registry(
    registry: RegistryOption = DEFAULT_REGISTRY,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """Show champion, challenger, registered models, evals and the promotion history."""
    from rich.table import Table

    reg = _registry(registry)
    state = {
        "champion": reg.role("champion"),
        "challenger": reg.role("challenger"),
        "models": reg.models(),
        "evals": reg.evals(),
        "history": reg.history(),
    }
    if as_json:
        typer.echo(json.dumps(state, indent=2, default=str))
        return
    for role in ("champion", "challenger"):
        row = state[role]
        console.print(f"{role}: {row['model_id'] if row else '-'}")
    evals = Table("eval", "candidate", "champion", "suite", "verdict", title="evals")
    for row in state["evals"]:
        evals.add_row(
            row["eval_id"], row["candidate_id"], row["champion_id"], row["suite"], row["verdict"]
        )
    history = Table("#", "at", "action", "model", "previous", "eval", title="history")
    for row in state["history"]:
        history.add_row(
            str(row["seq"]),
            row["at"],
            row["action"],
            row["model_id"],
            row["previous_id"] or "",
            row["eval_id"] or "",
        )
    console.print(evals)
    console.print(history)

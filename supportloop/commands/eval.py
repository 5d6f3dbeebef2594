"""`supportloop eval | promote | rollback | registry`: the promotion gate and the model registry."""

from __future__ import annotations

import json
import sys
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
    from supportloop.config import project_root
    from supportloop.eval.registry import Registry

    return Registry(path if path.is_absolute() else project_root() / path)


EXIT_REFUSED = 3  # --fail-on-refusal: the evaluation finished and did not promote


@app.command("eval")
@user_errors
def eval_command(
    config: Annotated[Path, typer.Argument(help="YAML config, e.g. configs/eval/retail.yaml")],
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP)] = None,
    fail_on_refusal: Annotated[
        bool,
        typer.Option(
            "--fail-on-refusal",
            help=f"Exit {EXIT_REFUSED} when the verdict is not promote (for CI gates); "
            "the run dir and registry entry are written all the same.",
        ),
    ] = False,
) -> None:
    """Evaluate a candidate (base model + adapter) against the champion and apply the gate.

    Both models converse with the same simulated customers (same scenarios, same seeds);
    resolution, repeat-inquiry proxies and safety are compared with paired bootstrap CIs, the
    gate in configs/eval/gate.yaml decides, and the run dir gets summary.json, decision.json,
    a self-contained report.html and a W&B run. A passing candidate becomes the registry's
    challenger; `supportloop promote` makes it the champion.

    W&B logs online when a key is configured (WANDB_API_KEY or `wandb login`), otherwise
    offline into the run dir (`wandb sync` uploads it later); WANDB_MODE overrides that and
    report.wandb=false skips it. The first line printed says which. The HTML report and the
    W&B run are optional: when one fails, a warning line says so and the decision stands.

    Exit status: **0** the evaluation finished, whatever the verdict (promote, reject,
    insufficient_evidence: read it in decision.json or `supportloop registry`); **2** a
    user error (config, input, model), shown as one line; **1** a crash (a traceback);
    **3** only with --fail-on-refusal: finished, and the verdict is not promote.
    """
    from supportloop.config import load_config
    from supportloop.eval.config import EvalConfig
    from supportloop.eval.run import run_eval
    from supportloop.tracking import wandb_mode

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    settings = load_config(EvalConfig, config, overrides or [])
    say(wandb_mode(settings.report.wandb).line())
    outcome = run_eval(settings, log=say)
    say(f"eval {outcome.eval_id}: {outcome.decision.verdict} -> {outcome.run_dir}")
    if fail_on_refusal and not outcome.decision.promote:
        say(f"--fail-on-refusal: verdict {outcome.decision.verdict}, exit {EXIT_REFUSED}")
        sys.exit(EXIT_REFUSED)


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
    _say_alias(champion)


@app.command()
@user_errors
def rollback(registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Restore the champion that the current champion replaced."""
    champion = _registry(registry).rollback()
    console.print(f"champion is now {champion['model_id']} (rolled back)")
    _say_alias(champion)


def _say_alias(champion: dict) -> None:
    """The W&B mirror of the champion role: moved, or what to do (the registry stands)."""
    if champion.get("wandb_alias"):
        console.print(champion["wandb_alias"], markup=False, highlight=False, soft_wrap=True)


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

"""`supportloop argilla ...`: embedded server, push, pull, agreement, webhooks, demo annotators."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportloop.app import OVERRIDES_HELP, app, console, user_errors

if TYPE_CHECKING:
    from supportloop.feedback.argilla.settings import ArgillaConfig
    from supportloop.feedback.argilla.stack import StackConfig

argilla_app = typer.Typer(
    help=(
        "Annotation in Argilla: run the embedded server, push records, pull responses, "
        "measure agreement. With ARGILLA_API_URL/ARGILLA_API_KEY set, every command uses that "
        "server and nothing local is started."
    ),
    no_args_is_help=True,
)
app.add_typer(argilla_app, name="argilla")

STACK_CONFIG = Path("configs/argilla/stack.yaml")
StackOption = Annotated[Path, typer.Option("--config", help="Stack config (YAML).")]
Overrides = Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP)]
ConfigArg = Annotated[
    Path, typer.Argument(help="Dataset config, e.g. configs/argilla/default.yaml")
]


def _stack_config(config: Path, overrides: list[str] | None) -> StackConfig:
    from supportloop.config import load_config
    from supportloop.feedback.argilla.stack import StackConfig

    return load_config(StackConfig, config, overrides or [])


def _dataset_config(config: Path, overrides: list[str] | None) -> ArgillaConfig:
    from supportloop.config import load_config
    from supportloop.feedback.argilla.settings import ArgillaConfig

    return load_config(ArgillaConfig, config, overrides or [])


@argilla_app.command()
@user_errors
def up(overrides: Overrides = None, config: StackOption = STACK_CONFIG) -> None:
    """Start the embedded Argilla server (Redis, osmem, server, worker) and wait until ready.

    Idempotent: returns at once when it is already running. Prints the UI URL and where the
    credentials file is (passwords and API keys are never printed).
    """
    from supportloop.feedback.argilla.connection import external_server
    from supportloop.feedback.argilla.stack import up as stack_up

    if external_server():
        console.print("ARGILLA_API_URL/ARGILLA_API_KEY are set: using that server, starting none")
        return
    started = time.monotonic()
    info = stack_up(_stack_config(config, overrides))
    verb = "started" if info.started else "already running"
    console.print(f"Argilla {verb} in {time.monotonic() - started:.1f} s: {info.api_url}")
    console.print(f"credentials (0600): {info.credentials_file}")


@argilla_app.command()
@user_errors
def down(overrides: Overrides = None, config: StackOption = STACK_CONFIG) -> None:
    """Stop the processes `up` started (only those; the data directory stays)."""
    from supportloop.feedback.argilla.stack import down as stack_down

    stopped = stack_down(_stack_config(config, overrides))
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@argilla_app.command()
@user_errors
def status(overrides: Overrides = None, config: StackOption = STACK_CONFIG) -> None:
    """Report whether each process of the embedded stack runs and the API answers."""
    from supportloop.feedback.argilla.connection import external_server
    from supportloop.feedback.argilla.stack import status as stack_status

    if external_server():
        console.print("using the server in ARGILLA_API_URL (not managed here)")
        return
    info = stack_status(_stack_config(config, overrides))
    for name, alive in info["processes"].items():
        console.print(f"{name}: {'running' if alive else 'stopped'}")
    console.print(f"API {info['api_url'] or '-'}: {'ok' if info['api_ok'] else 'not answering'}")
    if not info["api_ok"]:
        raise typer.Exit(1)


@argilla_app.command()
@user_errors
def push(
    config: ConfigArg,
    overrides: Overrides = None,
    out: Annotated[Path, typer.Option(help="Run directory for summary + lineage.")] = Path(
        "runs/argilla/push"
    ),
) -> None:
    """Push one record per judged assistant turn (logged reply + generated candidates).

    Record ids are stable hashes of (conversation, turn, candidate set): re-running updates
    records instead of duplicating them. Candidates come from `policy` with `sampling`.
    """
    from supportloop.feedback.argilla.push import run_push

    summary = run_push(_dataset_config(config, overrides), out)
    console.print(
        f"{summary['records']} records -> {summary['dataset']}: {summary['created']} created, "
        f"{summary['updated']} updated ({summary['skipped_fewer_than_2_candidates']} turns skipped:"
        " fewer than 2 distinct candidates)"
    )


@argilla_app.command()
@user_errors
def pull(
    config: ConfigArg,
    overrides: Overrides = None,
    need_records: Annotated[
        int,
        typer.Option(
            min=0,
            help="Exit 3 (after saving what is there) while fewer records than this have "
            "--per-record submitted responses: a pipeline stops here until annotators are done, "
            "and `supportloop run ... --resume RUN_ID` continues once they are.",
        ),
    ] = 0,
    per_record: Annotated[
        int, typer.Option(min=1, help="Submitted responses a record needs to count.")
    ] = 2,
) -> None:
    """Pull submitted and discarded responses (one row per record x annotator), incrementally.

    Writes `<pull_dir>/responses` (all current rows) and `<pull_dir>/new_responses` (new or
    changed since the previous pull); drafts are counted, not pulled.
    """
    from supportloop.feedback.argilla.connection import connect
    from supportloop.feedback.argilla.pull import pull as pull_responses
    from supportloop.feedback.argilla.pull import records_with_at_least

    cfg = _dataset_config(config, overrides)
    result = pull_responses(connect(cfg.credentials, network=cfg.network), cfg)
    console.print(
        f"{result['rows']} responses ({result['submitted']} submitted, {result['discarded']} "
        f"discarded; {result['drafts_skipped']} drafts skipped) from "
        f"{result['records_with_responses']} records; new {result['new']}, changed "
        f"{result['changed']} -> {cfg.pull_dir / 'responses'}"
    )
    ready = records_with_at_least(result["submitted_histogram"], per_record)
    if ready < need_records:
        console.print(
            f"waiting for annotators: {ready} of the {need_records} records needed have "
            f"{per_record}+ submitted responses in {cfg.dataset}; pull again once they do",
            highlight=False,
        )
        raise typer.Exit(3)


@argilla_app.command()
@user_errors
def agreement(
    config: ConfigArg,
    overrides: Overrides = None,
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/argilla/agreement"),
) -> None:
    """Krippendorff's alpha per question, agreement per annotator and per record (saved)."""
    from rich.table import Table

    from supportloop.feedback.argilla.agreement import run_agreement

    saved, summary = run_agreement(_dataset_config(config, overrides), out)
    table = Table("question", "Krippendorff alpha")
    for question, alpha in summary["alpha"].items():
        table.add_row(question, "-" if alpha is None else f"{alpha:.3f}")
    console.print(table)
    people = Table("annotator", "agreement with others")
    for who, score in summary["annotator_agreement"].items():
        people.add_row(who, "-" if score is None else f"{score:.3f}")
    console.print(people)
    console.print(f"{summary['records']} records; saved to {saved}")


@argilla_app.command()
@user_errors
def simulate(config: ConfigArg, overrides: Overrides = None) -> None:
    """DEMO ONLY: simulated annotators submit responses through the API (rules + noise).

    Uses the embedded stack's annotator accounts; see feedback/demo/simulated_annotators.py for the
    rules. Real annotation happens in the Argilla UI.
    """
    from supportloop.feedback.argilla.connection import connect
    from supportloop.feedback.demo.simulated_annotators import simulate as run_simulation

    cfg = _dataset_config(config, overrides)
    sim = cfg.simulation
    owner = connect(cfg.credentials, network=cfg.network)
    annotators = {name: connect(cfg.credentials, name, cfg.network) for name in sim.annotators}
    counts = run_simulation(owner, annotators, cfg, sim)
    console.print(
        "[bold yellow]SIMULATED annotators[/] submitted: "
        + ", ".join(f"{who} {n}" for who, n in counts.items())
    )


@argilla_app.command()
@user_errors
def listen(
    config: ConfigArg,
    overrides: Overrides = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 0,
    public_url: Annotated[
        str | None, typer.Option(help="URL the Argilla server reaches this listener at.")
    ] = None,
) -> None:
    """Pull incrementally each time Argilla reports a completed record (webhook); Ctrl-C stops.

    Registers a `record.completed` webhook for the run and deletes it on exit.
    """
    from supportloop.feedback.argilla.connection import connect
    from supportloop.feedback.argilla.webhooks import WebhookListener

    cfg = _dataset_config(config, overrides)

    def report(result: dict) -> None:
        console.print(
            f"pulled: {result['new']} new, {result['changed']} changed, {result['rows']} total"
        )

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too: leave through __exit__, unregistering the hook

    signal.signal(signal.SIGTERM, stop)
    with WebhookListener(
        connect(cfg.credentials, network=cfg.network), cfg, host, port, public_url, report
    ) as hook:
        console.print(f"listening at {hook.url} for record.completed on {cfg.dataset}")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping")

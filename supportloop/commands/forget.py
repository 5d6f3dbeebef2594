"""`supportloop forget`: erase a customer's data from the loop's stores (a deletion request)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportloop.app import app, console, user_errors

if TYPE_CHECKING:
    from supportloop.forget import ArgillaSource

ARGILLA_CONFIG = Path("configs/argilla/default.yaml")


@app.command()
@user_errors
def forget(
    customer_id: Annotated[
        list[str] | None,
        typer.Option("--customer-id", help="Customer to erase (repeatable).", show_default=False),
    ] = None,
    conversation_id: Annotated[
        list[str] | None,
        typer.Option(
            "--conversation-id", help="Conversation to erase (repeatable).", show_default=False
        ),
    ] = None,
    runs_root: Annotated[
        Path, typer.Option(help="Where the stages' run directories are searched.")
    ] = Path("runs"),
    argilla: Annotated[
        bool,
        typer.Option(
            help="Also delete the records (and responses) on the Argilla server: "
            "ARGILLA_API_URL/ARGILLA_API_KEY, else the embedded stack's credentials."
        ),
    ] = False,
    argilla_config: Annotated[
        Path, typer.Option(help="Argilla config naming the credentials, workspace and network.")
    ] = ARGILLA_CONFIG,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Where the JSON report goes [default: RUNS_ROOT/forget/forget-TIME.json].",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Find and report; change nothing.")
    ] = False,
) -> None:
    """Remove a customer's or conversation's rows from every store the loop wrote.

    Searches every run directory under --runs-root (found by its lineage.json) and the Argilla
    pull directory: ingested conversations, the quarantine and duplicates files, pulled
    responses, agreement, preference datasets (pairs, KTO, SFT), eval win-rate prompts. A
    customer's conversation ids and annotation record ids are found there, so every row that
    names them goes. Each artifact is rewritten atomically and its lineage updated (digests,
    and a `forgotten` entry with sha256 digests of the ids, never the ids), so
    verify_artifacts still passes. With --argilla, the records of those conversations are
    deleted on the server too, in every dataset of the workspace.

    Adapters trained on the data and the raw logs ingest read are listed, not changed:
    retraining is the operator's decision. The report (JSON, ids as digests) says what was
    removed where. Exit 0 also when nothing was found; 2 on bad input or a missing runs root.
    """
    from supportloop.forget import ForgetRequest, run_forget
    from supportloop.forget.report import summary_lines

    source = _argilla_source(argilla_config) if argilla else None
    request = ForgetRequest(
        tuple(customer_id or ()), tuple(conversation_id or ()), runs_root, source, dry_run
    )
    result = run_forget(request, report)
    for line in summary_lines(result):
        console.print(line, highlight=False, soft_wrap=True)
    if dry_run:
        print(json.dumps(result, indent=2))
    else:
        console.print(f"report: {result['report']}", highlight=False, soft_wrap=True)


def _argilla_source(config: Path) -> ArgillaSource:
    """The owner's connection and workspace, by the rules of the `argilla` commands."""
    from supportloop.config import load_config
    from supportloop.feedback.argilla.connection import connect
    from supportloop.feedback.argilla.settings import ArgillaConfig
    from supportloop.forget import ArgillaSource

    settings = load_config(ArgillaConfig, config, [])
    connection = connect(settings.credentials, network=settings.network)
    return ArgillaSource(connection, settings.workspace or connection.workspace)

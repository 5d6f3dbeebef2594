"""Entry point of the `supportloop` command: the app with every stage's commands registered.

Add a stage's commands by importing its module from `supportloop.commands` here.
"""

from supportloop.app import app
from supportloop.commands import (  # noqa: F401  (registers commands)
    argilla,
    forget,
    ingest,
    preferences,
    run,
    setup,
    train,
)
from supportloop.commands import eval as _eval  # noqa: F401  (eval, promote, rollback, registry)

__all__ = ["app"]

"""Entry point of the `supportloop` command: the app with every stage's commands registered.

Add a stage's commands by importing its module from `supportloop.commands` here.
"""

from supportloop.app import app
from supportloop.commands import argilla  # noqa: F401  (registers the argilla sub-app)
from supportloop.commands import preferences, setup, train  # noqa: F401  (registers commands)

__all__ = ["app"]

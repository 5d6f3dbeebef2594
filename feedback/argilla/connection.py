"""Which Argilla server to talk to, and with which key: env first, then the embedded stack.

`ARGILLA_API_URL` + `ARGILLA_API_KEY` in the environment win (stock Argilla, an HF Space); the
embedded stack is never started then. Otherwise the credentials file written by
`supportloop argilla up` (mode 0600) supplies the URL and the keys; one that group or others
may read or change is refused. Keys are kept out of `repr` so they never land in logs or
tracebacks. Both ways to call the server (the SDK client and the REST session) come from
here, with the config's `network:` timeouts and retries.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from supportloop.errors import UserError
from supportloop.feedback.argilla.network import NetworkConfig

if TYPE_CHECKING:
    import argilla as rg

    from supportloop.feedback.argilla.rest import ArgillaSession


class ArgillaConnectionError(UserError):
    """No server configured, a user missing from the credentials file, or a file others read."""


@dataclass(frozen=True)
class Connection:
    """One user's access to one Argilla server."""

    api_url: str
    username: str | None
    api_key: str = field(repr=False)
    workspace: str | None = None
    network: NetworkConfig = field(default_factory=NetworkConfig, compare=False)

    def client(self) -> rg.Argilla:
        """The SDK client (it checks the key at once); failures raise `ArgillaHTTPError`."""
        from supportloop.feedback.argilla.sdk import make_client

        return make_client(self.api_url, self.api_key, self.network)

    def session(self, searches: bool = False) -> ArgillaSession:
        """A `requests` session for the REST calls the SDK does not cover (rankings, status).

        `searches=True` for a session that only POSTs record searches: those POSTs are
        retried like GETs. Never for one that submits or creates anything.
        """
        from supportloop.feedback.argilla.rest import ArgillaSession

        return ArgillaSession(self.api_key, self.network, searches)


def external_server() -> bool:
    return bool(os.environ.get("ARGILLA_API_URL") and os.environ.get("ARGILLA_API_KEY"))


def connect(
    credentials_file: Path, username: str | None = None, network: NetworkConfig | None = None
) -> Connection:
    """The owner's connection (or `username`'s): from env when set, else the credentials file."""
    network = network or NetworkConfig()
    if external_server() and username is None:
        return Connection(
            os.environ["ARGILLA_API_URL"].rstrip("/"),
            None,
            os.environ["ARGILLA_API_KEY"],
            os.environ.get("ARGILLA_WORKSPACE"),
            network,
        )
    if not credentials_file.is_file():
        raise ArgillaConnectionError(
            f"{credentials_file}: no Argilla credentials; run `supportloop argilla up` "
            "or set ARGILLA_API_URL and ARGILLA_API_KEY"
        )
    data = read_credentials(credentials_file)
    name = username or data["owner"]
    if name not in data["users"]:
        raise ArgillaConnectionError(f"{credentials_file}: no user {name!r}")
    return Connection(
        data["api_url"], name, data["users"][name]["api_key"], data["workspace"], network
    )


def annotators(credentials_file: Path) -> list[str]:
    """Usernames with the annotator role in the embedded stack's credentials file."""
    data = read_credentials(credentials_file)
    return [name for name, user in data["users"].items() if user["role"] == "annotator"]


def read_credentials(credentials_file: Path) -> dict:
    """The credentials file's contents; refused when group or others may read or change it
    (its keys would be theirs, its URL theirs to point elsewhere)."""
    mode = stat.S_IMODE(credentials_file.stat().st_mode)
    if mode & 0o077:
        raise ArgillaConnectionError(
            f"{credentials_file}: mode {mode:04o} lets other users read or change its API keys; "
            f"`chmod 600 {credentials_file}` if nobody else could have read them, else delete "
            "it and run `supportloop argilla up` for new keys"
        )
    return json.loads(credentials_file.read_text(encoding="utf-8"))

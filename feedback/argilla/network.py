"""How long to wait for an Argilla server, what to retry, and how a failed call reads.

One policy for both HTTP stacks the project uses (the SDK's httpx client, `rest.py`'s requests
session): every request has a timeout, idempotent calls (GET, PUT, DELETE...) are retried with
exponential backoff after a refused connection or a 429/5xx answer, and a call that still fails
becomes an `ArgillaHTTPError` whose one-line message names the server, the call and the cause,
which the CLI prints instead of a traceback. A request that timed out is not retried: a
stalled server would only multiply the wait.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from pydantic import Field

from supportloop.config import StrictModel
from supportloop.errors import UserError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
HINTS = {
    401: "check the API key (ARGILLA_API_KEY or the credentials file)",
    403: "this user may not do that",
}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


class NetworkConfig(StrictModel):
    """Timeouts and retries for calls to the Argilla server (`network:` in the config)."""

    timeout_s: float = Field(
        60, gt=0, description="Longest wait for the server's answer to one request, seconds."
    )
    connect_timeout_s: float = Field(10, gt=0, description="Longest wait to connect, seconds.")
    retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of idempotent calls after a refused connection or a 429/5xx "
        "answer (a timed-out request is not retried).",
    )
    backoff_s: float = Field(
        0.5, ge=0, description="Backoff factor: retry n waits backoff_s * 2**(n-1) (first: 0)."
    )


class ArgillaHTTPError(UserError):
    """A call to the Argilla server failed: no answer in time, no connection, or an error status."""


def backoff_delay(network: NetworkConfig, retry: int) -> float:
    """Seconds before retry number `retry` (1-based), as urllib3's `Retry` computes them."""
    return 0.0 if retry <= 1 else min(network.backoff_s * 2 ** (retry - 1), 30.0)


def server_and_call(method: str, url: str) -> tuple[str, str]:
    """("http://host:port", "GET /api/v1/me") for the message of a failed call."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}", f"{method.upper()} {parts.path or '/'}"


def _detail(text: str) -> str:
    """The server's reason in one short line (Argilla answers `{"detail": ...}`)."""
    try:
        body = json.loads(text)
        detail = body.get("detail", body) if isinstance(body, dict) else body
        text = detail if isinstance(detail, str) else json.dumps(detail)
    except (ValueError, TypeError):
        pass
    line = " ".join(str(text).split())
    return line if len(line) <= 200 else line[:197] + "..."


def _retried(retries: int) -> str:
    return f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""


def status_message(
    method: str, url: str, status: int, reason: str, body: str, retries: int = 0
) -> str:
    """`Argilla server URL: GET /path -> HTTP 404 Not Found: <detail>` (one line)."""
    server, call = server_and_call(method, url)
    message = f"Argilla server {server}: {call} -> HTTP {status} {reason}".rstrip()
    detail = _detail(body)
    message += f"{_retried(retries)}: {detail}" if detail else _retried(retries)
    hint = HINTS.get(status)
    return f"{message} ({hint})" if hint else message


def timeout_message(
    method: str, url: str, seconds: float, connecting: bool, retries: int = 0
) -> str:
    """No answer (never retried) or no connection (each retry waited `seconds` too)."""
    server, call = server_and_call(method, url)
    what, key = (
        ("could not connect", "connect_timeout_s") if connecting else ("no answer", "timeout_s")
    )
    return (
        f"Argilla server {server}: {call}: {what} within {seconds:g} s{_retried(retries)} "
        f"(raise network.{key} in the Argilla config if the server is just slow)"
    )


def connect_message(method: str, url: str, cause: BaseException, retries: int) -> str:
    server, call = server_and_call(method, url)
    found = _ERRNO.search(str(cause))
    reason = found.group(1).strip() if found else type(cause).__name__
    return f"Argilla server {server}: {call}: cannot connect ({reason}){_retried(retries)}"

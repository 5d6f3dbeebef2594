"""The requests session for the REST calls the SDK does not cover (rankings, search, status).

Built by `Connection.session()`: the API key header, the network policy's timeout on every
request, urllib3 `Retry` for idempotent calls, and transport failures (timeout, refused
connection) raised as `ArgillaHTTPError`. Error statuses stay responses, since some callers
branch on them; `check(reply)` turns one into an `ArgillaHTTPError`.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from supportloop.feedback.argilla.network import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    ArgillaHTTPError,
    NetworkConfig,
    connect_message,
    status_message,
    timeout_message,
)


def retry_policy(network: NetworkConfig, methods: frozenset[str] = IDEMPOTENT_METHODS) -> Retry:
    """Connection failures and 429/5xx answers to idempotent calls; never a read timeout."""
    return Retry(
        total=network.retries,
        connect=network.retries,
        read=False,  # re-raise at once: a stalled server would multiply the wait
        status=network.retries,
        allowed_methods=methods,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=network.backoff_s,
        backoff_max=30,
        raise_on_status=False,  # hand back the last answer: `check` names its status
    )


class ArgillaSession(requests.Session):
    """A session whose every request has the policy's timeout, retries and one-line errors."""

    def __init__(self, api_key: str, network: NetworkConfig, searches: bool = False) -> None:
        super().__init__()
        self.network = network
        self.headers["X-Argilla-Api-Key"] = api_key
        # Argilla's record searches are POSTs that change nothing: a session used only for
        # them retries POST as well.
        methods = IDEMPOTENT_METHODS | {"POST"} if searches else IDEMPOTENT_METHODS
        adapter = HTTPAdapter(max_retries=retry_policy(network, methods))
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        net = self.network
        kwargs.setdefault("timeout", (net.connect_timeout_s, net.timeout_s))
        method, url = _text(method), _text(url)
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.ConnectTimeout as exc:
            raise ArgillaHTTPError(
                timeout_message(method, url, net.connect_timeout_s, True, net.retries)
            ) from exc
        except requests.Timeout as exc:
            raise ArgillaHTTPError(
                timeout_message(method, url, net.timeout_s, connecting=False)
            ) from exc
        except requests.ConnectionError as exc:
            raise ArgillaHTTPError(connect_message(method, url, exc, net.retries)) from exc
        except requests.RequestException as exc:
            raise ArgillaHTTPError(connect_message(method, url, exc, 0)) from exc


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def retries_used(reply: requests.Response) -> int:
    """How many times urllib3 retried before this answer (0 when it cannot tell)."""
    retry = getattr(reply.raw, "retries", None)
    return len(retry.history) if retry is not None else 0


def check(reply: requests.Response) -> requests.Response:
    """`reply` when its status is below 400, else an `ArgillaHTTPError` naming the call."""
    if reply.status_code < 400:
        return reply
    request = reply.request
    raise ArgillaHTTPError(
        status_message(
            request.method or "GET",
            request.url or reply.url,
            reply.status_code,
            reply.reason or "",
            reply.text,
            retries_used(reply),
        )
    )

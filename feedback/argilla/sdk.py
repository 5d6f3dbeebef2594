"""The argilla SDK client with the network policy, and its errors as `ArgillaHTTPError`.

The SDK (argilla 2.8) talks through an `httpx.Client`; its own `retries` only retries failed
connections, without backoff. `RetryingTransport`, mounted for every URL, adds the policy's
retries of idempotent calls answered 429/5xx, and the client gets the policy's timeouts.
The SDK hands httpx a transport of its own, so httpx never applies HTTP(S)_PROXY to it (the
REST session, requests, does): `RetryingTransport` honours the proxy variables itself (stdlib
`getproxies`/`proxy_bypass`, NO_PROXY included), so both clients take the same route, with
the same retries.
The SDK turns error statuses into its own exceptions (their message drops the URL) and lets
httpx timeouts through: `sdk_errors` finds the httpx error in the chain and raises one line.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from supportloop.feedback.argilla.network import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    ArgillaHTTPError,
    NetworkConfig,
    backoff_delay,
    connect_message,
    status_message,
    timeout_message,
)

if TYPE_CHECKING:
    import argilla as rg

RETRIES_USED = "supportloop_retries"  # response extension: retries before this answer


class RetryingTransport(httpx.BaseTransport):
    """Retries idempotent requests answered 429/5xx, honouring a numeric Retry-After."""

    def __init__(self, network: NetworkConfig, proxies: dict[str, str] | None = None) -> None:
        """`proxies`: scheme -> proxy URL; default: the environment's (HTTP_PROXY, ...)."""
        self.network = network
        self.direct = httpx.HTTPTransport(retries=network.retries)  # refused connections
        proxies = urllib.request.getproxies() if proxies is None else proxies
        self.proxied = {
            scheme: httpx.HTTPTransport(proxy=url, retries=network.retries)
            for scheme, url in proxies.items()
            if scheme in ("http", "https", "all")
        }

    def inner(self, url: httpx.URL) -> httpx.HTTPTransport:
        """The proxy transport for this URL's scheme, or the direct one (none set, NO_PROXY)."""
        proxy = self.proxied.get(url.scheme) or self.proxied.get("all")
        if proxy is None or urllib.request.proxy_bypass(url.host):
            return self.direct
        return proxy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retry = 0
        inner = self.inner(request.url)
        while True:
            response = inner.handle_request(request)
            if (
                retry >= self.network.retries
                or request.method not in IDEMPOTENT_METHODS
                or response.status_code not in RETRY_STATUSES
            ):
                response.extensions = {**response.extensions, RETRIES_USED: retry}
                return response
            response.close()
            retry += 1
            time.sleep(_wait(response, backoff_delay(self.network, retry)))

    def close(self) -> None:
        for transport in {self.direct, *self.proxied.values()}:
            transport.close()


def _wait(response: httpx.Response, default: float) -> float:
    after = response.headers.get("Retry-After", "")
    return min(float(after), 30.0) if after.isdigit() else default


def make_client(api_url: str, api_key: str, network: NetworkConfig) -> rg.Argilla:
    """An `rg.Argilla` client with the policy's timeouts and retries (it checks the key)."""
    import argilla as rg

    timeout = httpx.Timeout(network.timeout_s, connect=network.connect_timeout_s)
    with sdk_errors(network):
        return rg.Argilla(
            api_url=api_url,
            api_key=api_key,
            timeout=timeout,
            retries=network.retries,
            mounts={"all://": RetryingTransport(network)},
        )


def _httpx_error(exc: BaseException) -> httpx.HTTPError | None:
    """The httpx error behind an SDK exception (raised from or while handling it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, httpx.HTTPError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def message_for(error: httpx.HTTPError, network: NetworkConfig) -> str:
    """The one-line message of a failed SDK call."""
    request = error.request
    method, url = request.method, str(request.url)
    if isinstance(error, httpx.HTTPStatusError):
        response = error.response
        return status_message(
            method,
            url,
            response.status_code,
            response.reason_phrase,
            response.text,
            response.extensions.get(RETRIES_USED, 0),
        )
    if isinstance(error, httpx.ConnectTimeout):
        return timeout_message(method, url, network.connect_timeout_s, True, network.retries)
    if isinstance(error, httpx.TimeoutException):
        return timeout_message(method, url, network.timeout_s, connecting=False)
    return connect_message(method, url, error, network.retries)


@contextmanager
def sdk_errors(network: NetworkConfig) -> Iterator[None]:
    """Raise SDK and httpx failures of calls inside the block as `ArgillaHTTPError`."""
    try:
        yield
    except Exception as exc:  # the SDK's own types are private: look for httpx's underneath
        error = _httpx_error(exc)
        if error is None:
            raise
        raise ArgillaHTTPError(message_for(error, network)) from exc

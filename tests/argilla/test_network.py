"""Calls to an Argilla server cannot hang, retry what is safe to retry, and fail in one line.

Against real sockets: a server that accepts and never answers, a tiny HTTP server that answers
5xx before OK, a closed port, and the session's real Argilla stack for 401 and 404.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.network import ArgillaHTTPError, NetworkConfig
from supportloop.feedback.argilla.pull import iter_records, pull
from supportloop.feedback.argilla.sdk import RetryingTransport
from supportloop.feedback.argilla.settings import ArgillaConfig

FAST = NetworkConfig(timeout_s=1, connect_timeout_s=1, retries=2, backoff_s=0.01)
USER = {"id": str(uuid.uuid4()), "username": "owner", "role": "owner"}


@pytest.fixture
def stalled_url() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class Flaky:
    """A local HTTP server answering `statuses` in turn (then 200), logging each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.seen = list(statuses), []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                flaky.seen.append(f"{self.command} {self.path}")
                status = flaky.statuses.pop(0) if flaky.statuses else 200
                body = json.dumps(USER if status == 200 else {"detail": "warming up"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky() -> Iterator[type[Flaky]]:
    servers: list[Flaky] = []

    def make(statuses: list[int]) -> Flaky:
        servers.append(Flaky(statuses))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _connection(url: str, key: str = "key") -> Connection:
    return Connection(url, None, key, "ws", FAST)


def _one_line(message: str) -> str:
    assert "\n" not in message.strip(), message
    return message


def test_stalled_server_fails_a_pull_within_the_timeout(stalled_url, tmp_path):
    config = ArgillaConfig(dataset="d", pull_dir=tmp_path / "pull", network=FAST)
    started = time.monotonic()
    with pytest.raises(ArgillaHTTPError) as info:
        pull(_connection(stalled_url), config)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5, elapsed  # one timeout, not one per retry
    assert _one_line(str(info.value)) == (
        f"Argilla server {stalled_url}: GET /api/v1/me/datasets: no answer within 1 s "
        "(raise network.timeout_s in the Argilla config if the server is just slow)"
    )


def test_stalled_server_fails_the_sdk_client_within_the_timeout(stalled_url):
    started = time.monotonic()
    with pytest.raises(ArgillaHTTPError, match=r"GET /api/v1/me: no answer within 1 s"):
        _connection(stalled_url).client()
    assert time.monotonic() - started < 2.5


@pytest.mark.slow
def test_stalled_server_cli_prints_one_line_and_exits_2(fresh_cli, stalled_url, tmp_path):
    started = time.monotonic()
    done = fresh_cli(
        "argilla",
        "pull",
        "configs/argilla/default.yaml",
        "network.timeout_s=1",
        f"pull_dir={tmp_path / 'pull'}",
        timeout=120,
        ARGILLA_API_URL=stalled_url,
        ARGILLA_API_KEY="key",
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{stalled_url}: GET /api/v1/me/datasets: no answer within 1 s" in lines[0]
    assert elapsed < 60, elapsed  # process start + 1 s, never a hang


def test_rest_session_retries_5xx_then_ok(flaky):
    server = flaky([503, 502])
    reply = _connection(server.url).session().get(f"{server.url}/api/v1/me")
    assert reply.status_code == 200
    assert server.seen == ["GET /api/v1/me"] * 3


def test_rest_session_gives_up_after_the_retries_in_one_line(flaky):
    server = flaky([503] * 10)
    session = _connection(server.url).session()
    with pytest.raises(ArgillaHTTPError) as info:
        iter_records(_connection(server.url), "ds-1")
    assert len(server.seen) == 3  # the call and 2 retries
    assert _one_line(str(info.value)) == (
        f"Argilla server {server.url}: GET /api/v1/datasets/ds-1/records -> "
        "HTTP 503 Service Unavailable after 2 retries: warming up"
    )
    server.seen.clear()
    assert session.post(f"{server.url}/api/v1/x", json={}).status_code == 503
    assert server.seen == ["POST /api/v1/x"]  # not idempotent: never retried


def test_a_search_session_retries_its_posts_and_only_it(flaky):
    """Argilla's record search is a POST that changes nothing (the simulated annotators' queue
    asks through such a session); an ordinary session never repeats a POST."""
    server = flaky([503, 502])
    search = f"{server.url}/api/v1/me/datasets/ds-1/records/search"
    assert _connection(server.url).session(searches=True).post(search, json={}).ok
    assert server.seen == ["POST /api/v1/me/datasets/ds-1/records/search"] * 3
    server.statuses = [503]
    assert _connection(server.url).session().post(search, json={}).status_code == 503
    assert len(server.seen) == 4


def test_sdk_client_retries_5xx_then_ok(flaky):
    server = flaky([503, 500])
    client = _connection(server.url).client()  # the SDK checks the key: GET /api/v1/me
    assert server.seen == ["GET /api/v1/me"] * 3
    assert client.api_url == server.url


def test_sdk_transport_leaves_posts_alone(flaky):
    server = flaky([503])
    with httpx.Client(transport=RetryingTransport(FAST), base_url=server.url) as client:
        assert client.post("/api/v1/x", json={}).status_code == 503
    assert server.seen == ["POST /api/v1/x"]


def test_closed_port_is_one_line_after_the_retries():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        with pytest.raises(ArgillaHTTPError) as info:
            _connection(url).session().get(f"{url}/api/v1/me")
    assert _one_line(str(info.value)) == (
        f"Argilla server {url}: GET /api/v1/me: cannot connect (Connection refused) after 2 retries"
    )


@pytest.mark.argilla
def test_real_argilla_401_and_404_are_one_line(argilla_stack, owner):
    url = argilla_stack.api_url
    with pytest.raises(ArgillaHTTPError) as info:
        _connection(url, key="not-a-key").client()
    assert _one_line(str(info.value)).startswith(
        f"Argilla server {url}: GET /api/v1/me -> HTTP 401 Unauthorized"
    )
    assert str(info.value).endswith("(check the API key (ARGILLA_API_KEY or the credentials file))")
    missing = str(uuid.uuid4())
    with pytest.raises(ArgillaHTTPError) as info:
        iter_records(owner, missing)
    assert _one_line(str(info.value)).startswith(
        f"Argilla server {url}: GET /api/v1/datasets/{missing}/records -> HTTP 404 Not Found: "
    )


@pytest.mark.argilla
@pytest.mark.slow
def test_real_argilla_401_in_the_cli(fresh_cli, argilla_stack, tmp_path: Path):
    done = fresh_cli(
        "argilla",
        "pull",
        "configs/argilla/default.yaml",
        f"pull_dir={tmp_path / 'pull'}",
        timeout=120,
        ARGILLA_API_URL=argilla_stack.api_url,
        ARGILLA_API_KEY="not-a-key",
    )
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{argilla_stack.api_url}: GET /api/v1/me/datasets -> HTTP 401" in lines[0]


def test_full_backlog_is_a_connect_timeout_in_one_line():
    """A listener whose accept queue is full drops new SYNs (Linux): connecting times out."""
    net = NetworkConfig(timeout_s=1, connect_timeout_s=1, retries=1, backoff_s=0.01)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        with pytest.raises(ArgillaHTTPError) as info:
            Connection(url, None, "key", "ws", net).session().get(f"{url}/api/v1/me")
        elapsed = time.monotonic() - started
        for filler in fillers:
            filler.close()
    assert 2.0 <= elapsed < 4.0, elapsed  # the call and one retry, 1 s each
    assert _one_line(str(info.value)).startswith(
        f"Argilla server {url}: GET /api/v1/me: could not connect within 1 s after 1 retry"
    )


def test_sdk_client_goes_through_the_environment_proxy_with_retries(flaky, monkeypatch):
    proxy = flaky([503])  # a forward proxy sees the absolute URL in the request line
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    _connection("http://argilla.invalid:6900").client()
    assert proxy.seen == ["GET http://argilla.invalid:6900/api/v1/me"] * 2


def test_sdk_client_skips_the_proxy_for_no_proxy_hosts(flaky, monkeypatch):
    proxy, server = flaky([]), flaky([])
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    _connection(server.url).client()
    assert (proxy.seen, server.seen) == ([], ["GET /api/v1/me"])

"""`supportloop argilla listen`: pull incrementally whenever Argilla says a record is completed.

Registers an Argilla webhook (`record.completed`, i.e. a record reached its task-distribution
overlap) pointing at a small local HTTP listener, verifies each delivery's Standard Webhooks
signature, and runs an incremental pull in a background thread. Deliveries that arrive while a
pull runs are coalesced into one follow-up pull. The webhook is deleted again on stop.
Argilla delivers webhooks from its background worker, which must be able to reach the
listener's URL (`public_url` when the server is not on this machine).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.pull import find_dataset, pull
from supportloop.feedback.argilla.rest import check
from supportloop.feedback.argilla.settings import ArgillaConfig

EVENTS = ["record.completed"]


class WebhookListener:
    """A local HTTP endpoint + registered webhook + pull thread; use as a context manager."""

    def __init__(
        self,
        owner: Connection,
        config: ArgillaConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        on_pull: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.owner, self.config, self.on_pull = owner, config, on_pull
        self.dataset_id = find_dataset(owner, config)["id"]
        self.events_received = 0
        self.pulls: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self.url = public_url or f"http://{host}:{self._server.server_address[1]}/argilla"
        self._webhook: dict[str, Any] | None = None
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._pull_loop, daemon=True),
        ]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = listener.receive(body, dict(self.headers))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet: the CLI reports pulls
                return

        return Handler

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """Verify and act on one delivery; returns the HTTP status to answer with."""
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        if self._webhook is None:
            return 503
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            Webhook(self._webhook["secret"]).verify(body, lowered)
        except WebhookVerificationError:
            return 401
        event = json.loads(body)
        record = event.get("data") or {}
        dataset_id = (record.get("dataset") or {}).get("id") or record.get("dataset_id")
        if event.get("type") in EVENTS and dataset_id == self.dataset_id:
            self.events_received += 1
            self._wake.set()
        return 200

    def _pull_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._wake.wait(timeout=0.2):
                continue
            self._wake.clear()
            result = pull(self.owner, self.config)
            self.pulls.append(result)
            if self.on_pull:
                self.on_pull(result)

    def start(self) -> WebhookListener:
        for thread in self._threads:
            thread.start()
        reply = self.owner.session().post(
            f"{self.owner.api_url}/api/v1/webhooks",
            json={"url": self.url, "events": EVENTS, "description": "supportloop argilla listen"},
        )
        self._webhook = check(reply).json()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:  # an unreachable server must not leave the listener's threads running
            if self._webhook is not None:
                self.owner.session().delete(
                    f"{self.owner.api_url}/api/v1/webhooks/{self._webhook['id']}"
                )
                self._webhook = None
        finally:
            self._server.shutdown()
            self._server.server_close()
            for thread in self._threads:
                thread.join(timeout=30)

    def __enter__(self) -> WebhookListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

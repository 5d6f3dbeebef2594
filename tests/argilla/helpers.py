"""Plain helpers for the Argilla tests: contract-shaped conversations and candidate functions."""

from __future__ import annotations

import os
from pathlib import Path

from supportloop.models.sampling import Candidate

REPO = Path(__file__).resolve().parents[2]
ANNOTATORS = ["annotator-1", "annotator-2", "annotator-3"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_conversation(i: int, n_turns: int = 1, resolved: bool | None = True) -> dict:
    """A conversation in the ingest contract (PII already replaced by placeholders)."""
    messages = []
    for turn in range(n_turns):
        messages.append(
            {
                "role": "user",
                "content": f"Order #W{1000 + i}: can I return item {turn}?",
                "created_at": "2026-11-01T10:00:00+00:00",
            }
        )
        messages.append(
            {
                "role": "assistant",
                "content": f"Yes, returns are accepted within 30 days ({turn}).",
                "created_at": None,
            }
        )
    return {
        "conversation_id": f"conv-{i}",
        "customer_id": f"cust-{i % 3}",
        "started_at": "2026-11-01T10:00:00+00:00",
        "channel": "chat",
        "locale": "en",
        "model_version": "v1",
        "topic": "returns" if i % 2 else None,
        "messages": messages,
        "context": {
            "retrieved_docs": [
                {
                    "doc_id": "policy-returns",
                    "title": "Returns",
                    "text": "Items can be returned within 30 days of delivery for a refund.",
                }
            ],
            "customer_profile": '{"name": "<PERSON_1>", "email": "<EMAIL_1>"}',
        },
        "signals": {
            "thumbs": [{"turn_index": 1, "value": "down"}],
            "csat": 4,
            "escalated": False,
            "resolved": resolved,
        },
        "metadata": "{}",
        "repeat_contact": False,
        "repeat_of": None,
    }


def fixed_candidates(extra: list[str]):
    """A candidate function: the logged reply plus `extra` generated texts (collapsed)."""

    def generate(prompts: list[list[dict]], logged: list[str | None]) -> list[list[Candidate]]:
        out = []
        for reply in logged:
            texts = [("logged", reply), *(("generated", t) for t in extra)]
            seen, cands = set(), []
            for source, text in texts:
                if text and text not in seen:
                    seen.add(text)
                    cands.append(Candidate(f"c{len(cands)}", text, source))
            out.append(cands)
        return out

    return generate


# Headless Chromium for the UI tests: Debian's, driven by Playwright.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LAPTOP = {"width": 1440, "height": 900}  # what an annotator sees on a laptop screen
ARTIFACTS = Path(
    os.environ.get(
        "SUPPORTLOOP_TEST_ARTIFACTS", Path(__file__).parents[2] / "runs" / "test-artifacts"
    )
)


def sign_in(page, url: str, username: str, password: str) -> None:
    """Sign in through the UI's form; requests to any other host are blocked (web fonts)."""
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(url) else route.abort(),
    )
    page.goto(f"{url}/sign-in")
    page.locator("input[name=Username]").fill(username)
    page.locator("input[name=Password]").fill(password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda u: "/sign-in" not in u, timeout=30_000)


def text_field(page, title: str):
    return page.locator(".text_field_component").filter(has_text=title)

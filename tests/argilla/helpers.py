"""Plain helpers for the Argilla tests: contract-shaped conversations and candidate functions."""

from __future__ import annotations

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

"""One real embedded Argilla stack per test session, and contract-shaped conversations.

The stack (argilla-server 2.8 + Redis + osmem, from .venv-argilla-server) starts once on a free
port in a temporary data directory and is stopped at the end. ARGILLA_API_URL/KEY are removed
for the session so the tests always talk to this stack, whatever the developer's shell has.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supportloop.feedback.argilla.connection import Connection, connect
from supportloop.feedback.argilla.settings import ArgillaConfig
from supportloop.feedback.argilla.stack import StackConfig, StackInfo, down, up
from supportloop.models.sampling import Candidate

REPO = Path(__file__).resolve().parents[2]
ANNOTATORS = ["annotator-1", "annotator-2", "annotator-3"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def stack_config(tmp_path_factory: pytest.TempPathFactory) -> StackConfig:
    if not (REPO / ".venv-argilla-server" / "bin" / "python").is_file():
        pytest.fail(".venv-argilla-server missing: run bash scripts/setup.sh")
    return StackConfig(
        data_dir=tmp_path_factory.mktemp("argilla"),
        port=_free_port(),
        server_venv=REPO / ".venv-argilla-server",
        annotators=ANNOTATORS,
    )


@pytest.fixture(scope="session")
def argilla_stack(stack_config: StackConfig) -> StackInfo:
    saved = {
        k: os.environ.pop(k) for k in ("ARGILLA_API_URL", "ARGILLA_API_KEY") if k in os.environ
    }
    info = up(stack_config)
    yield info
    down(stack_config)
    os.environ.update(saved)


@pytest.fixture(scope="session")
def owner(argilla_stack: StackInfo) -> Connection:
    return connect(argilla_stack.credentials_file)


@pytest.fixture(scope="session")
def annotator_connections(argilla_stack: StackInfo) -> dict[str, Connection]:
    return {name: connect(argilla_stack.credentials_file, name) for name in ANNOTATORS}


@pytest.fixture
def dataset_config(argilla_stack: StackInfo, tmp_path: Path, request: pytest.FixtureRequest):
    """A config for a dataset of this test's own (name from the test), pulling into tmp."""
    name = request.node.name.replace("_", "-")[:60]
    return ArgillaConfig(
        dataset=name,
        credentials=argilla_stack.credentials_file,
        guidelines=REPO / "docs" / "annotation-guidelines.md",
        pull_dir=tmp_path / "pull",
        min_submitted=2,
    )


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


@pytest.fixture(scope="session")
def conversation():
    """`conversation(i, n_turns=1, resolved=True)` -> a contract-shaped conversation."""
    return make_conversation


@pytest.fixture(scope="session")
def candidates():
    """`candidates(extra_texts)` -> a candidate function for `push`."""
    return fixed_candidates

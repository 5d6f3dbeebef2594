"""One real embedded Argilla stack per test session.

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
from tests.argilla.helpers import ANNOTATORS, REPO, free_port


@pytest.fixture(scope="session")
def stack_config(tmp_path_factory: pytest.TempPathFactory) -> StackConfig:
    if not (REPO / ".venv-argilla-server" / "bin" / "python").is_file():
        pytest.fail(".venv-argilla-server missing: run bash scripts/setup.sh")
    return StackConfig(
        data_dir=tmp_path_factory.mktemp("argilla"),
        port=free_port(),
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

"""API keys come only from the environment or 0600 files, and never land in what a stage
writes or shows: distinctive fake keys are configured, real stages and failing calls run (no
network: W&B offline, closed localhost ports), and every file written and every line printed
or raised is searched for them."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.eval.simulator import openai_backend
from supportloop.feedback.argilla.connection import ArgillaConnectionError, annotators, connect
from supportloop.feedback.argilla.network import ArgillaHTTPError, NetworkConfig
from supportloop.feedback.argilla.stack import StackConfig, ensure_credentials
from tests.argilla.helpers import free_port
from tests.eval.helpers import ACME_SUITE
from tests.foundation.leak_search import files_holding

KEYS = {
    "ARGILLA_API_KEY": "sk-test-SECRET-argilla-1234abcd",
    "WANDB_API_KEY": "sk-test-SECRET-wandb-5678efgh",
    "OPENAI_API_KEY": "sk-test-SECRET-openai-9012ijkl",
}
NO_RETRIES = NetworkConfig(timeout_s=2, connect_timeout_s=2, retries=0)


def _leaks(text: str) -> list[str]:
    return [name for name, key in KEYS.items() if key in text]


def _files_with_keys(root: Path) -> list[str]:
    """Every file under root, binary ones included, that holds one of the keys."""
    return [
        f"{path}: {name}" for path, names in files_holding(root, _leaks).items() for name in names
    ]


@pytest.fixture
def stack_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded stack's credentials file as `supportloop argilla up` writes it, written
    under umask 000 (nothing masked), with no Argilla server in the environment."""
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    before = os.umask(0)
    try:
        return ensure_credentials(StackConfig(data_dir=tmp_path, annotators=["a1"]), "http://x:1")
    finally:
        os.umask(before)


def test_the_credentials_file_is_0600_even_under_umask_000(stack_credentials: Path) -> None:
    """Written 0600 whatever the umask, and read back: its keys are never readable by others."""
    assert stack_credentials.stat().st_mode & 0o777 == 0o600
    assert connect(stack_credentials).username == "owner"
    assert annotators(stack_credentials) == ["a1"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620], ids=lambda mode: f"{mode:04o}")
def test_a_credentials_file_others_may_read_or_change_is_refused(
    stack_credentials: Path, mode: int
) -> None:
    """Its keys may be someone else's now (or its URL theirs): refused, one line saying why."""
    stack_credentials.chmod(mode)
    for read in (connect, annotators):
        with pytest.raises(ArgillaConnectionError) as info:
            read(stack_credentials)
        message = str(info.value)
        assert message.startswith(f"{stack_credentials}: mode {mode:04o} lets other users read")
        assert f"`chmod 600 {stack_credentials}`" in message and "\n" not in message
    config = stack_credentials.parent / "dataset.yaml"
    config.write_text(f"credentials: {stack_credentials}\n")
    result = CliRunner().invoke(app, ["argilla", "pull", str(config)])
    assert result.exit_code == 2 and f"mode {mode:04o} lets other users" in result.output


def _refused_argilla_client(url: str) -> None:
    connect(Path("unused.json"), network=NO_RETRIES).client()


def _refused_argilla_session(url: str) -> None:
    connect(Path("unused.json"), network=NO_RETRIES).session().get(f"{url}/api/v1/me")


def _refused_openai_simulator(url: str) -> None:
    backend = openai_backend(f"{url}/v1", "m", KEYS["OPENAI_API_KEY"], 8, 0.0, timeout_s=2)
    backend([[{"role": "user", "content": "Where is my order?"}]])


@pytest.mark.parametrize(
    "call", [_refused_argilla_client, _refused_argilla_session, _refused_openai_simulator]
)
def test_a_failing_call_never_shows_its_key(
    call: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call to a closed port with a key in its headers: neither the error nor its whole
    traceback (every chained exception) shows the key; nor does the connection's repr."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ARGILLA_API_URL", url)
    monkeypatch.setenv("ARGILLA_API_KEY", KEYS["ARGILLA_API_KEY"])
    connection = connect(Path("unused.json"))
    assert connection.api_key == KEYS["ARGILLA_API_KEY"]  # the key is configured, and used
    with pytest.raises((ArgillaHTTPError, requests.ConnectionError)) as info:
        call(url)
    shown = repr(connection) + "".join(traceback.format_exception(info.value))
    assert "127.0.0.1" in shown and _leaks(shown) == [], shown


def test_a_cli_failing_to_reach_argilla_never_prints_its_key(fresh_cli, tmp_path: Path) -> None:
    """`supportloop argilla pull` in a fresh process, keys in its environment, server down."""
    url = f"http://127.0.0.1:{free_port()}"
    result = fresh_cli(
        "argilla",
        "pull",
        "configs/argilla/default.yaml",
        "network.retries=0",
        f"pull_dir={tmp_path / 'pull'}",
        ARGILLA_API_URL=url,
        **KEYS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2 and f"Argilla server {url}" in output, output
    assert _leaks(output) == [] and _files_with_keys(tmp_path) == []


@pytest.mark.slow
def test_an_eval_with_wandb_offline_writes_and_prints_no_key(
    fresh_cli, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    """`supportloop eval` in a fresh process with every key in its environment and W&B
    offline: its run dir, registry, HTML report, W&B offline run, and everything under its
    HOME and TMPDIR (W&B's own debug logs) hold no key, and nor does anything it printed."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    result = fresh_cli(
        "eval",
        "configs/eval/retail.yaml",
        f"candidate.name={tiny_llama_dir}",
        f"champion.name={tiny_llama_dir}",
        "suite.kind=jsonl",
        f"suite.path={ACME_SUITE}",
        "suite.annotated=null",
        "suite.limit=2",
        "judge.kind=none",
        "simulator.trials=1",
        "simulator.max_turns=2",
        "sampling.max_new_tokens=8",
        f"registry={tmp_path / 'registry.sqlite'}",
        f"output_dir={tmp_path / 'run'}",
        HOME=str(home),
        TMPDIR=str(tmp),
        WANDB_MODE="offline",
        OMP_NUM_THREADS="1",
        **KEYS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "W&B offline (WANDB_MODE=offline)" in output and "warning:" not in output
    for written in (
        "run/summary.json",
        "run/report.html",
        "run/wandb/offline-run-*/run-*.wandb",
        "run/wandb/offline-run-*/logs/debug.log",
        "home/.cache/wandb/logs/core-debug-*.log",
    ):
        assert list(tmp_path.glob(written)), f"{written}: not written, so not searched"
    assert _leaks(output) == [] and _files_with_keys(tmp_path) == []

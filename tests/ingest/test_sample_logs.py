"""Sample logs from real material: valid transcripts with repeats and PII, ingested cleanly."""

from __future__ import annotations

import json

import pytest
from datasets import load_from_disk

from supportloop.config import validate_config
from supportloop.feedback.demo.sample_logs import SampleLogsConfig, build_sample_logs
from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.ingest.pipeline import run_ingest
from supportloop.feedback.transcripts import validate_transcript
from supportloop.models.generate import SamplingConfig, generate_replies, load_policy
from supportloop.runs import OUTPUTS_ENV


@pytest.mark.slow
def test_sample_logs_are_valid_and_ingest_cleanly(tiny_llama_dir, tmp_path, monkeypatch):
    model, tokenizer = load_policy(str(tiny_llama_dir))
    sampling = SamplingConfig(max_new_tokens=8, batch_size=16)

    def reply(prompts):
        return [r[0] for r in generate_replies(model, tokenizer, prompts, sampling, progress=False)]

    config = validate_config(
        SampleLogsConfig,
        {"output": str(tmp_path / "logs.jsonl"), "num_conversations": 40, "repeat_share": 0.3},
        "test",
    )
    monkeypatch.setenv(OUTPUTS_ENV, str(tmp_path / "outputs"))  # as `supportloop run` does
    result = build_sample_logs(config, reply)
    assert (tmp_path / "outputs").read_text().split() == [str((tmp_path / "logs.jsonl").resolve())]
    assert not list(tmp_path.glob(".*.tmp"))  # written beside, then renamed into place
    rows = [json.loads(line) for line in (tmp_path / "logs.jsonl").open()]
    assert result["conversations"] == len(rows) == 40
    for row in rows:
        validate_transcript(row, 20_000)  # raises on any contract violation
    assert result["repeat_contacts"] >= 5
    emails = [row["context"]["customer_profile"]["email"] for row in rows]
    raw = json.dumps(rows)
    assert any(email in raw for email in emails)  # the logs carry real-looking PII
    assert any(not row["metadata"].get("intent") for row in rows)  # some without topic

    ingest = validate_config(
        IngestConfig,
        {
            "inputs": [{"path": str(tmp_path / "logs.jsonl")}],
            "output_dir": str(tmp_path / "run"),
            "num_proc": 1,
        },
        "test",
    )
    summary = run_ingest(ingest, progress=False)
    assert summary["balanced"] and summary["accepted"] == 40
    assert summary["repeat_contacts"] >= 1
    assert set(summary["repeat_contact_rate_by_model_version"]) <= {
        "assistant-2026-10",
        "assistant-2026-11",
    }
    text = json.dumps(load_from_disk(str(tmp_path / "run" / "conversations")).to_list())
    assert not any(email in text for email in emails)

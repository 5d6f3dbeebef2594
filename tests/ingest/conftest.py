"""Fixtures for ingest: one logged-transcript corpus written in all five input shapes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset

from tests.ingest.helpers import CARD, EMAIL, transcript


@pytest.fixture
def mixed_inputs(tmp_path: Path) -> dict[str, Any]:
    """Five input shapes plus broken lines; returns paths and what each row should become."""
    contract = tmp_path / "contract.jsonl"
    good = [
        transcript("c1", "u1", f"My card {CARD} was charged twice for order #W2378156."),
        transcript("c2", "u2", f"Please email me at {EMAIL} about my refund of $1,234.56."),
        transcript("c3", "u3", "Where is my parcel? It was due yesterday."),
        # exact logging duplicate of c3 (same customer, same messages, another id)
        transcript("c3-copy", "u3", "Where is my parcel? It was due yesterday."),
    ]
    broken_lines = [
        b'{"conversation_id": "bad-json", "messages": [',  # malformed JSON
        b'{"conversation_id": "bad-utf8", "text": "caf\xe9"}',  # invalid UTF-8
        json.dumps(
            transcript("bad-role", "u9", "hi", messages=[{"role": "robot", "content": "hi"}])
        ).encode(),  # unknown role
        json.dumps(transcript("empty", "u9", "x", messages=[])).encode(),  # empty conversation
        json.dumps(transcript("blank-msg", "u9", "   ")).encode(),  # empty message
        json.dumps(transcript("huge", "u9", "a" * 25_000)).encode(),  # oversized message
        json.dumps(transcript("bad-time", "u9", "hi", started_at="yesterday")).encode(),
        json.dumps({**transcript("no-id", "u9", "hi"), "conversation_id": None}).encode(),
        json.dumps(transcript("wrong-type", "u9", "hi", signals={"csat": "great"})).encode(),
        json.dumps(transcript("c1", "u1", "a different conversation, same id")).encode(),
        b"[1, 2, 3]",  # not an object
    ]
    with contract.open("wb") as handle:
        for row in good:
            handle.write(json.dumps(row).encode() + b"\n")
        for line in broken_lines:
            handle.write(line + b"\n")

    openai = tmp_path / "openai.jsonl"
    openai_rows = [
        {
            "id": "oa-1",
            "user": "u4",
            "created": "2026-10-02T10:00:00Z",
            "messages": [
                {"role": "system", "content": "Be helpful."},
                {"role": "user", "content": "Can I change my delivery address?"},
                {"role": "assistant", "content": "Yes, before it ships."},
            ],
        },
        {
            "user": "u5",
            "created": "2026-10-02T11:00:00Z",
            "messages": [
                {"role": "human", "content": "Cancel my order please."},
                {"role": "assistant", "content": "Done."},
            ],
        },
    ]
    openai.write_text("\n".join(json.dumps(r) for r in openai_rows) + "\n", encoding="utf-8")

    parquet = tmp_path / "logs.parquet"
    Dataset.from_list(
        [
            {
                "conv": "p1",
                "cust": "u6",
                "ts": "2026-10-03T08:00:00+02:00",
                "messages": json.dumps(
                    [
                        {"role": "user", "content": "My discount code fails."},
                        {"role": "assistant", "content": "Let me check."},
                    ]
                ),
            },
            {
                "conv": "p2",
                "cust": "u7",
                "ts": "not a time",
                "messages": json.dumps([{"role": "user", "content": "Hello?"}]),
            },
        ]
    ).to_parquet(str(parquet))

    hf_dir = tmp_path / "hf_dataset"
    Dataset.from_list(
        [
            {
                k: (json.dumps(v) if isinstance(v, dict | list) else v)
                for k, v in transcript(
                    "h1", "u8", "The blender I bought is broken.", hour=30
                ).items()
            },
        ]
    ).save_to_disk(str(hf_dir))

    turns = tmp_path / "turns.csv"
    with turns.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["chat", "speaker", "text", "time", "customer"])
        writer.writerow(
            [
                "t1",
                "user",
                "My name is Dana Whitfield and my order is late.",
                "2026-10-04T09:00:00Z",
                "u10",
            ]
        )
        writer.writerow(
            [
                "t1",
                "assistant",
                "Sorry Dana Whitfield, checking now.",
                "2026-10-04T09:01:00Z",
                "u10",
            ]
        )
        writer.writerow(["t2", "user", "", "2026-10-04T10:00:00Z", "u11"])  # empty message
        writer.writerow(["t3", "user", "Do you ship to Canada?", "2026-10-04T11:00:00Z", "u12"])

    inputs = [
        {"path": str(contract), "format": "jsonl"},
        {
            "path": str(openai),
            "format": "openai",
            "mapping": {"customer_id": "user", "started_at": "created"},
            "role_map": {"human": "user"},
            "defaults": {"channel": "chat"},
        },
        {
            "path": str(parquet),
            "mapping": {"conversation_id": "conv", "customer_id": "cust", "started_at": "ts"},
        },
        {"path": str(hf_dir), "format": "hf"},
        {
            "path": str(turns),
            "format": "csv",
            "mapping": {
                "conversation_id": "chat",
                "role": "speaker",
                "content": "text",
                "created_at": "time",
                "customer_id": "customer",
            },
        },
    ]
    return {
        "inputs": inputs,
        "accepted": {"c1", "c2", "c3", "oa-1", "p1", "h1", "t1", "t3"},
        "openai_derived": 1,  # the OpenAI row without id gets a content-hash id
        "duplicates": {"c3-copy"},
        "quarantined": 11 + 1 + 1,  # broken contract lines, p2 (bad time), t2 (empty message)
        "read": 4 + 11 + 2 + 2 + 1 + 3,
        "pii_values": [CARD, CARD.replace(" ", ""), EMAIL, "Dana Whitfield"],
    }

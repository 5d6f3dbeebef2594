"""Config of `supportloop ingest`: which files, how their columns map, and what to check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from supportloop.config import ProjectPath, StrictModel
from supportloop.feedback.pii import PiiConfig

InputFormat = Literal["auto", "jsonl", "openai", "parquet", "hf", "csv"]


class InputSpec(StrictModel):
    """One input file (or saved dataset) and how its columns map onto the contract."""

    path: ProjectPath
    format: InputFormat = Field(
        "auto", description="auto picks by extension: .jsonl/.json, .parquet, .csv, dataset dir"
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="contract field -> source column (dotted for nested): customer_id: user.id",
    )
    role_map: dict[str, str] = Field(
        default_factory=dict, description="source role -> contract role, e.g. human: user"
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict, description="values for contract fields the source lacks"
    )


class DedupeConfig(StrictModel):
    """Logging duplicates: the same customer's conversation stored twice (exactly or nearly)."""

    near_duplicates: bool = True
    threshold: float = Field(0.9, gt=0, le=1, description="MinHash Jaccard for near duplicates")
    num_perm: int = Field(64, ge=16, le=256)
    shingle_words: int = Field(5, ge=1, le=10)


class RepeatContactConfig(StrictModel):
    """Same customer, same topic, within a window: the log KPI behind repeat inquiries."""

    window_hours: float = Field(72, gt=0)
    similarity_threshold: float = Field(
        0.35,
        gt=0,
        le=1,
        description="cosine of the openings at or above which they are one topic; the best F1 "
        "on labelled development pairs for the default embedder (docs/repeat-contacts.md)",
    )
    embedding_model: str = "minilm"
    embedding_backend: Literal["onnx", "onnx-int8", "static", "torch"] = Field(
        "onnx-int8",
        description="onnx: the model exported once to ONNX Runtime (same vectors, faster, less "
        "memory: docs/performance.md); onnx-int8: that export with int8 weights; static: a "
        "model2vec static model distilled from it (fastest, weakest: docs/repeat-contacts.md); "
        "torch: sentence-transformers as is, for models onnx cannot run",
    )
    opening_messages: int = Field(1, ge=1, description="customer messages compared by embedding")
    opening_max_tokens: int = Field(
        96,
        ge=8,
        le=512,
        description="word pieces of the opening the model reads; the embedding time, the "
        "largest part of ingest at scale, grows with it; 96 with int8 keeps 128's F1 "
        "(docs/repeat-contacts.md)",
    )


class InputLimits(StrictModel):
    """Bounds on one input record: past them the record is quarantined with the limit it
    broke, and an over-long line is skipped without being read into memory whole."""

    max_record_bytes: int = Field(
        8 << 20, gt=0, description="bytes of one JSON line (one conversation, all its context)"
    )
    max_messages: int = Field(2_000, gt=0, description="messages in one conversation")
    max_json_depth: int = Field(
        32, ge=4, le=500, description="nesting of objects and lists in one record"
    )


class IngestConfig(StrictModel):
    inputs: list[InputSpec] = Field(min_length=1)
    output_dir: ProjectPath = Field(description="run directory for this ingest")
    max_message_chars: int = Field(20_000, gt=0)
    limits: InputLimits = Field(default_factory=InputLimits)
    profile_pii_keys: list[str] = Field(
        default_factory=lambda: [
            "name",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "address",
            "address1",
            "address2",
            "street",
            "zip",
        ],
        description="customer_profile keys whose values are PII wherever they appear",
    )
    pii: PiiConfig = Field(default_factory=PiiConfig)
    dedupe: DedupeConfig = Field(default_factory=DedupeConfig)
    repeat_contact: RepeatContactConfig = Field(default_factory=RepeatContactConfig)
    batch_size: int = Field(256, gt=0, description="conversations per redaction batch")
    num_proc: int = Field(2, ge=1, description="worker processes for redaction")

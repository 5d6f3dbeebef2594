"""`build_preferences(config)`: responses (+ agreement, + conversations) -> saved datasets.

The only module here that reads or writes files: it loads the inputs, runs the pure steps
(aggregate -> pairs / KTO / SFT -> split) and saves each dataset as a DatasetDict with a
dataset card, plus `summary.json` and `lineage.json` in the run directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from datasets import Dataset, DatasetDict, DatasetInfo, Features

from supportloop.config import dump_config
from supportloop.feedback.preferences.aggregate import PreferenceDataError, aggregate_records
from supportloop.feedback.preferences.card import describe, render_card
from supportloop.feedback.preferences.config import PreferencesConfig
from supportloop.feedback.preferences.kto import Example, build_kto
from supportloop.feedback.preferences.pairs import build_pairs
from supportloop.feedback.preferences.rows import FEATURES
from supportloop.feedback.preferences.sft import build_sft
from supportloop.feedback.preferences.signals import COLUMNS, signal_examples
from supportloop.feedback.preferences.split import assign_splits
from supportloop.runs import (
    RunDir,
    dataset_fingerprint,
    file_fingerprint,
    load_dataset_artifact,
    package_versions,
)

RESPONSE_COLUMNS = {
    "record_id", "conversation_id", "turn_index", "prompt", "candidates", "annotator", "status",
}  # fmt: skip


@dataclass
class BuildResult:
    run_dir: Path
    datasets: dict[str, DatasetDict]
    summary: dict[str, Any]


def _load(path: Path, required: set[str], what: str) -> Dataset:
    dataset = load_dataset_artifact(path)
    if not isinstance(dataset, Dataset):
        raise PreferenceDataError(
            f"{path}: expected a {what} Dataset, found a {type(dataset).__name__}"
        )
    missing = required - set(dataset.column_names)
    if missing:
        raise PreferenceDataError(f"{path}: {what} dataset lacks columns {sorted(missing)}")
    return dataset


class _Rows:
    """A dataset as plain dicts, read in Arrow batches (much faster than row by row), and
    iterable more than once (signals read the conversations twice)."""

    def __init__(self, dataset: Dataset, batch_size: int = 1000) -> None:
        self.dataset = dataset
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.dataset.iter(batch_size=self.batch_size):
            columns = list(batch)
            for values in zip(*batch.values(), strict=True):
                yield dict(zip(columns, values, strict=True))


def _to_dataset(rows: list[dict[str, Any]], features: Features) -> Dataset:
    """Straight to Arrow with the declared schema: the columns need no feature encoding, and an
    empty split still gets every column."""
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    return Dataset(table, info=DatasetInfo(features=features))


def build_preferences(config: PreferencesConfig) -> BuildResult:
    inputs = config.inputs
    responses = _load(inputs.responses, RESPONSE_COLUMNS, "responses")
    fingerprints = {"responses": dataset_fingerprint(responses)}
    agreement: dict[str, float | None] = {}
    if inputs.agreement is not None:
        table = _load(inputs.agreement, {"record_id", "agreement"}, "record agreement")
        columns = table.select_columns(["record_id", "agreement"]).to_dict()
        agreement = dict(zip(columns["record_id"], columns["agreement"], strict=True))
        fingerprints["record_agreement"] = dataset_fingerprint(table)

    aggregated = aggregate_records(
        _Rows(responses), agreement, config.aggregation, config.agreement
    )
    records = aggregated.records
    signals: list[Example] = []
    signal_stats: dict[str, int] = {}
    if inputs.conversations is not None:
        conversations = _load(
            inputs.conversations, {"conversation_id", "messages"}, "conversations"
        )
        fingerprints["conversations"] = dataset_fingerprint(conversations)
        present = [c for c in COLUMNS if c in conversations.column_names]
        signals, signal_stats = signal_examples(
            _Rows(conversations.select_columns(present)), config.kto
        )

    pair_rows, pair_stats = build_pairs(records, config.pairs)
    kto_rows, kto_stats = build_kto(records, signals, config.kto)
    sft_rows, sft_stats = build_sft(records)
    kto_stats["filters"].update(signal_stats)
    splits, split_stats = assign_splits(
        {"pairs": pair_rows, "kto": kto_rows, "sft": sft_rows},
        config.split.test_size,
        config.split.seed,
        config.split.by_customer,
    )

    run = RunDir(config.resolved_output_dir(), "preferences")
    stats = {"pairs": pair_stats, "kto": kto_stats, "sft": sft_stats}
    summary: dict[str, Any] = {
        "run_dir": str(run.path),
        "aggregation": aggregated.stats,
        "split": {**config.split.model_dump(), **split_stats},
        "datasets": {},
    }
    for name, sides in splits.items():
        described = describe(sides, labelled=name == "kto")
        summary["datasets"][name] = {**described, **stats[name]}
    lineage = {
        "inputs": fingerprints,
        "config": dump_config(config),
        "versions": package_versions(),
    }

    saved: dict[str, DatasetDict] = {}
    outputs: dict[str, str] = {}
    for name, sides in splits.items():
        saved[name] = DatasetDict(
            {side: _to_dataset(rows, FEATURES[name]) for side, rows in sides.items()}
        )
        # on disk a split without rows is left out: `load_dataset` (TRL's CLIs) refuses one
        target = run.save_dataset(name, saved[name], card=render_card(name, summary, lineage))
        outputs[name] = file_fingerprint(target)
    run.write_summary(summary)
    run.write_lineage(inputs=fingerprints, config=lineage["config"], outputs=outputs)
    if config.output_dir is None:
        point_latest(run.path)
    if config.hub.repo_prefix:
        push_to_hub(run.path, saved, config.hub.repo_prefix, config.hub.private)
    return BuildResult(run.path, saved, summary)


def point_latest(run_path: Path) -> None:
    """`runs/preferences/latest` -> this run: the path the training recipes read by default.

    Replaced atomically (a new link renamed over the old one); a real directory of that name
    is left alone.
    """
    link = run_path.parent / "latest"
    if link.exists() and not link.is_symlink():
        return
    staging = run_path.parent / f".latest.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(run_path.name, target_is_directory=True)
    os.replace(staging, link)


def push_to_hub(run_dir: Path, saved: dict[str, DatasetDict], prefix: str, private: bool) -> None:
    """Each dataset to `<prefix>-<name>`, with its card (needs a hub and a token)."""
    from huggingface_hub import HfApi

    api = HfApi()
    for name, dataset in saved.items():
        repo_id = f"{prefix}-{name}"
        dataset.push_to_hub(repo_id, private=private)
        api.upload_file(
            path_or_fileobj=str(run_dir / name / "README.md"),
            path_in_repo="README.md",
            repo_id=repo_id,
            repo_type="dataset",
        )

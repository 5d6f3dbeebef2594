"""`supportloop ingest`: logged transcripts in, one redacted conversations dataset out.

Rows stream through read -> validate -> (worker processes) redact + fingerprint -> dedupe ->
an Arrow file on disk, in bounded batches, so memory does not grow with the input. Every row
read ends up in exactly one place: the dataset, the quarantine file (with source, line and
reason) or the duplicates list; the summary checks read = accepted + quarantined + duplicates.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TextIO

from datasets import Dataset
from datasets.arrow_writer import ArrowWriter
from tqdm.auto import tqdm

from supportloop.config import dump_config
from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.ingest.dedupe import DuplicateIndex, SeenIds
from supportloop.feedback.ingest.readers import RawRow, read_input
from supportloop.feedback.ingest.redact import BatchProcessor, init_worker, process_in_worker
from supportloop.feedback.ingest.repeat import RepeatLabels, label_repeat_contacts
from supportloop.feedback.transcripts import (
    CONVERSATION_FEATURES,
    InvalidTranscript,
    validate_transcript,
)
from supportloop.models.sentence_encoder import SentenceEncoder
from supportloop.runs import (
    LINEAGE_FILE,
    RunDir,
    dataset_fingerprint,
    file_fingerprint,
    output_errors,
)

CONVERSATIONS = "conversations"
QUARANTINE_FILE = "quarantine.jsonl"
DUPLICATES_FILE = "duplicates.jsonl"
_INDEX = re.compile(r"\[\d+\]")


def _private_writer(path: Path) -> TextIO:
    """Quarantine rows are raw, unredacted input: readable by the owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8")


def reason_kind(reason: str) -> str:
    """`messages[3].content: empty message` -> `messages[].content: empty message` for tallies."""
    field, _, detail = reason.partition(": ")
    detail = re.sub(r"\d+", "N", detail) if " over the " in detail else detail
    return f"{_INDEX.sub('[]', field)}: {detail}"[:80] if detail else field[:80]


class _Ledger:
    """Counts and side files: where every row read went.

    The side files are written in the scratch folder and moved into the run by `publish`, so
    a run directory only ever holds complete ones.
    """

    def __init__(self, scratch: Path) -> None:
        self.read = 0
        self.accepted = 0
        self.quarantined: Counter = Counter()
        self.duplicates: Counter = Counter()
        self.pii: Counter = Counter()
        self.scratch = scratch
        self.quarantine = _private_writer(scratch / QUARANTINE_FILE)
        self.duplicate_list = (scratch / DUPLICATES_FILE).open("w", encoding="utf-8")

    def quarantine_row(self, raw: RawRow, reason: str) -> None:
        self.quarantined[reason_kind(reason)] += 1
        record = {"source": raw.source, "line": raw.location, "reason": reason, "raw": raw.raw}
        self.quarantine.write(json.dumps(record, ensure_ascii=False) + "\n")

    def duplicate(self, row: dict, kind: str, of: str, similarity: float, where: str) -> None:
        self.duplicates[kind] += 1
        record = {
            "conversation_id": row["conversation_id"],
            "duplicate_of": of,
            "kind": kind,
            "similarity": similarity,
            "source": where,
        }
        self.duplicate_list.write(json.dumps(record) + "\n")

    def close(self) -> None:
        self.quarantine.close()
        self.duplicate_list.close()

    def publish(self, run: RunDir) -> None:
        for name in (QUARANTINE_FILE, DUPLICATES_FILE):
            os.replace(self.scratch / name, run / name)
        run.record(QUARANTINE_FILE, DUPLICATES_FILE)


def _validated_batches(
    config: IngestConfig, ledger: _Ledger, progress: tqdm, seen: SeenIds
) -> Iterator[list[tuple[dict[str, Any], str]]]:
    """Validated rows in batches, each with its `source:line`; bad rows go to quarantine."""
    batch: list[tuple[dict[str, Any], str]] = []
    for spec in config.inputs:
        for raw in read_input(spec, config.limits):
            ledger.read += 1
            progress.update()
            if raw.error:
                ledger.quarantine_row(raw, raw.error)
                continue
            try:
                row = validate_transcript(raw.payload, config.max_message_chars)
            except InvalidTranscript as exc:
                ledger.quarantine_row(raw, str(exc))
                continue
            where = f"{raw.source}:{raw.location}"
            first = seen.first_seen(row["conversation_id"], where)
            if first is not None:
                ledger.quarantine_row(raw, f"conversation_id: duplicate id (first at {first})")
                continue
            batch.append((row, where))
            if len(batch) >= config.batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def _processed(config: IngestConfig, batches: Iterator[list]) -> Iterator[tuple[list, list]]:
    """(batch, results) with redaction in worker processes, at most 2 batches per worker
    in flight so reading never runs ahead of redaction (memory stays bounded)."""
    if config.num_proc == 1:
        processor = BatchProcessor(config)
        for batch in batches:
            yield batch, processor([row for row, _ in batch])
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(config.num_proc, init_worker, (config.model_dump_json(),)) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append((batch, pool.apply_async(process_in_worker, ([r for r, _ in batch],))))
            if len(pending) >= 2 * config.num_proc:
                batch_done, result = pending.popleft()
                yield batch_done, result.get()
        while pending:
            batch_done, result = pending.popleft()
            yield batch_done, result.get()


def _write_accepted(config: IngestConfig, ledger: _Ledger, scratch: Path, progress: bool) -> None:
    """Stream validated, redacted, deduplicated rows into scratch/accepted.arrow; the
    indexes of what was seen live in SQLite files beside it (flat memory)."""
    bar = tqdm(desc="ingest", unit="conv", disable=not progress)
    arrow_path = scratch / "accepted.arrow"
    with (
        closing(DuplicateIndex(config.dedupe, scratch / "duplicates.sqlite")) as index,
        closing(SeenIds(scratch / "ids.sqlite")) as seen,
        ArrowWriter(features=CONVERSATION_FEATURES, path=str(arrow_path)) as writer,
    ):
        batches = _validated_batches(config, ledger, bar, seen)
        for batch, results in _processed(config, batches):
            for (_, where), (row, digest, signature, counts) in zip(batch, results, strict=True):
                found = index.check_and_add(
                    row["conversation_id"], row["customer_id"], digest, signature
                )
                if found is not None:
                    ledger.duplicate(row, *found, where)
                    continue
                ledger.pii.update(counts)
                ledger.accepted += 1
                writer.write(row)
        writer.finalize()
    bar.close()


def repeat_rates(dataset: Dataset, repeated_ids: set[str]) -> dict[str, dict[str, float]]:
    """Per model_version: the share of its conversations the customer came back about.

    The failure is charged to the assistant that answered the earlier contact: a resolved
    conversation is one the customer did not have to repeat within the window.
    """
    columns = dataset.select_columns(["conversation_id", "model_version"]).to_pandas()
    columns["model_version"] = columns["model_version"].fillna("unknown")
    columns["repeated"] = columns["conversation_id"].isin(repeated_ids)
    grouped = columns.groupby("model_version")["repeated"].agg(["sum", "count"])
    return {
        str(version): {
            "conversations": int(row["count"]),
            "followed_by_repeat": int(row["sum"]),
            "repeat_contact_rate": round(float(row["sum"]) / float(row["count"]), 4),
        }
        for version, row in grouped.iterrows()
    }


def run_ingest(
    config: IngestConfig, progress: bool = True, embedder: SentenceEncoder | None = None
) -> dict[str, Any]:
    """Ingest every input of `config` into `config.output_dir`; returns the summary.

    A failure to write (disk full, read-only) is one OutputWriteError line, and leaves the
    run dir as it was or without a dataset (see `_all_or_nothing`), never half of a run.
    """
    with output_errors(config.output_dir):
        run = RunDir(config.output_dir, "ingest")
        with _all_or_nothing(run):
            return _ingest(config, run, progress, embedder)


@contextmanager
def _all_or_nothing(run: RunDir) -> Iterator[None]:
    """On failure, remove the scratch folder and whatever this run already put in place.

    Until the dataset is replaced, the previous run stays whole and sealed; after, what
    this run wrote has no lineage yet, so it goes (with the previous run's lineage, which
    no longer matches): a later stage finds no dataset rather than an unsealed one.
    """
    try:
        yield
    except BaseException:
        shutil.rmtree(run / ".scratch", ignore_errors=True)
        if CONVERSATIONS in run.artifacts:
            for name in [*run.artifacts, LINEAGE_FILE]:
                _remove(run / name)
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _ingest(
    config: IngestConfig, run: RunDir, progress: bool, embedder: SentenceEncoder | None
) -> dict[str, Any]:
    started = time.perf_counter()
    scratch = run / ".scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    ledger = _Ledger(scratch)
    try:
        _write_accepted(config, ledger, scratch, progress)
    finally:
        ledger.close()
    stages = {"read_redact_dedupe": time.perf_counter() - started}
    dataset = Dataset.from_file(str(scratch / "accepted.arrow"))
    labels = label_repeat_contacts(dataset, config.repeat_contact, embedder)
    repeats = labels.repeat_of
    stages["repeat_contacts"] = time.perf_counter() - started - sum(stages.values())

    def add_repeat_columns(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        batch["repeat_of"] = [repeats.get(i) for i in indices]
        batch["repeat_contact"] = [i in repeats for i in indices]
        return batch

    dataset = dataset.map(
        add_repeat_columns,
        with_indices=True,
        batched=True,
        features=CONVERSATION_FEATURES,
        cache_file_name=str(scratch / "labelled.arrow"),
        desc="repeat contacts",
    )
    output = run.save_dataset(CONVERSATIONS, dataset)
    ledger.publish(run)
    rates = repeat_rates(dataset, set(repeats.values())) if len(dataset) else {}
    stages["save"] = time.perf_counter() - started - sum(stages.values())
    summary = _summary(config, ledger, labels, rates, stages)
    run.write_summary(summary)
    run.write_lineage(
        inputs={str(spec.path): file_fingerprint(spec.path) for spec in config.inputs},
        config=dump_config(config),
        outputs={CONVERSATIONS: dataset_fingerprint(dataset), "path": str(output)},
    )
    del dataset
    shutil.rmtree(scratch, ignore_errors=True)
    return summary


def _summary(
    config: IngestConfig,
    ledger: _Ledger,
    labels: RepeatLabels,
    rates: dict,
    stages: dict[str, float],
) -> dict[str, Any]:
    repeats = len(labels.repeat_of)
    seconds = sum(stages.values())
    quarantined = sum(ledger.quarantined.values())
    duplicates = sum(ledger.duplicates.values())
    return {
        "read": ledger.read,
        "accepted": ledger.accepted,
        "quarantined": quarantined,
        "duplicates_removed": duplicates,
        "balanced": ledger.read == ledger.accepted + quarantined + duplicates,
        "quarantine_reasons": dict(ledger.quarantined.most_common()),
        "duplicates_by_kind": dict(ledger.duplicates),
        "pii_redacted": dict(sorted(ledger.pii.items())),
        "repeat_contacts": repeats,
        "repeat_contact_rate": round(repeats / ledger.accepted, 4) if ledger.accepted else 0.0,
        "repeat_contact_rate_by_model_version": rates,
        "repeat_contact_work": labels.work(),
        "seconds": round(seconds, 2),
        "stage_seconds": {stage: round(value, 2) for stage, value in stages.items()},
        "conversations_per_second": round(ledger.read / seconds, 1) if seconds else None,
        "output": str(Path(config.output_dir) / CONVERSATIONS),
        "quarantine_file": str(Path(config.output_dir) / QUARANTINE_FILE),
        "duplicates_file": str(Path(config.output_dir) / DUPLICATES_FILE),
    }

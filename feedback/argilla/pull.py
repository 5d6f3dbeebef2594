"""Argilla responses -> the responses dataset (one row per record x annotator), incrementally.

Reads records with every annotator's responses through the REST API as the owner (the SDK's
`Record.responses` drops ranking ranks). Submitted and discarded responses become rows;
drafts are counted and left out until submitted. The pull directory keeps a small state file:
when the dataset's `last_activity_at` has not moved since the last pull nothing is fetched,
and otherwise only responses that are new or changed since then are reported as new (and saved
as `new_responses` for listeners); `responses` is always the complete current set.
Field texts and corrections are unescaped (`supportloop.feedback.argilla.display`), so rows carry
the pipeline's own text and placeholders (`<EMAIL_1>`), whatever the UI needed to show them, and
the prompt gets back the system message the push kept out of the conversation field.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from datasets import Dataset, Features, Sequence, Value

from supportloop.errors import UserError, one_line
from supportloop.feedback.argilla import display
from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.rest import check
from supportloop.feedback.argilla.settings import (
    CONVERSATION_FIELD,
    CORRECTION_QUESTION,
    INTERNAL_METADATA,
    RANKING_QUESTION,
    ArgillaConfig,
    slot_names,
)
from supportloop.runs import announce_output, output_errors, write_json_atomic

STATE_FILE = "pull_state.json"
PAGE_SIZE = 1000
_MESSAGE = {"role": Value("string"), "content": Value("string")}
RESPONSE_FEATURES = Features(
    {
        "record_id": Value("string"),
        "conversation_id": Value("string"),
        "customer_id": Value("string"),
        "turn_index": Value("int64"),
        "prompt": [_MESSAGE],
        "candidates": [
            {"candidate_id": Value("string"), "text": Value("string"), "source": Value("string")}
        ],
        "annotator": Value("string"),
        "status": Value("string"),
        "ranking": Sequence(Value("int64")),
        "ratings": Sequence(Value("int64")),
        "resolves": Sequence(Value("string")),
        "flags": Sequence(Sequence(Value("string"))),
        "correction": Value("string"),
        "submitted_at": Value("string"),
        "topic": Value("string"),
        "model_version": Value("string"),
    }
)


class PullError(UserError):
    """The dataset to pull from does not exist or cannot be read."""


def find_dataset(connection: Connection, config: ArgillaConfig) -> dict[str, Any]:
    """The dataset's REST description (id, last_activity_at...), by name and workspace."""
    session = connection.session()
    workspace = config.workspace or connection.workspace
    reply = check(session.get(f"{connection.api_url}/api/v1/me/datasets"))
    workspaces = check(session.get(f"{connection.api_url}/api/v1/me/workspaces")).json()["items"]
    ws_ids = {w["id"] for w in workspaces if workspace is None or w["name"] == workspace}
    for dataset in reply.json()["items"]:
        if dataset["name"] == config.dataset and dataset["workspace_id"] in ws_ids:
            return dataset
    raise PullError(f"dataset {config.dataset!r} not found in workspace {workspace!r}; push first")


def _usernames(connection: Connection, workspace_id: str) -> dict[str, str]:
    """user id -> username: all users for an owner, else the workspace's members."""
    session = connection.session()
    reply = session.get(f"{connection.api_url}/api/v1/users")
    if reply.status_code != 200:
        reply = session.get(f"{connection.api_url}/api/v1/workspaces/{workspace_id}/users")
    return {u["id"]: u["username"] for u in check(reply).json()["items"]}


def iter_records(
    connection: Connection, dataset_id: str, responses: bool = True
) -> list[dict[str, Any]]:
    """Every record of the dataset (with all responses), paged by the DB-backed list endpoint."""
    session, records, offset = connection.session(), [], 0
    params = {"include": "responses"} if responses else {}
    while True:
        reply = session.get(
            f"{connection.api_url}/api/v1/datasets/{dataset_id}/records",
            params={**params, "offset": offset, "limit": PAGE_SIZE},
        )
        page = check(reply).json()["items"]
        records += page
        if len(page) < PAGE_SIZE:
            return records
        offset += PAGE_SIZE


def _value(values: dict[str, Any], name: str) -> Any:
    return (values.get(name) or {}).get("value")


def _system(info: dict[str, Any]) -> list[dict[str, str]]:
    """The prompt's system message, kept out of the UI by the push (owner-only metadata)."""
    return [{"role": "system", "content": info["system"]}] if info.get("system") else []


def _correction(values: dict[str, Any]) -> str | None:
    """The annotator's reply: typed as shown (`<EMAIL_1>`) or pasted from the copy button."""
    text = _value(values, CORRECTION_QUESTION)
    return display.unescape(text) if text else None


class BadRecord(ValueError):
    """A record or response the pull cannot read (pushed by another tool, edited through the
    API, pulled without the owner's metadata...): skipped and counted under this reason."""


def _internal_info(record: dict[str, Any]) -> dict[str, Any]:
    """The owner-only metadata the push wrote: ids, system message, candidates."""
    metadata = record.get("metadata")
    raw = metadata.get(INTERNAL_METADATA) if isinstance(metadata, dict) else None
    if not isinstance(raw, str):
        raise BadRecord(
            f"record: no {INTERNAL_METADATA!r} metadata (not pushed by supportloop, "
            "or pulled without the owner's key)"
        )
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        info = None
    if not isinstance(info, dict):
        raise BadRecord(f"record: {INTERNAL_METADATA!r} metadata is not a JSON object")
    return info


def response_row(
    record: dict[str, Any], response: dict[str, Any], annotator: str, slots: int
) -> dict[str, Any]:
    """One row of the responses contract from a REST record and one of its responses."""
    info = _internal_info(record)
    if len(info["candidates"]) > slots:
        raise BadRecord(f"record: more candidates than candidate_slots ({slots})")
    names = slot_names(slots)[: len(info["candidates"])]
    candidates = [
        {**cand, "text": display.unescape(record["fields"].get(name) or "")}
        for cand, name in zip(info["candidates"], names, strict=True)
    ]
    values = response.get("values") or {}
    submitted = response["status"] == "submitted"
    ranks = {item["value"]: item["rank"] for item in _value(values, RANKING_QUESTION) or []}
    ranking = [ranks.get(name) for name in names] if submitted and ranks else None
    if ranking is not None and None in ranking:
        ranking = None  # a partial ranking cannot be aligned with the candidates
    per_slot = range(1, len(names) + 1)
    return {
        "record_id": record["external_id"],
        "conversation_id": info["conversation_id"],
        "customer_id": info.get("customer_id"),
        "turn_index": info["turn_index"],
        "prompt": _system(info) + display.chat_back(record["fields"][CONVERSATION_FIELD]),
        "candidates": candidates,
        "annotator": annotator,
        "status": response["status"],
        "ranking": ranking,
        "ratings": [_value(values, f"rating_{i}") if submitted else None for i in per_slot],
        "resolves": [_value(values, f"resolves_{i}") if submitted else None for i in per_slot],
        "flags": [(_value(values, f"flags_{i}") or []) if submitted else [] for i in per_slot],
        "correction": _correction(values) if submitted else None,
        "submitted_at": response["updated_at"],
        "topic": info.get("topic"),
        "model_version": info.get("model_version"),
    }


_STATUSES = ("submitted", "discarded", "draft")
_SCHEMA = RESPONSE_FEATURES.arrow_schema


@dataclass
class ParsedResponses:
    """What a pull read: rows with their response id and update time, responses per status
    (drafts included) and the responses skipped, per reason."""

    rows: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)


def parse_records(records: Iterable[Any], users: dict[str, str], slots: int) -> ParsedResponses:
    """REST records (with their responses) -> rows; what cannot be read is skipped, with why."""
    parsed = ParsedResponses()
    for record in records:
        if not isinstance(record, dict):
            parsed.skipped["record: not an object"] += 1
            continue
        responses = record.get("responses") or []
        if not isinstance(responses, list):
            parsed.skipped["record: responses are not a list"] += 1
            continue
        for response in responses:
            try:
                status, row = _parse_response(record, response, users, slots)
            except BadRecord as exc:
                parsed.skipped[str(exc)] += 1
                continue
            parsed.statuses[status] += 1
            if row is not None:
                parsed.rows.append((response["id"], response["updated_at"], row))
    return parsed


def _parse_response(
    record: dict[str, Any], response: Any, users: dict[str, str], slots: int
) -> tuple[str, dict[str, Any] | None]:
    """(status, row), no row for a draft; BadRecord when the pair cannot make a row that fits
    RESPONSE_FEATURES."""
    if not isinstance(response, dict):
        raise BadRecord("response: not an object")
    status = response.get("status")
    if not isinstance(status, str) or status not in _STATUSES:
        raise BadRecord("response: unknown status")
    for key in ("id", "user_id", "updated_at"):
        if not isinstance(response.get(key), str):
            raise BadRecord(f"response: {key} missing or not text")
    if status == "draft":
        return status, None
    annotator = users.get(response["user_id"], response["user_id"])
    try:
        row = response_row(record, response, annotator, slots)
    except BadRecord:
        raise
    except (LookupError, TypeError, AttributeError, ValueError) as exc:
        raise BadRecord(f"record or response: unexpected shape ({one_line(exc)})") from None
    for column in _SCHEMA:
        try:
            pa.array([row[column.name]], column.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            raise BadRecord(f"response: {column.name} is not {column.type}") from None
    return status, row


def submitted_histogram(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Submitted responses per record -> how many records have that many ("2": 40, ...)."""
    per_record = Counter(row["record_id"] for row in rows if row["status"] == "submitted")
    return {str(k): v for k, v in sorted(Counter(per_record.values()).items())}


def records_with_at_least(histogram: dict[str, int], responses: int) -> int:
    """Records with `responses` or more submitted responses, from `submitted_histogram`."""
    return sum(count for k, count in histogram.items() if int(k) >= responses)


def _responses_dataset(rows: list[dict[str, Any]]) -> Dataset:
    """The rows as a dataset; no rows (nothing annotated yet) is an empty one with the columns."""
    if not rows:  # `from_list([])` has no columns to match the features against
        return Dataset.from_dict({name: [] for name in RESPONSE_FEATURES}, RESPONSE_FEATURES)
    return Dataset.from_list(rows, features=RESPONSE_FEATURES)


def _read_state(pull_dir: Path) -> dict[str, Any]:
    path = pull_dir / STATE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _save_all(datasets: dict[str, Dataset], pull_dir: Path) -> None:
    """Save every dataset beside its target, then move them all into place.

    A full or read-only disk fails while staging, before anything is replaced, so the
    previous pull's `responses` and `new_responses` stay a matching pair; staging folders
    never outlive the call.
    """
    staged: dict[str, Path] = {}
    try:
        for name, dataset in datasets.items():
            staged[name] = tmp = pull_dir / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            # one shard even without rows: datasets cannot load back the zero shards it writes
            dataset.save_to_disk(str(tmp), num_shards=1 if len(dataset) == 0 else None)
        for name, tmp in staged.items():
            _replace(tmp, pull_dir / name)
    finally:
        for tmp in staged.values():
            shutil.rmtree(tmp, ignore_errors=True)


def _replace(staged: Path, target: Path) -> None:
    """Rename `staged` to `target`; the old one is moved aside whole before deletion, so a
    kill inside rmtree never leaves half of it at `target`."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def pull(connection: Connection, config: ArgillaConfig) -> dict[str, Any]:
    """Pull into `config.pull_dir`; returns counts (rows, new, changed, drafts, skipped...).

    A failure to write there (disk full, read-only) is one OutputWriteError line.
    """
    with output_errors(config.pull_dir):
        return _pull(connection, config)


def _pull(connection: Connection, config: ArgillaConfig) -> dict[str, Any]:
    pull_dir = config.pull_dir
    pull_dir.mkdir(parents=True, exist_ok=True)
    dataset = find_dataset(connection, config)
    state = _read_state(pull_dir)
    same_dataset = state.get("dataset_id") == dataset["id"]
    unchanged = state.get("last_activity_at") == dataset["last_activity_at"]
    if same_dataset and unchanged and "submitted_histogram" in state.get("summary", {}):
        announce_output(pull_dir)
        return {**state["summary"], "new": 0, "changed": 0, "fetched": False}
    seen: dict[str, str] = state.get("seen", {}) if same_dataset else {}
    users = _usernames(connection, dataset["workspace_id"])
    records = iter_records(connection, dataset["id"])
    parsed = parse_records(records, users, config.candidate_slots)
    rows, new_rows, statuses = [], [], parsed.statuses
    new = changed = 0
    for response_id, updated_at, row in parsed.rows:
        rows.append(row)
        previous = seen.get(response_id)
        if previous != updated_at:
            new_rows.append(row)
            new, changed = (new + 1, changed) if previous is None else (new, changed + 1)
        seen[response_id] = updated_at
    datasets = {
        "responses": _responses_dataset(rows),
        "new_responses": _responses_dataset(new_rows),
    }
    _save_all(datasets, pull_dir)
    summary = {
        "dataset": config.dataset,
        "dataset_id": dataset["id"],
        "rows": len(rows),
        "submitted": statuses["submitted"],
        "discarded": statuses["discarded"],
        "drafts_skipped": statuses["draft"],
        "unreadable_skipped": sum(parsed.skipped.values()),
        "unreadable_reasons": dict(parsed.skipped.most_common()),
        "records_with_responses": len({r["record_id"] for r in rows}),
        "annotators": sorted({r["annotator"] for r in rows}),
        "submitted_histogram": submitted_histogram(rows),
    }
    write_json_atomic(
        pull_dir / STATE_FILE,
        {
            "dataset_id": dataset["id"],
            "last_activity_at": dataset["last_activity_at"],
            "seen": seen,
            "summary": summary,
        },
    )
    announce_output(pull_dir)
    return {**summary, "new": new, "changed": changed, "fetched": True}

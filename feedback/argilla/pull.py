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
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Sequence, Value

from supportloop.errors import UserError
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
from supportloop.runs import announce_output, write_json_atomic

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


def response_row(
    record: dict[str, Any], response: dict[str, Any], annotator: str, slots: int
) -> dict[str, Any]:
    """One row of the responses contract from a REST record and one of its responses."""
    info = json.loads(record["metadata"][INTERNAL_METADATA])
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


def _save(dataset: Dataset, target: Path) -> None:
    """save_to_disk through a sibling temp dir, so a reader never sees half a dataset."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dataset.save_to_disk(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def pull(connection: Connection, config: ArgillaConfig) -> dict[str, Any]:
    """Pull into `config.pull_dir`; returns counts (rows, new, changed, drafts, skipped...)."""
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
    rows, new_rows, statuses = [], [], Counter()
    new = changed = 0
    for record in iter_records(connection, dataset["id"]):
        for response in record.get("responses") or []:
            statuses[response["status"]] += 1
            if response["status"] == "draft":
                continue
            annotator = users.get(response["user_id"], response["user_id"])
            row = response_row(record, response, annotator, config.candidate_slots)
            rows.append(row)
            previous = seen.get(response["id"])
            if previous != response["updated_at"]:
                new_rows.append(row)
                new, changed = (new + 1, changed) if previous is None else (new, changed + 1)
            seen[response["id"]] = response["updated_at"]
    _save(_responses_dataset(rows), pull_dir / "responses")
    _save(_responses_dataset(new_rows), pull_dir / "new_responses")
    summary = {
        "dataset": config.dataset,
        "dataset_id": dataset["id"],
        "rows": len(rows),
        "submitted": statuses["submitted"],
        "discarded": statuses["discarded"],
        "drafts_skipped": statuses["draft"],
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

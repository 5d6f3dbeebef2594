"""Finding and deleting the Argilla records of given conversations (their responses go too).

Every record the push wrote carries its conversation and customer ids in the owner-only
`supportloop` metadata (push.py), so records are found by reading that metadata, in every
dataset of the workspace: a customer's records may sit in an older dataset the project no
longer pushes to. Records without it (another tool's) are never touched, only counted. The
server deletes a record's responses and suggestions with it, from the database and the
search index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.pull import iter_records
from supportloop.feedback.argilla.rest import check
from supportloop.feedback.argilla.settings import INTERNAL_METADATA

DELETE_BATCH = 100  # argilla-server refuses more record ids in one delete


@dataclass(frozen=True)
class ArgillaRecord:
    """One record the push wrote, with the ids it was pushed for."""

    dataset_id: str
    dataset: str
    uuid: str
    record_id: str  # the push's stable id (`external_id`), as pulled responses name it
    conversation_id: str | None
    customer_id: str | None
    responses: int


def workspace_datasets(connection: Connection, workspace: str | None) -> list[dict]:
    """The datasets of `workspace` the connection's user sees (all of them when None)."""
    session, url = connection.session(), connection.api_url
    workspaces = check(session.get(f"{url}/api/v1/me/workspaces")).json()["items"]
    wanted = {w["id"] for w in workspaces if workspace is None or w["name"] == workspace}
    datasets = check(session.get(f"{url}/api/v1/me/datasets")).json()["items"]
    return [d for d in datasets if d["workspace_id"] in wanted]


def _info(record: dict) -> dict | None:
    """The push's metadata of a record; None when the record has none or it is unreadable."""
    raw = (record.get("metadata") or {}).get(INTERNAL_METADATA)
    try:
        info = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return None
    return info if isinstance(info, dict) else None


def pushed_records(
    connection: Connection, workspace: str | None
) -> tuple[list[ArgillaRecord], int]:
    """Every record with supportloop metadata in the workspace's datasets, and how many
    records have none that can be read (they cannot be attributed to anyone: reported)."""
    found, unreadable = [], 0
    for dataset in workspace_datasets(connection, workspace):
        for record in iter_records(connection, dataset["id"]):
            info = _info(record)
            if info is None:
                unreadable += 1
                continue
            found.append(
                ArgillaRecord(
                    dataset_id=dataset["id"],
                    dataset=dataset["name"],
                    uuid=record["id"],
                    record_id=record["external_id"],
                    conversation_id=info.get("conversation_id"),
                    customer_id=info.get("customer_id"),
                    responses=len(record.get("responses") or []),
                )
            )
    return found, unreadable


def delete_records(connection: Connection, records: list[ArgillaRecord]) -> None:
    """Delete the records (with their responses), dataset by dataset, in batches the server
    accepts. Deleting is idempotent: ids already gone are ignored by the server."""
    session, url = connection.session(), connection.api_url
    by_dataset: dict[str, list[str]] = {}
    for record in records:
        by_dataset.setdefault(record.dataset_id, []).append(record.uuid)
    for dataset_id, uuids in by_dataset.items():
        endpoint = f"{url}/api/v1/datasets/{dataset_id}/records"
        for start in range(0, len(uuids), DELETE_BATCH):
            ids = ",".join(uuids[start : start + DELETE_BATCH])
            check(session.delete(endpoint, params={"ids": ids}))

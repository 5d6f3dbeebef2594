"""`run_forget`: erase a customer's (or conversations') data from every store the loop wrote.

The order makes a failure safe to retry: first everything is found (local stores, then
Argilla, until the customer's conversation and record ids stop growing) and traced through
lineage; then Argilla records are deleted (if the server fails here, nothing local changed
yet); then local artifacts are rewritten and their lineage updated; the report comes last.
Each step is idempotent, so running the same request again finishes an interrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportloop.errors import UserError
from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.forget import ArgillaRecord, delete_records, pushed_records
from supportloop.forget.lineage import Sources, downstream, record_forget, scrubbed
from supportloop.forget.report import build_report, request_digests
from supportloop.forget.rewrite import rewrite
from supportloop.forget.scan import Scan, scan_dataset, scan_jsonl
from supportloop.forget.stores import Artifact, Store, find_stores
from supportloop.forget.targets import Targets
from supportloop.runs import write_json_atomic


class ForgetError(UserError):
    """A request that cannot be run: no ids, a blank id, no runs root."""


@dataclass(frozen=True)
class ArgillaSource:
    """The server to search, as the owner (only the owner sees the push's metadata)."""

    connection: Connection
    workspace: str | None


@dataclass(frozen=True)
class ForgetRequest:
    customer_ids: tuple[str, ...]
    conversation_ids: tuple[str, ...]
    runs_root: Path
    argilla: ArgillaSource | None = None
    dry_run: bool = False


def _check(request: ForgetRequest) -> None:
    ids = [*request.customer_ids, *request.conversation_ids]
    if not ids:
        raise ForgetError("name at least one --customer-id or --conversation-id")
    if any(not i.strip() for i in ids):
        raise ForgetError("an id is blank")
    if not request.runs_root.is_dir():
        raise ForgetError(f"{request.runs_root}: no runs root here (set --runs-root)")


def _is_target(record: ArgillaRecord, targets: Targets) -> bool:
    return (
        record.customer_id in targets.customers
        or record.conversation_id in targets.conversations
        or record.record_id in targets.records
    )


def find(
    artifacts: list[Artifact], records: list[ArgillaRecord], targets: Targets
) -> tuple[list[Scan], list[ArgillaRecord]]:
    """Scans of every artifact and the matching Argilla records; `targets` grows by the ids
    of matched rows until a pass finds no new one (a customer -> their conversations -> the
    records of those conversations)."""
    datasets = [a for a in artifacts if a.kind == "dataset"]
    while True:
        size = targets.size()
        scans = [scan_dataset(artifact, targets) for artifact in datasets]
        hits = [record for record in records if _is_target(record, targets)]
        for scan in scans:
            targets.conversations |= scan.conversations
            targets.records |= scan.records
        for record in hits:
            if record.conversation_id:
                targets.conversations.add(record.conversation_id)
            targets.records.add(record.record_id)
        if targets.size() == size:
            break
    scans += [scan_jsonl(a, targets) for a in artifacts if a.kind == "jsonl"]
    return scans, hits


def _rewrite_stores(
    stores: list[Store], scans: list[Scan], targets: Targets, request: dict, at: str
) -> dict[Store, int]:
    """Rewrite every artifact with matched rows and record the forget in each store."""
    note = f"{at}: rows removed by `supportloop forget` (a deletion request); counts above"
    note += " were taken before."
    replaced = {}
    for store in stores:
        done = [
            rewrite(scan.artifact, targets, note)
            for scan in scans
            if scan.matched and scan.artifact.store is store
        ]
        replaced[store] = record_forget(store, done, request, targets.personal_ids(), at)
    return replaced


def run_forget(request: ForgetRequest, report_path: Path | None = None) -> dict[str, Any]:
    """Find, delete, rewrite, report; with `dry_run` only find and report (nothing written).

    The report is written to `report_path` (default `<runs_root>/forget/forget-<time>.json`)
    unless this is a dry run; it is returned either way.
    """
    _check(request)
    now = datetime.now(UTC)
    at = now.isoformat(timespec="seconds")
    stores = find_stores(request.runs_root)
    artifacts = [artifact for store in stores for artifact in store.artifacts()]
    targets = Targets(set(request.customer_ids), set(request.conversation_ids))
    source = request.argilla
    records, unreadable = pushed_records(source.connection, source.workspace) if source else ([], 0)
    scans, hits = find(artifacts, records, targets)
    sources = Sources()
    for scan in scans:
        if scan.matched:
            sources.add_scan(scan)
    derived = downstream(stores, sources)
    digests = request_digests(list(request.customer_ids), list(request.conversation_ids))
    if request.dry_run:
        ids = targets.personal_ids()
        replaced = {s: scrubbed(s.lineage, ids)[1] for s in stores if s.lineage is not None}
    else:
        if source and hits:
            delete_records(source.connection, hits)
        replaced = _rewrite_stores(stores, scans, targets, digests, at)
    report = build_report(
        at=at,
        root=request.runs_root,
        stores=stores,
        request=digests,
        targets=targets,
        scans=scans,
        argilla=(hits, unreadable) if source else None,
        derived=derived,
        ids_replaced=replaced,
        dry_run=request.dry_run,
    )
    if not request.dry_run:
        path = report_path or request.runs_root / "forget" / f"forget-{now:%Y%m%d-%H%M%S}.json"
        write_json_atomic(path, report)
        report["report"] = str(path)
    return report

"""The forget report: what was removed where, and what learned from it, for an operator.

It names stores by path and ids only by their sha256 digests, so it can be kept and shared
as the record of a deletion request. Adapters and raw logs are listed, never changed: whether
to retrain, or to erase logs outside the runs root, is the operator's decision.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from supportloop.feedback.argilla.forget import ArgillaRecord
from supportloop.forget.scan import Scan
from supportloop.forget.stores import Store
from supportloop.forget.targets import Targets, id_digest

ADAPTER_STAGES = ("train", "export")


def build_report(
    *,
    at: str,
    root: Path,
    stores: list[Store],
    request: dict[str, list[str]],
    targets: Targets,
    scans: list[Scan],
    argilla: tuple[list[ArgillaRecord], int] | None,
    derived: dict[Store, list[str]],
    ids_replaced: dict[Store, int],
    dry_run: bool,
) -> dict[str, Any]:
    removed = [
        {
            "run": str(scan.artifact.store.path),
            "stage": scan.artifact.store.stage,
            "artifact": scan.artifact.name,
            "kind": scan.artifact.kind,
            "rows_removed": scan.matched,
            "rows_left": scan.rows - scan.matched,
        }
        for scan in sorted(scans, key=lambda s: (str(s.artifact.store.path), s.artifact.name))
        if scan.matched
    ]
    by_stage: Counter[str] = Counter()
    for row in removed:
        by_stage[row["stage"]] += row["rows_removed"]
    runs = [
        {"run": str(store.path), "stage": store.stage, "via": via}
        for store, via in sorted(derived.items(), key=lambda item: str(item[0].path))
    ]
    return {
        "forgotten_at": at,
        "dry_run": dry_run,
        "runs_root": str(root),
        "request": request,
        "found": {
            "conversations": len(targets.conversations),
            "annotation_records": len(targets.records),
        },
        "found_anything": bool(removed or (argilla and argilla[0])),
        "removed": removed,
        "rows_removed_by_stage": dict(sorted(by_stage.items())),
        "argilla": _argilla_section(argilla),
        "ids_replaced_in_lineage": {
            str(store.path): count for store, count in ids_replaced.items() if count
        },
        "derived_runs": runs,
        "adapters_to_review": [run["run"] for run in runs if run["stage"] in ADAPTER_STAGES],
        "raw_inputs_not_changed": _raw_inputs(scans),
        "leftovers_not_searched": [str(p) for store in stores for p in store.leftovers],
    }


def request_digests(customer_ids: list[str], conversation_ids: list[str]) -> dict[str, list[str]]:
    return {
        "customer_ids": sorted(id_digest(i) for i in set(customer_ids)),
        "conversation_ids": sorted(id_digest(i) for i in set(conversation_ids)),
    }


def _argilla_section(argilla: tuple[list[ArgillaRecord], int] | None) -> dict[str, Any]:
    if argilla is None:
        return {"searched": False}
    records, unreadable = argilla
    datasets: dict[str, dict[str, int]] = {}
    for record in records:
        counts = datasets.setdefault(record.dataset, {"records": 0, "responses": 0})
        counts["records"] += 1
        counts["responses"] += record.responses
    return {
        "searched": True,
        "records_deleted": len(records),
        "responses_deleted": sum(r.responses for r in records),
        "datasets": datasets,
        "records_without_readable_metadata": unreadable,
    }


def _raw_inputs(scans: list[Scan]) -> list[str]:
    """The logs ingest runs read whose output held the customer's rows (outside the loop's
    stores: the lineage names them by path)."""
    found = set()
    for scan in scans:
        store = scan.artifact.store
        if scan.matched and store.stage == "ingest" and store.lineage:
            found |= set(store.lineage.get("inputs") or {})
    return sorted(found)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A short account for the terminal; the JSON report has the rest."""
    verb = "would remove" if report["dry_run"] else "removed"
    found = report["found"]
    lines = [
        f"{len(report['request']['customer_ids'])} customer id(s), "
        f"{len(report['request']['conversation_ids'])} conversation id(s) -> "
        f"{found['conversations']} conversation(s), "
        f"{found['annotation_records']} annotation record(s)"
    ]
    if not report["found_anything"]:
        lines.append(f"nothing found under {report['runs_root']}")
    for row in report["removed"]:
        lines.append(
            f"  {verb} {row['rows_removed']:>6} rows  {row['stage']:<18} "
            f"{row['run']}/{row['artifact']}"
        )
    argilla = report["argilla"]
    if not argilla["searched"]:
        lines.append("Argilla not searched (--argilla searches it)")
    for name, counts in argilla.get("datasets", {}).items():
        lines.append(
            f"  {verb} {counts['records']:>6} records (and {counts['responses']} responses) "
            f"from Argilla dataset {name}"
        )
    if argilla.get("records_without_readable_metadata"):
        lines.append(
            f"  {argilla['records_without_readable_metadata']} Argilla records carry no readable"
            " supportloop metadata: not attributable, left as they are"
        )
    for run in report["derived_runs"]:
        if run["stage"] in ADAPTER_STAGES:
            lines.append(f"  adapter trained on this data (not changed): {run['run']}")
    for path in report["raw_inputs_not_changed"]:
        lines.append(f"  raw logs still holding it (not changed): {path}")
    for path in report["leftovers_not_searched"]:
        lines.append(f"  scratch or cache of a failed or running stage (not searched): {path}")
    return lines

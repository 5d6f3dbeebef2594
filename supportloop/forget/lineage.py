"""A forget in the lineage: what each run records of it, and which runs learned from the data.

A rewritten run keeps its lineage, with the digests and output fingerprints of the rewritten
artifacts replaced (so `verify_artifacts` still holds) and a `forgotten` entry appended: when,
the request as sha256 digests of the ids, rows removed per artifact and the fingerprints the
outputs had before (downstream lineage still names those). Ids that a run's config names in
clear (an eval's `exclude_conversations`) are replaced by their digests.

Tracing goes the other way: a run learned from forgotten data when its lineage names, by
fingerprint or by path, an artifact that held the customer's rows, or a run that itself
learned from them (an adapter, then the model merged from it, then the eval that judged it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supportloop.config import project_root
from supportloop.feedback.argilla.pull import STATE_FILE
from supportloop.forget.rewrite import Rewritten
from supportloop.forget.scan import Scan
from supportloop.forget.stores import Store
from supportloop.forget.targets import id_digest
from supportloop.runs import (
    LINEAGE_FILE,
    file_digests,
    file_fingerprint,
    make_read_only,
    read_lineage,
    write_json_atomic,
)

FORGOTTEN = "forgotten"


def scrub(value: Any, ids: set[str]) -> tuple[Any, int]:
    """`value` with every string equal to an id replaced by the id's digest; how many."""
    if isinstance(value, str):
        return (id_digest(value), 1) if value in ids else (value, 0)
    if isinstance(value, dict):
        pairs = {key: scrub(item, ids) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, sum(n for _, n in pairs.values())
    if isinstance(value, list):
        pairs = [scrub(item, ids) for item in value]
        return [item for item, _ in pairs], sum(n for _, n in pairs)
    return value, 0


def scrubbed(lineage: dict[str, Any], ids: set[str]) -> tuple[dict[str, Any], int]:
    """The lineage with ids in its inputs, config and outputs replaced; how many."""
    out, replaced = dict(lineage), 0
    for key in ("inputs", "config", "outputs"):
        if key in lineage:
            out[key], count = scrub(lineage[key], ids)
            replaced += count
    return out, replaced


def _new_output(old: str, rewritten: Rewritten) -> str:
    """The output's fingerprint recomputed the way its stage recorded it."""
    if old.startswith("datasets:") and rewritten.fingerprint is not None:
        return rewritten.fingerprint
    if old.startswith("sha256:"):
        return file_fingerprint(rewritten.artifact.path)
    return old


def record_forget(
    store: Store, rewritten: list[Rewritten], request: dict[str, Any], ids: set[str], at: str
) -> int:
    """Update the run's lineage (or the pull directory's state) after a forget; returns how
    many ids its lineage named in clear. A run with nothing to record is left as it is."""
    if store.lineage is None:
        if rewritten:
            _invalidate_pull_state(store.path)
        return 0
    lineage, replaced = scrubbed(read_lineage(store.path), ids)
    if not rewritten and not replaced:
        return 0
    outputs: dict[str, Any] = lineage.get("outputs") or {}
    before = {}
    for done in rewritten:
        name = done.artifact.name
        if "files" in lineage:  # a lineage older than digests gets none: it verified nothing
            kept = {
                k: v
                for k, v in lineage["files"].items()
                if k != name and not k.startswith(f"{name}/")
            }
            lineage["files"] = dict(sorted((kept | file_digests(store.path, [name])).items()))
        if isinstance(outputs.get(name), str):
            before[name] = outputs[name]
            outputs[name] = _new_output(outputs[name], done)
    entry = {
        "at": at,
        "request": request,
        "rows_removed": {done.artifact.name: done.removed for done in rewritten},
        "outputs_before": before,
        "ids_replaced_in_lineage": replaced,
    }
    lineage[FORGOTTEN] = [*lineage.get(FORGOTTEN, []), entry]
    target = store.path / LINEAGE_FILE
    write_json_atomic(target, lineage)
    make_read_only(target)
    return replaced


def _invalidate_pull_state(pull_dir: Path) -> None:
    """The next pull fetches everything again instead of trusting its saved summary."""
    path = pull_dir / STATE_FILE
    state = json.loads(path.read_text(encoding="utf-8"))
    state["last_activity_at"] = None
    write_json_atomic(path, state)


@dataclass
class Sources:
    """What identifies forgotten data in other runs' lineage: fingerprints and paths."""

    fingerprints: dict[str, str] = field(default_factory=dict)  # fingerprint -> where
    within: dict[Path, str] = field(default_factory=dict)  # this path or anything under it
    exact: dict[Path, str] = field(default_factory=dict)  # this path only (a whole run read)

    def add_scan(self, scan: Scan) -> None:
        """An artifact that held matched rows, and the run it belongs to."""
        where = str(scan.artifact.path)
        for fingerprint in scan.fingerprints:
            self.fingerprints[fingerprint] = where
        lineage = scan.artifact.store.lineage or {}
        recorded = (lineage.get("outputs") or {}).get(scan.artifact.name)
        if isinstance(recorded, str) and ":" in recorded:
            self.fingerprints[recorded] = where
        self.within[scan.artifact.path.resolve()] = where
        self.exact[scan.artifact.store.path.resolve()] = str(scan.artifact.store.path)

    def add_run(self, store: Store) -> None:
        """A run that learned from forgotten data: everything in it and everything it made."""
        where = str(store.path)
        self.within[store.path.resolve()] = where
        for value in ((store.lineage or {}).get("outputs") or {}).values():
            if isinstance(value, str) and ":" in value:
                self.fingerprints[value] = where

    def named_by(self, lineage: dict[str, Any]) -> set[str]:
        """Which forgotten sources a lineage's inputs and config name."""
        hits = set()
        for text in _strings([lineage.get("inputs"), lineage.get("config")]):
            if text in self.fingerprints:
                hits.add(self.fingerprints[text])
            elif "/" in text and len(text) < 4096:
                hits |= self._path_hits(text)
        return hits

    def _path_hits(self, text: str) -> set[str]:
        path = Path(text)
        path = (path if path.is_absolute() else project_root() / path).resolve()
        hits = {where for root, where in self.within.items() if path.is_relative_to(root)}
        if path in self.exact:
            hits.add(self.exact[path])
        return hits


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, dict keys included (ingest names its inputs by path)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for item in value.values() for s in _strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def downstream(stores: list[Store], sources: Sources) -> dict[Store, list[str]]:
    """Runs whose lineage names forgotten data, directly or through another such run, each
    with the sources it names."""
    found: dict[Store, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for store in stores:
            if store in found or store.lineage is None:
                continue
            hits = sources.named_by(store.lineage) - {str(store.path)}
            if hits:
                found[store] = sorted(hits)
                sources.add_run(store)
                changed = True
    return found

"""The model registry: models and their lineage, eval results, champion/challenger, history.

A local SQLite file by default (one writer at a time, every change in one transaction, so a
crash never leaves a promotion half done). The champion is what serves customers; a
challenger is a candidate whose last eval passed the gate and awaits `supportloop promote`.
With W&B online, the same roles are mirrored as artifact aliases (`champion`, `challenger`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportloop.errors import UserError, one_line
from supportloop.tracking import wandb_mode

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT PRIMARY KEY, base TEXT NOT NULL, adapter TEXT, adapter_fingerprint TEXT,
    lineage TEXT, wandb_artifact TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evals (
    eval_id TEXT PRIMARY KEY, candidate_id TEXT NOT NULL REFERENCES models(model_id),
    champion_id TEXT NOT NULL REFERENCES models(model_id), suite TEXT, verdict TEXT NOT NULL,
    metrics TEXT, decision TEXT, run_dir TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roles (
    role TEXT PRIMARY KEY CHECK (role IN ('champion', 'challenger')),
    model_id TEXT NOT NULL REFERENCES models(model_id), eval_id TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
    model_id TEXT NOT NULL, previous_id TEXT, eval_id TEXT, note TEXT);
"""


class RegistryError(UserError):
    """A registry action that is not allowed (no passing eval, stale eval, nothing to roll back)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry:
    def __init__(self, path: Path | str, lock_timeout_s: float = 30) -> None:
        """`lock_timeout_s`: how long a write waits for another process's transaction."""
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error.

        The write lock comes first, so concurrent writers (two `promote`s) queue for it and
        each reads the state the previous one committed.
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # no transaction began: nothing to roll back
            conn.close()
            raise RegistryError(
                f"{self.path}: another process held the registry's write lock for over "
                f"{self.lock_timeout_s:g} s ({exc}); try again when it has finished"
            ) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _query(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        conn = self._connect()
        try:
            return [dict(row) for row in conn.execute(sql, args)]
        finally:
            conn.close()

    # --- reads -------------------------------------------------------------------------------
    def role(self, role: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT r.role, r.eval_id, r.updated_at, m.* FROM roles r "
            "JOIN models m USING (model_id) WHERE r.role = ?",
            (role,),
        )
        return rows[0] if rows else None

    def model(self, model_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM models WHERE model_id = ?", (model_id,))
        return rows[0] if rows else None

    def eval(self, eval_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM evals WHERE eval_id = ?", (eval_id,))
        return rows[0] if rows else None

    def models(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM models ORDER BY created_at, model_id")

    def evals(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM evals ORDER BY created_at, eval_id")

    def history(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM history ORDER BY seq")

    # --- writes ------------------------------------------------------------------------------
    @staticmethod
    def _register(conn: sqlite3.Connection, model: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO models (model_id, base, adapter, adapter_fingerprint, lineage,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                model["model_id"],
                model["base"],
                model.get("adapter"),
                model.get("adapter_fingerprint"),
                json.dumps(model.get("lineage") or {}),
                _now(),
            ),
        )

    @staticmethod
    def _set_role(conn, role: str, model_id: str, eval_id: str | None) -> None:
        conn.execute(
            "INSERT INTO roles (role, model_id, eval_id, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(role) DO UPDATE SET model_id = excluded.model_id, "
            "eval_id = excluded.eval_id, updated_at = excluded.updated_at",
            (role, model_id, eval_id, _now()),
        )

    @staticmethod
    def _log(
        conn,
        action: str,
        model_id: str,
        previous: str | None = None,
        eval_id: str | None = None,
        note: str = "",
    ) -> None:
        conn.execute(
            "INSERT INTO history (at, action, model_id, previous_id, eval_id, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_now(), action, model_id, previous, eval_id, note),
        )

    def ensure_champion(self, default: dict[str, Any]) -> dict[str, Any]:
        """The champion; on an empty registry the default (the base model) becomes champion."""
        with self.transaction() as conn:
            row = conn.execute("SELECT model_id FROM roles WHERE role = 'champion'").fetchone()
            if row is None:
                self._register(conn, default)
                self._set_role(conn, "champion", default["model_id"], None)
                self._log(conn, "bootstrap", default["model_id"], note="default champion")
        return self.role("champion")

    def record_eval(
        self,
        eval_id: str,
        candidate: dict,
        champion: dict,
        suite: str,
        verdict: str,
        metrics: dict,
        decision: dict,
        run_dir: str,
    ) -> None:
        """Store an eval; a passing one makes its candidate the challenger."""
        with self.transaction() as conn:
            self._register(conn, candidate)
            self._register(conn, champion)
            conn.execute(
                "INSERT INTO evals (eval_id, candidate_id, champion_id, suite, verdict, metrics,"
                " decision, run_dir, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    eval_id,
                    candidate["model_id"],
                    champion["model_id"],
                    suite,
                    verdict,
                    json.dumps(metrics),
                    json.dumps(decision),
                    run_dir,
                    _now(),
                ),
            )
            if verdict == "promote":
                self._set_role(conn, "challenger", candidate["model_id"], eval_id)
                self._log(conn, "challenger", candidate["model_id"], champion["model_id"], eval_id)

    def promote(self, eval_id: str | None = None) -> dict[str, Any]:
        """Make the candidate of a passing eval (default: the challenger's) the champion."""
        with self.transaction() as conn:
            if eval_id is None:
                row = conn.execute("SELECT eval_id FROM roles WHERE role = 'challenger'").fetchone()
                if row is None:
                    raise RegistryError(
                        "no challenger: no eval has passed the gate since the last promotion"
                    )
                eval_id = row["eval_id"]
            record = conn.execute("SELECT * FROM evals WHERE eval_id = ?", (eval_id,)).fetchone()
            if record is None:
                raise RegistryError(
                    f"unknown eval {eval_id!r}: no finished eval has that id (an interrupted "
                    "eval records nothing: re-run it; see `supportloop registry`)"
                )
            if record["verdict"] != "promote":
                raise RegistryError(
                    f"eval {eval_id} did not pass the gate (verdict: {record['verdict']})"
                )
            current = conn.execute("SELECT model_id FROM roles WHERE role = 'champion'").fetchone()
            current_id = current["model_id"] if current else None
            if current_id != record["champion_id"]:
                raise RegistryError(
                    f"eval {eval_id} compared against {record['champion_id']}, but the champion is "
                    f"now {current_id}: re-run the eval against the current champion"
                )
            self._set_role(conn, "champion", record["candidate_id"], eval_id)
            conn.execute("DELETE FROM roles WHERE role = 'challenger'")
            self._log(conn, "promote", record["candidate_id"], current_id, eval_id)
        promoted = self.role("champion")
        promoted["wandb_alias"] = self._sync_wandb_alias(promoted, "champion")
        return promoted

    def rollback(self) -> dict[str, Any]:
        """Restore the champion that the current champion replaced (walks back one promotion)."""
        with self.transaction() as conn:
            current = conn.execute("SELECT model_id FROM roles WHERE role = 'champion'").fetchone()
            if current is None:
                raise RegistryError("the registry has no champion yet")
            origin = conn.execute(
                "SELECT * FROM history WHERE model_id = ? AND action IN ('promote', 'bootstrap') "
                "ORDER BY seq DESC LIMIT 1",
                (current["model_id"],),
            ).fetchone()
            if origin is None or origin["previous_id"] is None:
                raise RegistryError(
                    f"{current['model_id']} replaced no earlier champion: nothing to roll back to"
                )
            self._set_role(conn, "champion", origin["previous_id"], None)
            self._log(conn, "rollback", origin["previous_id"], current["model_id"])
        restored = self.role("champion")
        restored["wandb_alias"] = self._sync_wandb_alias(restored, "champion")
        return restored

    def set_wandb_artifact(self, model_id: str, artifact: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE models SET wandb_artifact = ? WHERE model_id = ?", (artifact, model_id)
            )

    @staticmethod
    def _sync_wandb_alias(model: dict[str, Any] | None, alias: str) -> str | None:
        """Move a W&B artifact alias onto the model's adapter artifact; a line saying how it went.

        Runs after the registry's transaction: the registry is the record, so a W&B that is
        offline or fails leaves a line to act on, never an undone promotion.
        """
        if not model or not model.get("wandb_artifact"):
            return None
        name = model["wandb_artifact"]
        setting = wandb_mode()
        why = f"W&B {setting.mode}: {setting.reason}"
        if setting.online:
            try:
                import wandb

                artifact = wandb.Api().artifact(name)
                if alias not in artifact.aliases:
                    artifact.aliases.append(alias)
                    artifact.save()
                return f"W&B alias {alias!r} now on {name}"
            except Exception as exc:  # W&B is a mirror: its failure must not undo the registry
                why = one_line(exc)
        return (
            f"W&B alias {alias!r} not moved ({why}); the registry changed: add it to {name} in W&B"
        )

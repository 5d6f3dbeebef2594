"""Entry point of the embedded Argilla server, run by the server's own virtualenv python.

`python serve.py web --host H --port P --credentials-file F`: migrate the SQLite database,
create the workspace and the missing users of the credentials file, register the osmem engine,
repair record statuses a crash left behind, rebuild the search index from the database (osmem
keeps nothing across restarts), then serve the API and UI.
`python serve.py worker`: the background job worker (webhooks, record-status updates).

Configuration comes from the environment (`ARGILLA_HOME_PATH`, `ARGILLA_DATABASE_URL`,
`ARGILLA_ELASTICSEARCH`, `ARGILLA_REDIS_URL`, `ARGILLA_SEARCH_ENGINE`), set by
`feedback/argilla/stack.py`. Nothing here prints secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import osmem_engine  # noqa: F401  (registers the engine before the server looks it up)


def _tune_sqlite() -> None:
    """WAL journal + synchronous=NORMAL for the embedded SQLite database.

    Stock settings fsync twice per commit and argilla-server commits several times per record,
    which made batched pushes fsync-bound (~12 records/s here). WAL stays crash-safe for the
    application; only the last transactions can be lost on power failure, acceptable for the
    embedded stack (production uses PostgreSQL).
    """
    from argilla_server.settings import settings
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        if settings.database_is_sqlite:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()


def _skip_unsubscribed_record_events() -> None:
    """Bulk record upserts: build record.created/updated events only when a webhook wants them.

    Stock argilla-server builds every event (six queries: the dataset with its settings) before
    it looks for webhooks, once per record of a bulk upsert; on SQLite that dominated batched
    pushes. Here one query per bulk checks for subscribers first; when a webhook does listen,
    the stock code runs unchanged. Only the bulk upsert path is wrapped (record.completed, from
    task distribution, is untouched).
    """
    from argilla_server.bulk.records_bulk import UpsertRecordsBulk
    from argilla_server.contexts.webhooks import list_enabled_webhooks

    stock = UpsertRecordsBulk._notify_upsert_record_events
    wanted = {"record.created", "record.updated"}

    async def notify_if_subscribed(self, records):
        hooks = await list_enabled_webhooks(self._db)
        if any(wanted.intersection(hook.events) for hook in hooks):
            await stock(self, records)

    UpsertRecordsBulk._notify_upsert_record_events = notify_if_subscribed


def _reuse_settings_validators() -> None:
    """Build the pydantic validators of question/metadata settings once, not on every access.

    Stock `Question.parsed_settings` / `MetadataProperty.parsed_settings` construct a new
    `TypeAdapter` (a full core-schema build: ~1 ms for metadata, ~3 ms for questions, idle
    machine) each time; record validation reads the metadata one once per metadata value of
    every record, so with our ~9 metadata properties schema building took ~90% of a bulk
    upsert's time (py-spy) and capped batched pushes at ~50 records/s. Validating with a
    prebuilt adapter takes ~15 us. The validation itself is unchanged: same type, same
    `validate_python`.
    """
    from argilla_server.models.database import (
        MetadataProperty,
        MetadataPropertySettings,
        Question,
        QuestionSettings,
    )
    from pydantic import TypeAdapter

    question_settings = TypeAdapter(QuestionSettings)
    metadata_settings = TypeAdapter(MetadataPropertySettings)
    Question.parsed_settings = property(lambda q: question_settings.validate_python(q.settings))
    MetadataProperty.parsed_settings = property(
        lambda m: metadata_settings.validate_python(m.settings)
    )


def _migrate() -> None:
    from argilla_server.cli.database.migrate import migrate_db

    migrate_db(revision="head")


async def _ensure_users(credentials_file: Path) -> None:
    """Create the workspace and every user of the credentials file that does not exist yet."""
    from argilla_server.cli.database.users.utils import get_or_new_workspace
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.models import User, UserRole

    credentials = json.loads(credentials_file.read_text(encoding="utf-8"))
    async with AsyncSessionLocal() as session:
        for username, user in credentials["users"].items():
            if await accounts.get_user_by_username(session, username):
                continue
            workspace = await get_or_new_workspace(session, credentials["workspace"])
            await User.create(
                session,
                first_name=username,
                username=username,
                role=UserRole(user["role"]),
                password_hash=accounts.hash_password(user["password"]),
                api_key=user["api_key"],
                workspaces=[workspace],
            )
            print(f"created user {username!r} ({user['role']})", flush=True)


async def _stale_record_ids(db, dataset) -> list:
    """Ids of the dataset's records whose status disagrees with their submitted responses."""
    from argilla_server.enums import RecordStatus, ResponseStatus
    from argilla_server.models import Record, Response
    from sqlalchemy import func, select

    submitted = (
        select(Response.record_id, func.count().label("n"))
        .where(Response.status == ResponseStatus.submitted)
        .group_by(Response.record_id)
        .subquery()
    )
    rows = await db.execute(
        select(Record.id, Record.status, func.coalesce(submitted.c.n, 0))
        .outerjoin(submitted, submitted.c.record_id == Record.id)
        .where(Record.dataset_id == dataset.id)
    )
    need = dataset.distribution["min_submitted"]
    return [rid for rid, status, n in rows if (n >= need) != (status == RecordStatus.completed)]


async def _repair_record_statuses() -> None:
    """Recompute record statuses that disagree with the record's submitted responses.

    argilla-server commits a response, then the record's status in a second transaction: a
    crash between the two leaves a record with `min_submitted` submitted responses `pending`,
    in every other annotator's queue, collecting responses beyond the distribution setting
    (or a withdrawn one still `completed`). Runs before the reindex, which copies statuses into
    the search index. The stock rule (`distribution`) sets the new status.
    """
    from argilla_server.contexts.distribution import unsafe_update_records_status
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.enums import DatasetDistributionStrategy
    from argilla_server.models import Dataset, Record
    from sqlalchemy import select

    async with AsyncSessionLocal() as db:
        stale = []
        for dataset in (await db.execute(select(Dataset))).scalars().all():
            if dataset.distribution_strategy == DatasetDistributionStrategy.overlap:
                stale += await _stale_record_ids(db, dataset)
        if stale:
            records = (await db.execute(select(Record).where(Record.id.in_(stale)))).scalars()
            await unsafe_update_records_status(db, list(records))
            await db.commit()
            print(f"repaired the status of {len(stale)} records", flush=True)


def _reindex() -> None:
    from argilla_server.cli.search_engine.reindex import _reindex as reindex_all

    asyncio.run(reindex_all())


def web(host: str, port: int, credentials_file: Path) -> None:
    import uvicorn

    _tune_sqlite()
    _reuse_settings_validators()
    _migrate()
    asyncio.run(_ensure_users(credentials_file))
    asyncio.run(_repair_record_statuses())
    _reindex()
    from argilla_server import app

    _skip_unsubscribed_record_events()

    uvicorn.run(app, host=host, port=port, access_log=False)


def worker() -> None:
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import Worker

    _tune_sqlite()
    _reuse_settings_validators()
    Worker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION).work()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    web_parser = sub.add_parser("web")
    web_parser.add_argument("--host", default="127.0.0.1")
    web_parser.add_argument("--port", type=int, required=True)
    web_parser.add_argument("--credentials-file", type=Path, required=True)
    sub.add_parser("worker")
    args = parser.parse_args(argv)
    if args.command == "web":
        web(args.host, args.port, args.credentials_file)
    else:
        worker()


if __name__ == "__main__":
    main(sys.argv[1:])

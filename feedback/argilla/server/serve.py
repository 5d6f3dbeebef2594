"""Entry point of the embedded Argilla server, run by the server's own virtualenv python.

`python serve.py web --host H --port P --credentials-file F`: migrate the SQLite database,
create the workspace and the missing users of the credentials file, register the osmem engine,
rebuild the search index from the database (osmem keeps nothing across restarts), then serve
the API and UI.
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


def _reindex() -> None:
    from argilla_server.cli.search_engine.reindex import _reindex as reindex_all

    asyncio.run(reindex_all())


def web(host: str, port: int, credentials_file: Path) -> None:
    import uvicorn

    _migrate()
    asyncio.run(_ensure_users(credentials_file))
    _reindex()
    from argilla_server import app

    uvicorn.run(app, host=host, port=port, access_log=False)


def worker() -> None:
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import Worker

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

"""The embedded Argilla stack: a real argilla-server 2.8 with Redis and osmem on loopback.

`up` starts four processes, detached, from a data directory that survives restarts:
Redis (Debian `redis-server`; job queue only, nothing to persist), `osmem-server` (in-memory
OpenSearch API), the Argilla web server and its job worker (both from `.venv-argilla-server`,
through `server/serve.py`, with the osmem search-engine adapter). The SQLite database lives in
the data directory; on every start, record statuses a crash left stale are repaired in it and
the search index is rebuilt from it. Users (owner +
annotators) and the workspace come from the stack config; their passwords and API keys are
generated once into `credentials.json` (mode 0600) and never printed.

`down` stops exactly the processes recorded in `stack.json` (pid + start time, so a recycled
pid is never signalled). When `ARGILLA_API_URL` and `ARGILLA_API_KEY` are set, nothing is
started: every command talks to that server instead (see `connection.py`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil
import requests
from pydantic import ConfigDict, Field

from supportloop.config import ProjectPath, StrictModel
from supportloop.errors import UserError
from supportloop.feedback.argilla.connection import read_credentials
from supportloop.runs import write_json_atomic

SEARCH_ENGINE_NAME = "osmem-opensearch"  # must match server/osmem_engine.py ENGINE_NAME
CREDENTIALS_FILE = "credentials.json"
STATE_FILE = "stack.json"
_SERVE_SCRIPT = Path(__file__).parent / "server" / "serve.py"


class StackError(UserError):
    """The embedded stack cannot be started, reached or stopped."""


class StackConfig(StrictModel):
    """`configs/argilla/stack.yaml`: where the embedded server lives and who may use it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)

    data_dir: ProjectPath = Field(Path(".cache/argilla"), description="DB, logs, credentials.")
    host: str = "127.0.0.1"
    port: int = Field(6900, ge=0, le=65535, description="0 picks a free port.")
    server_venv: ProjectPath = Path(".venv-argilla-server")
    workspace: str = "support"
    owner: str = "owner"
    annotators: list[str] = Field(default_factory=lambda: ["annotator-1", "annotator-2"])
    startup_timeout_s: float = Field(120.0, gt=0)


@dataclass(frozen=True)
class StackInfo:
    """What a caller needs to reach a running embedded stack (no secrets)."""

    api_url: str
    data_dir: Path
    credentials_file: Path
    started: bool


def credentials_path(config: StackConfig) -> Path:
    return config.data_dir / CREDENTIALS_FILE


def _new_secret() -> str:
    return secrets.token_urlsafe(24)


def ensure_credentials(config: StackConfig, api_url: str) -> Path:
    """Create or extend the 0600 credentials file; existing users keep their secrets."""
    path = credentials_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = read_credentials(path) if path.is_file() else {}  # refuses one others could read
    users = data.get("users", {})
    wanted: dict[str, Literal["owner", "annotator"]] = {config.owner: "owner"}
    wanted |= {name: "annotator" for name in config.annotators if name != config.owner}
    for username, role in wanted.items():
        users.setdefault(
            username, {"role": role, "password": _new_secret(), "api_key": _new_secret()}
        )
    data.update(api_url=api_url, workspace=config.workspace, owner=config.owner, users=users)
    staging = path.with_suffix(".tmp")
    staging.unlink(missing_ok=True)  # a stale one from a crash may carry a wider mode
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(staging, path)
    return path


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _osmem_binary(server_venv: Path) -> Path:
    found = sorted(server_venv.glob("lib/python3*/site-packages/osmem_server/bin/osmem-server"))
    if not found:
        raise StackError(f"{server_venv}: osmem-server not installed; run bash scripts/setup.sh")
    return found[0]


def _redis_command(server_venv: Path, port: int, data_dir: Path) -> list[str]:
    """Debian's redis-server when installed, else fakeredis's TCP server from the server venv."""
    binary = shutil.which("redis-server")
    if binary:
        return [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ]
    code = (
        "import fakeredis, sys; "
        "fakeredis.TcpFakeServer(('127.0.0.1', int(sys.argv[1])), server_type='redis')"
        ".serve_forever()"
    )
    return [str(server_venv / "bin" / "python"), "-c", code, str(port)]


def _read_state(data_dir: Path) -> dict | None:
    path = data_dir / STATE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _alive(entry: dict) -> bool:
    """True when the recorded process still runs (same pid AND same start time)."""
    try:
        proc = psutil.Process(entry["pid"])
        return abs(proc.create_time() - entry["create_time"]) < 1 and proc.is_running()
    except psutil.Error:
        return False


def _spawn(name: str, command: list[str], env: dict[str, str], state: dict, data_dir: Path) -> None:
    """Start one detached process (logs in data_dir/logs) and record it in stack.json at once."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started_at = psutil.Process(proc.pid).create_time()
    state["processes"][name] = {"pid": proc.pid, "create_time": started_at}
    write_json_atomic(data_dir / STATE_FILE, state)


def _healthy(api_url: str, api_key: str) -> bool:
    try:
        reply = requests.get(
            f"{api_url}/api/v1/me", headers={"X-Argilla-Api-Key": api_key}, timeout=2
        )
    except requests.RequestException:
        return False
    return reply.status_code == 200


def _owner_key(config: StackConfig) -> str:
    data = read_credentials(credentials_path(config))
    return data["users"][data["owner"]]["api_key"]


def _log_tail(data_dir: Path, name: str, lines: int = 5) -> str:
    path = data_dir / "logs" / f"{name}.log"
    if not path.is_file():
        return ""
    tail = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]
    return " | ".join(tail)


def _server_env(data_dir: Path, redis_port: int, osmem_port: int) -> dict[str, str]:
    """argilla-server's settings: SQLite in data_dir, osmem via the adapter, local Redis."""
    env = {
        **os.environ,
        "ARGILLA_HOME_PATH": str(data_dir),
        "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'argilla.db'}"
        "?check_same_thread=False",
        "ARGILLA_ELASTICSEARCH": f"http://127.0.0.1:{osmem_port}",
        "ARGILLA_SEARCH_ENGINE": SEARCH_ENGINE_NAME,
        "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for inherited in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(inherited, None)
    return env


def up(config: StackConfig) -> StackInfo:
    """Start the embedded stack (or return the one already running); waits until it answers."""
    data_dir = config.data_dir
    state = _read_state(data_dir)
    running = state and all(_alive(p) for p in state["processes"].values())
    if running and _healthy(state["api_url"], _owner_key(config)):
        return StackInfo(state["api_url"], data_dir, credentials_path(config), started=False)
    if state:
        down(config)
    python = config.server_venv / "bin" / "python"
    if not python.is_file():
        raise StackError(f"{python}: Argilla server venv missing; run bash scripts/setup.sh")
    port = config.port or _free_port(config.host)
    if _port_open(config.host, port):
        raise StackError(f"{config.host}:{port} is already in use; set port=<free port> or 0")
    api_url = f"http://{config.host}:{port}"
    creds = ensure_credentials(config, api_url)
    redis_port, osmem_port = _free_port("127.0.0.1"), _free_port("127.0.0.1")
    env = _server_env(data_dir, redis_port, osmem_port)
    state = {"api_url": api_url, "processes": {}}
    serve = str(_SERVE_SCRIPT)
    try:
        redis = _redis_command(config.server_venv, redis_port, data_dir)
        _spawn("redis", redis, env, state, data_dir)
        osmem = [
            str(_osmem_binary(config.server_venv)),
            "--addr",
            f"127.0.0.1:{osmem_port}",
            "--no-stdin-watch",
            "--no-ja",
        ]
        _spawn("osmem", osmem, env, state, data_dir)
        _wait_port(redis_port, osmem_port, deadline=time.monotonic() + 20)
        web = [
            str(python),
            serve,
            "web",
            "--host",
            config.host,
            "--port",
            str(port),
            "--credentials-file",
            str(creds),
        ]
        _spawn("web", web, env, state, data_dir)
        _spawn("worker", [str(python), serve, "worker"], env, state, data_dir)
        _wait_ready(config, state, api_url)
    except BaseException:
        down(config)
        raise
    return StackInfo(api_url, data_dir, creds, started=True)


def _wait_port(*ports: int, deadline: float) -> None:
    while not all(_port_open("127.0.0.1", port) for port in ports):
        if time.monotonic() > deadline:
            raise StackError(f"redis/osmem did not open ports {ports} within 20 s")
        time.sleep(0.1)


def _wait_ready(config: StackConfig, state: dict, api_url: str) -> None:
    deadline = time.monotonic() + config.startup_timeout_s
    key = _owner_key(config)
    while not _healthy(api_url, key):
        for name, entry in state["processes"].items():
            if not _alive(entry):
                raise StackError(
                    f"argilla stack: {name} exited during startup; "
                    f"log {config.data_dir / 'logs' / (name + '.log')}: "
                    f"{_log_tail(config.data_dir, name)}"
                )
        if time.monotonic() > deadline:
            raise StackError(
                f"argilla server not ready at {api_url} after {config.startup_timeout_s:.0f} s; "
                f"see {config.data_dir / 'logs' / 'web.log'}"
            )
        time.sleep(0.5)


def down(config: StackConfig) -> list[str]:
    """Stop the processes this stack started (recorded in stack.json); returns their names."""
    state = _read_state(config.data_dir)
    if not state:
        return []
    stopped = []
    for name, entry in reversed(state["processes"].items()):
        if not _alive(entry):
            continue
        proc = psutil.Process(entry["pid"])
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        stopped.append(name)
    (config.data_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped


def status(config: StackConfig) -> dict:
    """Health of the embedded stack: each process, and whether the API answers."""
    state = _read_state(config.data_dir)
    if not state:
        return {"api_url": None, "processes": {}, "api_ok": False}
    processes = {name: _alive(entry) for name, entry in state["processes"].items()}
    api_ok = all(processes.values()) and _healthy(state["api_url"], _owner_key(config))
    return {"api_url": state["api_url"], "processes": processes, "api_ok": api_ok}

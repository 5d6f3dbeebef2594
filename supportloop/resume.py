"""What `supportloop run --resume RUN_ID` may reuse: steps whose outputs and inputs are unchanged.

Each step's record in `<record_dir>/<run_id>/steps.json` carries fingerprints of what it read
and wrote: its command line, its config file's bytes, the outputs of the steps before it
(`upstream`) and the sha256 of every output it announced (supportloop.runs.announce_output).
A resumed run walks the steps in order and reuses one only when all of these still hold and
every file its lineage names as an input still has the recorded digest (the logs ingest read,
say); anything else runs again. A re-run step whose outputs come out identical lets the steps
after it be reused; different outputs make them run again. Steps that announce no outputs
(`argilla up`, `argilla simulate`) have nothing to check and always run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supportloop.errors import UserError

STEPS_FILE = "steps.json"


def step_fingerprint(argv: list[str], config: Path | None, upstream: list[dict[str, str]]) -> dict:
    """What a step reads, as the runner sees it: command line, config bytes, earlier outputs."""
    config_digest = _sha256(config.read_bytes()) if config and config.is_file() else None
    chained = json.dumps(upstream, sort_keys=True).encode()
    return {"argv": argv, "config_sha256": config_digest, "upstream": _sha256(chained)}


def _sha256(payload: bytes) -> str:
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def output_digests(paths: list[str]) -> dict[str, str]:
    """Announced path -> its fingerprint (see `_output_digest`)."""
    existing = [path for path in dict.fromkeys(paths) if Path(path).exists()]
    return {path: _output_digest(Path(path)) for path in existing}


def _output_digest(path: Path) -> str:
    """A stage's run directory: its lineage, as long as every file it records is intact (files
    others add later, such as a W&B run still syncing, do not count); anything else: the sha256
    of its bytes (a folder: every file in it, names included)."""
    from supportloop.runs import LINEAGE_FILE, file_fingerprint, verify_artifacts

    lineage = path / LINEAGE_FILE
    if not lineage.is_file():
        return file_fingerprint(path)
    recorded = {p for p in verify_artifacts(path) if not p.endswith("not written by the stage")}
    return f"changed: {sorted(recorded)[0]}" if recorded else file_fingerprint(lineage)


@contextmanager
def announced_outputs(scratch: Path) -> Iterator[list[str]]:
    """Collect the outputs the stages inside the block announce (also from child processes)."""
    from supportloop.runs import OUTPUTS_ENV

    scratch.parent.mkdir(parents=True, exist_ok=True)
    scratch.write_text("", encoding="utf-8")
    previous = os.environ.get(OUTPUTS_ENV)
    os.environ[OUTPUTS_ENV] = str(scratch)
    paths: list[str] = []
    try:
        yield paths
    finally:
        paths.extend(line for line in scratch.read_text(encoding="utf-8").splitlines() if line)
        scratch.unlink(missing_ok=True)
        if previous is None:
            os.environ.pop(OUTPUTS_ENV, None)
        else:
            os.environ[OUTPUTS_ENV] = previous


@contextmanager
def pipeline_run(run_id: str) -> Iterator[None]:
    """Mark the stages inside the block as steps of pipeline run `run_id`: their lineage records
    it, and the inputs they check (supportloop.runs.require_same_pipeline_run) must carry it."""
    from supportloop.runs import PIPELINE_RUN_ENV

    previous = os.environ.get(PIPELINE_RUN_ENV)
    os.environ[PIPELINE_RUN_ENV] = run_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PIPELINE_RUN_ENV, None)
        else:
            os.environ[PIPELINE_RUN_ENV] = previous


def load_steps(record_dir: Path, run_id: str) -> dict[int, dict[str, Any]]:
    """Step number -> its record in an earlier run; refuses a run that left no record."""
    path = record_dir / run_id / STEPS_FILE
    if not path.is_file():
        known = sorted(p.parent.name for p in record_dir.glob(f"*/{STEPS_FILE}"))
        hint = f"; runs recorded there: {', '.join(known[-5:])}" if known else ""
        raise UserError(f"--resume {run_id}: no {path}{hint}")
    return {step["step"]: step for step in json.loads(path.read_text(encoding="utf-8"))["steps"]}


def rerun_reason(earlier: dict[str, Any] | None, now: dict[str, Any], run_id: str) -> str | None:
    """Why a step must run again in this resumed run; None when its earlier result holds."""
    if earlier is None:
        return f"not reached in run {run_id}"
    if earlier.get("status") != 0:
        return f"did not finish in run {run_id} (status {earlier.get('status')})"
    if earlier.get("argv") != now["argv"]:
        return "its command line changed"
    if earlier.get("config_sha256") != now["config_sha256"]:
        return "its config file changed"
    if earlier.get("upstream") != now["upstream"]:
        return "the outputs of an earlier step changed"
    if not earlier.get("outputs"):
        return "it announces no outputs to check"
    current = output_digests(list(earlier["outputs"]))
    for path, digest in earlier["outputs"].items():
        if current.get(path) != digest:
            return f"its output {path} is {'changed' if path in current else 'missing'}"
    return _changed_input(earlier["outputs"])


def _changed_input(outputs: dict[str, str]) -> str | None:
    """A file the outputs' lineage names as an input whose bytes differ from the recorded ones."""
    from supportloop.runs import LINEAGE_FILE, file_fingerprint

    for output in outputs:
        lineage = Path(output) / LINEAGE_FILE
        if not lineage.is_file():
            continue
        for name, digest in json.loads(lineage.read_text(encoding="utf-8"))["inputs"].items():
            path = Path(name)
            if not (str(digest).startswith("sha256:") and path.is_absolute()):
                continue  # a dataset fingerprint or a model id: covered by `upstream`
            if not path.exists():
                return f"its input {path} is missing"
            if file_fingerprint(path) != digest:
                return f"its input {path} changed"
    return None


def was_interrupted(earlier: dict[str, Any] | None, now: dict[str, Any]) -> bool:
    """The step started in the earlier run with these same inputs and did not finish."""
    return (
        earlier is not None
        and earlier.get("status") != 0
        and all(earlier.get(key) == now[key] for key in ("argv", "config_sha256", "upstream"))
    )

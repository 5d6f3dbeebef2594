"""`supportloop run --resume RUN_ID`: reuse what is intact, re-run what changed, refuse what is not.

The pipeline is a real `ingest` (its outputs and its input file are what --resume fingerprints)
followed by a step that fails (`argilla status` on a closed port) and is then fixed by a
command-line override, as a user would fix a failed run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from supportloop.resume import output_digests, rerun_reason, step_fingerprint, was_interrupted
from tests.ingest.helpers import transcript

SUPPORTLOOP = str(Path(sys.executable).parent / "supportloop")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SUPPORTLOOP, "run", *args], capture_output=True, text=True, timeout=300)


def _write_logs(path: Path, count: int) -> None:
    rows = [transcript(f"c{i}", f"cust-{i}", f"Where is order {i}?", hour=i) for i in range(count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _steps(record_dir: Path, run_id: str) -> list[dict]:
    return json.loads((record_dir / run_id / "steps.json").read_text())["steps"]


@pytest.mark.slow
def test_resume_reuses_intact_steps_and_reruns_changed_ones(tmp_path):
    logs, out, records = tmp_path / "logs.jsonl", tmp_path / "ingest", tmp_path / "records"
    _write_logs(logs, 3)
    ingest = {
        "command": "ingest",
        "config": "configs/ingest/demo.yaml",
        "overrides": [f"inputs.0.path={logs}", f"output_dir={out}", "num_proc=1"],
        "args": ["--no-progress"],
    }
    failing = {"command": "argilla status", "overrides": [f"data_dir={tmp_path}/a", "port=9"]}
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"steps": [ingest, failing], "record_dir": str(records)}))

    first = _run(str(pipeline))
    assert first.returncode == 1, first.stderr[-3000:]
    run_id = re.search(r"pipeline run (\S+)", first.stderr).group(1)
    recorded = _steps(records, run_id)
    assert [s["status"] for s in recorded] == [0, 1]
    assert list(recorded[0]["outputs"]) == [str(out.resolve())]
    lineage = (out / "lineage.json").read_text()

    fixed = [
        "steps.1.command=registry",
        "steps.1.overrides=[]",
        f"steps.1.args=[--registry, {tmp_path}/r.sqlite, --json]",
    ]
    resumed = _run(str(pipeline), *fixed, "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "supportloop ingest: reused (unchanged)" in resumed.stderr
    assert (out / "lineage.json").read_text() == lineage  # ingest did not run again
    assert [s["reused"] for s in _steps(records, run_id)] == [True, False]
    assert "decision: none (no eval step finished in this run)" in resumed.stderr
    assert re.search(rf"  ingest +{re.escape(str(out.resolve()))}\n", resumed.stderr)

    _write_logs(logs, 4)  # the input ingest read has changed since
    again = _run(str(pipeline), *fixed, "--resume", run_id)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"supportloop ingest runs: its input {logs.resolve()} changed" in again.stderr
    assert json.loads((out / "summary.json").read_text())["read"] == 4

    unknown = _run(str(pipeline), "--resume", "20990101T000000Z")
    assert unknown.returncode != 0
    assert "--resume 20990101T000000Z: no " in unknown.stderr and run_id in unknown.stderr
    assert "Traceback" not in unknown.stderr


def _finished_step(tmp_path: Path) -> tuple[dict, dict]:
    """A step that wrote one output file, as recorded, and the fingerprint it runs with now."""
    output = tmp_path / "out.txt"
    output.write_text("v1")
    now = step_fingerprint(["x"], None, [])
    return {**now, "status": 0, "outputs": output_digests([str(output)])}, now


def test_a_step_is_reused_only_while_its_outputs_and_upstream_are_unchanged(tmp_path):
    earlier, now = _finished_step(tmp_path)
    assert rerun_reason(earlier, now, "R") is None
    assert rerun_reason(earlier, step_fingerprint(["x"], None, [{"a": "sha256:1"}]), "R") == (
        "the outputs of an earlier step changed"
    )
    assert rerun_reason(earlier, step_fingerprint(["y"], None, []), "R") == (
        "its command line changed"
    )
    (tmp_path / "out.txt").write_text("v2")
    assert rerun_reason(earlier, now, "R").endswith("out.txt is changed")
    (tmp_path / "out.txt").unlink()
    assert rerun_reason(earlier, now, "R").endswith("out.txt is missing")


def test_a_killed_step_is_rerun_as_interrupted_only_with_the_same_inputs(tmp_path):
    earlier, now = _finished_step(tmp_path)
    killed = {**earlier, "status": "running", "outputs": {}}
    assert rerun_reason(killed, now, "R") == "did not finish in run R (status running)"
    assert was_interrupted(killed, now)
    assert not was_interrupted(killed, step_fingerprint(["x"], None, [{"a": "sha256:1"}]))
    assert not was_interrupted(earlier, now)  # it finished: nothing to continue


def test_a_run_directory_counts_as_changed_only_where_its_lineage_records_files(tmp_path):
    """What a stage recorded decides; a W&B run still syncing beside it does not."""
    from supportloop.runs import RunDir

    run = RunDir(tmp_path / "train", "train")
    (run / "adapter.bin").write_bytes(b"weights")
    run.record("adapter.bin")
    run.write_lineage({}, {}, {})
    earlier = {**step_fingerprint(["x"], None, []), "status": 0}
    earlier["outputs"] = output_digests([str(run.path)])
    (run / "wandb").mkdir()
    (run / "wandb" / "run-1.wandb").write_bytes(b"still syncing")
    assert rerun_reason(earlier, step_fingerprint(["x"], None, []), "R") is None
    (run / "adapter.bin").chmod(0o644)
    (run / "adapter.bin").write_bytes(b"other weights")
    assert rerun_reason(earlier, step_fingerprint(["x"], None, []), "R").endswith("is changed")

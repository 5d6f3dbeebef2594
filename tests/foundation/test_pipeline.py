"""`supportloop run`: steps in order, {run_id} per run, --only / --run-id, a failed step stops it.

Steps are `registry` commands (they create the SQLite file they are pointed at), so the runner
itself is what is tested, through the real command line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SUPPORTLOOP = str(Path(sys.executable).parent / "supportloop")
ROOT = Path(__file__).resolve().parents[2]


def _pipeline(tmp_path: Path, steps: list[dict]) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"steps": steps}))
    return path


def _registry_step(path: str) -> dict:
    return {"command": "registry", "args": ["--registry", path, "--json"]}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SUPPORTLOOP, "run", *args], capture_output=True, text=True, timeout=120)


def _run_id(stderr: str) -> str:
    """The id `supportloop run` announces (its progress goes to stderr, like every command's)."""
    match = re.search(r"pipeline run (\d{8}T\d{6}Z)", stderr)
    assert match, stderr
    return match.group(1)


def test_each_run_gets_its_own_artifacts_and_a_run_id_can_be_reused(tmp_path):
    steps = [
        _registry_step(f"{tmp_path}/a-{{run_id}}.sqlite"),
        _registry_step(f"{tmp_path}/b.sqlite"),
    ]
    pipeline = _pipeline(tmp_path, steps)

    first = _run(str(pipeline))
    assert first.returncode == 0, first.stderr
    first_id = _run_id(first.stderr)
    assert first.stderr.index("step 1/2") < first.stderr.index("step 2/2")
    assert (tmp_path / f"a-{first_id}.sqlite").is_file() and (tmp_path / "b.sqlite").is_file()

    again = _run(str(pipeline), "--run-id", "20990101T000000Z", "--only", "registry")
    assert again.returncode == 0, again.stderr
    assert _run_id(again.stderr) == "20990101T000000Z"
    assert (tmp_path / "a-20990101T000000Z.sqlite").is_file()
    assert (tmp_path / f"a-{first_id}.sqlite").is_file()  # the earlier run's artifact stays


def test_a_failed_step_stops_the_run_with_one_line(tmp_path):
    missing = tmp_path / "missing.yaml"
    steps = [{"command": "ingest", "config": str(missing)}, _registry_step(f"{tmp_path}/r.sqlite")]
    result = _run(str(_pipeline(tmp_path, steps)))
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert str(missing) in result.stdout + result.stderr
    assert not (tmp_path / "r.sqlite").exists()  # the next step never ran


def test_a_step_refuses_the_output_of_another_pipeline_run(tmp_path, monkeypatch):
    """Preferences written by run A, a train step of run B: refused, both runs named, before
    any training; the earlier output is left as it was."""
    from datasets import Dataset, DatasetDict

    from supportloop.runs import PIPELINE_RUN_ENV, RunDir, verify_artifacts

    monkeypatch.setenv(PIPELINE_RUN_ENV, "20990101T000000Z")
    run_a = RunDir(tmp_path / "preferences", "preferences")
    rows = [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(4)]
    run_a.save_dataset("pairs", DatasetDict({"train": Dataset.from_list(rows)}))
    run_a.write_lineage(inputs={}, config={}, outputs={})
    monkeypatch.delenv(PIPELINE_RUN_ENV)
    train = {
        "command": "train",
        "config": str(ROOT / "configs/train/dpo.yaml"),
        "overrides": [f"data.path={run_a.path / 'pairs'}", f"output_dir={tmp_path}/dpo"],
    }
    result = _run(str(_pipeline(tmp_path, [train])), "--run-id", "20990202T000000Z")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert "written by pipeline run 20990101T000000Z, not by this run 20990202T000000Z" in output
    assert not (tmp_path / "dpo" / "adapter_config.json").exists()
    assert verify_artifacts(run_a.path) == []


def test_a_step_that_exits_non_zero_without_an_error_stops_the_run(tmp_path):
    """`argilla status` on a stack that is not running exits 1 through typer.Exit."""
    steps = [
        {"command": "argilla status", "overrides": [f"data_dir={tmp_path}/argilla", "port=9"]},
        _registry_step(f"{tmp_path}/r.sqlite"),
    ]
    result = _run(str(_pipeline(tmp_path, steps)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "step 1 (supportloop argilla status) exited with 1" in result.stdout + result.stderr
    assert not (tmp_path / "r.sqlite").exists()  # the next step never ran


@pytest.mark.parametrize("name", ["demo", "annotators", "gpu"])
def test_the_shipped_pipelines_name_real_commands_and_one_adapter(name):
    """The README's main job and the real-annotator loop: every step is a command, and eval
    scores what train wrote."""
    import click
    import typer

    from supportloop.cli import app  # with every command registered
    from supportloop.commands.run import PipelineConfig
    from supportloop.config import load_config

    steps = load_config(PipelineConfig, ROOT / f"configs/pipeline/{name}.yaml", []).steps
    cli = typer.main.get_command(app)
    for step in steps:
        command = cli
        for word in step.command.split():  # `argilla push` is a command of a group
            command = command.get_command(click.Context(command), word)
            assert command is not None, step.command
    (train,) = [s.argv("ID") for s in steps if s.command == "train"]
    (evaluation,) = [s.argv("ID") for s in steps if s.command == "eval"]
    (adapter,) = [arg.split("=", 1)[1] for arg in train if arg.startswith("output_dir=")]
    assert adapter.endswith("-ID") and f"candidate.adapter={adapter}" in evaluation
    for step in steps:  # its options exist: parse the command line without running it
        command = cli
        for word in step.command.split():
            command = command.get_command(click.Context(command), word)
        command.make_context(step.command, list(step.argv("ID")[len(step.command.split()) :]))


def test_a_step_is_overridden_on_the_command_line_by_its_index(tmp_path):
    steps = [_registry_step(f"{tmp_path}/a.sqlite"), _registry_step(f"{tmp_path}/b.sqlite")]
    pipeline = _pipeline(tmp_path, steps)
    result = _run(str(pipeline), f"steps.1.args=[--registry, {tmp_path}/c.sqlite]")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.sqlite").is_file() and (tmp_path / "c.sqlite").is_file()
    assert not (tmp_path / "b.sqlite").exists()

    wrong = _run(str(pipeline), "steps.2.args=[]")
    assert wrong.returncode == 2, wrong.stderr
    assert "steps has no item 2 (2 items)" in wrong.stderr and "Traceback" not in wrong.stderr


def test_each_step_s_wall_time_is_printed_and_recorded(tmp_path):
    steps = [_registry_step(f"{tmp_path}/a.sqlite"), _registry_step(f"{tmp_path}/b.sqlite")]
    record_dir = tmp_path / "records"
    result = _run(str(_pipeline(tmp_path, steps)), f"record_dir={record_dir}")
    assert result.returncode == 0, result.stderr
    run_id = _run_id(result.stderr)
    record = json.loads((record_dir / run_id / "steps.json").read_text())
    assert [(s["step"], s["command"], s["status"]) for s in record["steps"]] == [
        (1, "registry", 0),
        (2, "registry", 0),
    ]
    assert all(s["seconds"] >= 0 for s in record["steps"])
    assert record["total_seconds"] == pytest.approx(sum(s["seconds"] for s in record["steps"]))
    assert "pipeline steps" in result.stderr and "total" in result.stderr


def test_a_failed_step_is_recorded_with_its_status(tmp_path):
    steps = [
        {"command": "argilla status", "overrides": [f"data_dir={tmp_path}/argilla", "port=9"]},
        _registry_step(f"{tmp_path}/r.sqlite"),
    ]
    record_dir = tmp_path / "records"
    result = _run(str(_pipeline(tmp_path, steps)), f"record_dir={record_dir}")
    assert result.returncode == 1
    (record,) = record_dir.glob("*/steps.json")
    assert [(s["command"], s["status"]) for s in json.loads(record.read_text())["steps"]] == [
        ("argilla status", 1)
    ]


@pytest.mark.parametrize("name", ["demo", "annotators", "gpu", "loop_learns"])
def test_every_shipped_step_config_validates_with_its_overrides(name):
    """Each step's YAML with the pipeline's overrides loads as its command would load it, so a
    pipeline for a machine CI does not have (gpu.yaml) still cannot carry a wrong key."""
    from supportloop.commands.run import PipelineConfig
    from supportloop.config import load_config
    from supportloop.eval.config import EvalConfig
    from supportloop.feedback.argilla.settings import ArgillaConfig
    from supportloop.feedback.demo.sample_logs import SampleLogsConfig
    from supportloop.feedback.ingest.config import IngestConfig
    from supportloop.feedback.preferences import PreferencesConfig
    from supportloop.training.recipes import load_recipe

    loaders = {
        "sample-logs": lambda path, extra: load_config(SampleLogsConfig, path, extra),
        "ingest": lambda path, extra: load_config(IngestConfig, path, extra),
        "argilla": lambda path, extra: load_config(ArgillaConfig, path, extra),
        "preferences": lambda path, extra: load_config(PreferencesConfig, path, extra),
        "train": lambda path, extra: load_recipe(path, extra),
        "eval": lambda path, extra: load_config(EvalConfig, path, extra),
    }
    steps = load_config(PipelineConfig, ROOT / f"configs/pipeline/{name}.yaml", []).steps
    checked = 0
    for step in steps:
        if step.config is None:
            continue
        overrides = [o.replace("{run_id}", "ID") for o in step.overrides]
        overrides += [a for a in step.args if "=" in a and not a.startswith("-")]
        loaders[step.command.split()[0]](step.config, overrides)
        checked += 1
    assert checked >= 5

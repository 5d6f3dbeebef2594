"""`supportloop eval` and the registry commands as a new user runs them, each in a fresh process.

No W&B key, no netrc, no WANDB_MODE: the eval must still exit 0 with an offline W&B run, and
an optional report that fails must never turn a finished evaluation into a failed command.
The models are the tests' tiny Llama; what is checked is the plumbing, not the verdict.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from supportloop.cli import app
from tests.eval.helpers import ACME_SUITE


def _reduced(tmp, model) -> list[str]:
    return [
        f"candidate.name={model}",
        "suite.limit=2",
        "suite.injections=1",
        "simulator.trials=1",
        "simulator.max_turns=2",
        "sampling.max_new_tokens=8",
        f"registry={tmp / 'registry.sqlite'}",
        f"output_dir={tmp / 'run'}",
    ]


@pytest.mark.slow
def test_eval_in_a_fresh_process_without_wandb_credentials(
    fresh_cli, tiny_llama_dir, tau2_wheel, tmp_path
):
    from supportloop.eval.config import ModelSpec
    from supportloop.eval.registry import Registry

    registry = tmp_path / "registry.sqlite"
    champion = ModelSpec(name=str(tiny_llama_dir)).record()
    Registry(registry).ensure_champion(champion)  # the champion a real registry would hold
    # the README's command, reduced; one torch thread: tiny models only wait on a second one
    result = fresh_cli(
        "eval", "configs/eval/retail.yaml", *_reduced(tmp_path, tiny_llama_dir), OMP_NUM_THREADS="1"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Traceback" not in output and "warning:" not in output
    assert output.index("W&B offline (no W&B key configured)") < output.index("suite ")
    run = tmp_path / "run"
    assert len(list((run / "wandb").glob("offline-run-*/run-*.wandb"))) == 1
    verdict = json.loads((run / "decision.json").read_text())["verdict"]

    shown = fresh_cli("registry", "--json", "--registry", str(registry))
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert [(e["verdict"], e["run_dir"]) for e in state["evals"]] == [(verdict, str(run))]
    assert state["champion"]["model_id"] == champion["model_id"]

    # promote / rollback alone: a passing eval recorded by hand (a tiny model never passes)
    candidate = {"model_id": "tiny+lora@1", "base": str(tiny_llama_dir), "adapter": "/x/lora"}
    Registry(registry).record_eval(
        "eval-by-hand", candidate, champion, "retail", "promote", {}, {}, str(run)
    )
    promoted = fresh_cli("promote", "--registry", str(registry))
    assert promoted.returncode == 0, promoted.stderr
    assert "champion is now tiny+lora@1 (eval eval-by-hand)" in promoted.stderr
    back = fresh_cli("rollback", "--registry", str(registry))
    assert back.returncode == 0, back.stderr
    # the console wraps at 80 columns, and the model id is a path of any length
    rolled_back = " ".join(back.stderr.split())
    assert f"champion is now {champion['model_id']} (rolled back)" in rolled_back


def _boom(*args, **kwargs):
    raise RuntimeError("disk full\nmore detail nobody needs")


@pytest.mark.slow
def test_a_failing_report_is_a_line_and_the_finished_eval_exits_0(
    tiny_llama_dir, tmp_path, monkeypatch, one_thread
):
    monkeypatch.setattr("supportloop.eval.reports.html.write_html_report", _boom)
    monkeypatch.setattr("supportloop.eval.reports.wandb_run.log_wandb_run", _boom)
    args = [
        "eval",
        "configs/eval/retail.yaml",
        *_reduced(tmp_path, tiny_llama_dir),
        f"champion.name={tiny_llama_dir}",
        "suite.kind=jsonl",
        f"suite.path={ACME_SUITE}",
        "suite.annotated=null",
        "judge.kind=none",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    stand = "failed (RuntimeError: disk full); the decision, run dir and registry entry stand"
    assert warnings == [
        f"warning: HTML report {stand}; report.html=false skips it",
        f"warning: W&B run {stand}; WANDB_MODE=offline keeps the run local, "
        "report.wandb=false skips it",
    ]
    verdict = json.loads((tmp_path / "run" / "decision.json").read_text())["verdict"]
    from supportloop.eval.registry import Registry

    assert [e["verdict"] for e in Registry(tmp_path / "registry.sqlite").evals()] == [verdict]


@pytest.mark.parametrize(
    ("verdict", "flag", "code"),
    [
        ("reject", [], 0),
        ("insufficient_evidence", [], 0),
        ("promote", ["--fail-on-refusal"], 0),
        ("reject", ["--fail-on-refusal"], 3),
        ("insufficient_evidence", ["--fail-on-refusal"], 3),
    ],
)
def test_exit_status_is_0_for_any_verdict_unless_fail_on_refusal(
    monkeypatch, tmp_path, verdict, flag, code
):
    decision = SimpleNamespace(verdict=verdict, promote=verdict == "promote")
    outcome = SimpleNamespace(eval_id="eval-x", decision=decision, run_dir=tmp_path)
    monkeypatch.setattr("supportloop.eval.run.run_eval", lambda config, log: outcome)
    result = CliRunner().invoke(
        app, ["eval", "configs/eval/retail.yaml", "report.wandb=false", *flag]
    )
    assert result.exit_code == code, result.output
    assert "W&B disabled (report.wandb=false): report.wandb=true logs a run" in result.output
    assert f"eval eval-x: {verdict}" in result.output

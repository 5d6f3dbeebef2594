"""`supportloop eval` of a trained adapter vs the base model on the tau2 retail suite (CPU).

One run of the real CLI with the real SmolLM2-135M base model; the candidate is a LoRA adapter
trained here for a few supervised steps (a stand-in for a training run: the point is the
plumbing, not the quality). The tests then read what the run wrote: the decision, the
registry, the W&B offline run and the HTML report (rendered in headless Chromium).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import pytest
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.eval.criteria import STATUS
from tests.eval.helpers import single_torch_thread, supervised_lora

pytestmark = pytest.mark.slow
POLITE = "Thank you for reaching out. I can help with that order right away."


@pytest.fixture(scope="module")
def single_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="module")
def trained_adapter(single_thread, tmp_path_factory):
    from supportloop.models.checkpoints import resolve_model

    prompts = [[{"role": "user", "content": q}] for q in ("Where is my order?", "Refund me.")]
    return supervised_lora(
        resolve_model("smollm2-135m-instruct"),
        tmp_path_factory.mktemp("adapter") / "polite-lora",
        prompts,
        POLITE,
        steps=2,
        lr=1e-4,
        rank=8,
    )


@pytest.fixture(scope="module")
def cli_run(trained_adapter, tau2_wheel, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval-cli")
    args = [
        "eval",
        "configs/eval/retail.yaml",
        f"candidate.adapter={trained_adapter}",
        "suite.limit=2",
        "suite.injections=1",
        "simulator.trials=1",
        "simulator.max_turns=2",
        "sampling.max_new_tokens=24",
        "context.max_docs=1",
        "context.max_doc_chars=400",
        "context.max_profile_chars=300",
        f"registry={tmp / 'registry.sqlite'}",
        f"output_dir={tmp / 'run'}",
        "gate.overrides.min_scenarios=3",
        "report.top_differences=2",
    ]
    started = time.perf_counter()
    result = CliRunner().invoke(app, args)
    print(f"supportloop eval took {time.perf_counter() - started:.0f} s")
    assert result.exit_code == 0, result.output
    return tmp, result.output


def test_eval_writes_decision_lineage_and_registry(cli_run, trained_adapter):
    tmp, output = cli_run
    run = tmp / "run"
    decision = json.loads((run / "decision.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    lineage = json.loads((run / "lineage.json").read_text())
    assert f"decision: {decision['verdict'].upper()}: {decision['reason']}" in output
    assert decision["verdict"] in ("promote", "reject", "insufficient_evidence")
    assert 0 <= decision["stability"] <= 1 and decision["n_resamples"] >= 100
    assert f"stability: {decision['stability']:.1%} of {decision['n_resamples']}" in output
    if decision["verdict"] == "insufficient_evidence":
        assert decision["scenarios_needed"] > decision["n_scenarios"] == 3
        assert f"scenarios needed: {decision['scenarios_needed']} (this suite: 3)" in output
    assert summary["models"]["champion"] == "smollm2-135m-instruct"  # default champion
    assert summary["models"]["candidate"].startswith("smollm2-135m-instruct+polite-lora@")
    assert summary["scenarios"] == 3 and summary["injection_scenarios"] == 1
    names = [c["name"] for c in decision["criteria"]]
    assert names[:4] == ["complete", "min_scenarios", "primary:resolved", "resolved"]
    assert "injection_compliance" in names and decision["mdd"]["resolved"] > 0
    assert summary["judge"]["heldout"]["n"] > 0  # the judge is reported with its held-out score
    assert set(lineage["inputs"]) == {"tau2:retail:test", "annotated", "candidate_adapter"}
    assert lineage["config"]["candidate"]["adapter"] == str(trained_adapter)
    from datasets import load_from_disk

    conversations = load_from_disk(str(run / "conversations"))
    assert sorted(set(conversations["model"])) == ["candidate", "champion"]
    assert len(conversations) == 6

    state = CliRunner().invoke(
        app, ["registry", "--json", "--registry", str(tmp / "registry.sqlite")]
    )
    registry = json.loads(state.output)
    assert registry["champion"]["model_id"] == "smollm2-135m-instruct"
    assert [e["verdict"] for e in registry["evals"]] == [decision["verdict"]]
    promote = CliRunner().invoke(app, ["promote", "--registry", str(tmp / "registry.sqlite")])
    if decision["verdict"] == "promote":
        assert registry["challenger"]["model_id"] == summary["models"]["candidate"]
        assert promote.exit_code == 0 and "champion is now smollm2-135m-instruct+" in promote.output
        back = CliRunner().invoke(app, ["rollback", "--registry", str(tmp / "registry.sqlite")])
        assert "champion is now smollm2-135m-instruct (rolled back)" in back.output
    else:
        assert registry["challenger"] is None
        assert promote.exit_code == 2 and "no challenger" in promote.output


def test_wandb_offline_run_holds_summary_tables_and_lineage(cli_run):
    tmp, _ = cli_run
    runs = list((tmp / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    raw = next(runs[0].glob("run-*.wandb")).read_bytes()
    for key in (b"gate/verdict", b"gate/stability", b"gate/scenarios_needed", b"gate/reason"):
        assert key in raw, key
    for key in (b"resolved/diff", b"resolved/ci_low", b"lineage", b"tau2:retail"):
        assert key in raw, key
    tables = runs[0] / "files" / "media" / "table"
    scenarios = json.loads(next(tables.glob("scenarios_*.table.json")).read_text())
    assert len(scenarios["data"]) == 6
    transcript = scenarios["data"][0][scenarios["columns"].index("transcript")]
    assert transcript.startswith("user: ")
    gate = json.loads(next(tables.glob("gate_*.table.json")).read_text())
    assert [row[0] for row in gate["data"]][:3] == ["complete", "min_scenarios", "primary:resolved"]
    assert gate["columns"][1] == "status" and {row[1] for row in gate["data"]} <= set(STATUS)


@pytest.mark.browser
def test_html_report_is_self_contained_and_renders_in_chromium(cli_run):
    tmp, _ = cli_run
    report = tmp / "run" / "report.html"
    html = report.read_text()
    assert html.count("data:image/png;base64,") == 2
    assert not re.search(r"(src|href)=['\"]?https?:", html)
    for text in ("Gate decision", "Per-topic breakdown", "differ most", "champion", "candidate"):
        assert text in html
    decision = json.loads((tmp / "run" / "decision.json").read_text())
    assert f"<span class='badge {decision['verdict']}'>{decision['verdict'].upper()}" in html
    assert f"Stability: {decision['stability']:.1%} of {decision['n_resamples']}" in html
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    shot = tmp / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05  # text, tables and plots, not a blank page
    print(f"screenshot: {shot}")

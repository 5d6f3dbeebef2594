"""The metric registry is the one place a metric is declared: a metric registered only here
is scored, gated, written to summary/decision, shown in the HTML report and the W&B summary,
and would be listed in the docs; the docs' metric table is what the registry generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportloop.eval.config import EvalConfig
from supportloop.eval.harness import Conversation, HarnessResult
from supportloop.eval.metrics import MetricSpec, all_metrics, metric_names, register, registered
from supportloop.eval.metrics_doc import DOC, main, metrics_table, with_table
from tests.eval.helpers import ACME_SUITE, REPO

CALM = "Sure, I can look into that for you."
LOUD = "SURE, I CAN LOOK INTO THAT FOR YOU!!!"


def test_docs_metric_table_is_generated_from_the_registry():
    text = DOC.read_text(encoding="utf-8")
    assert with_table(text, all_metrics()) == text, "run: python -m supportloop.eval.metrics_doc"
    assert main(["--check"]) == 0
    for m in all_metrics():
        assert f"| `{m.name}` | {m.group} | {m.direction} |" in text


def test_docs_check_fails_once_the_registry_changes():
    spec = MetricSpec("apologises", "repeat", False, "the reply apologises")
    with registered(spec):
        assert main(["--check"]) == 1
        assert "| `apologises` | repeat | lower | the reply apologises |" in metrics_table(
            all_metrics()
        )
    assert main(["--check"]) == 0


def test_a_taken_name_or_unknown_group_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register(MetricSpec("resolved", "resolution", True, "again"))
    with pytest.raises(ValueError, match="group"):
        MetricSpec("x", "speed", True, "not a group")  # type: ignore[arg-type]


def test_gate_lists_must_name_registered_metrics_of_their_group(tmp_path):
    from supportloop.config import ConfigError
    from supportloop.eval.gate import load_gate

    with pytest.raises(ConfigError, match="safety_metrics"):
        load_gate(REPO / "configs/eval/gate.yaml", ["safety_metrics=[pii_exposd]"])
    with pytest.raises(ConfigError, match="repeat_metrics"):
        load_gate(REPO / "configs/eval/gate.yaml", ["repeat_metrics=[pii_exposed]"])


def _canned(role: str):
    """`run_model` without a model: every conversation delivers its facts; the candidate
    shouts in the first three scenarios, the champion never does."""

    def run_model(spec, suite, cfg, simulator, matcher, batched=True):
        conversations = []
        for i, s in enumerate(suite.scenarios):
            loud = spec.name == "candidate" and i < 3
            messages = [
                {"role": "user", "content": s.opening, "kind": "opening"},
                {"role": "assistant", "content": LOUD if loud else CALM},
            ]
            delivered = [True] * len(s.facts)
            conversations.append(
                Conversation(s.scenario_id, 0, messages, delivered, end="resolved")
            )
        return HarnessResult(conversations, 0.0, 1)

    return run_model


def test_a_metric_registered_in_one_place_is_scored_gated_and_reported(tmp_path, monkeypatch):
    import supportloop.eval.run
    from supportloop.eval.reports.wandb_run import _flat_summary

    # the whole of adding a metric: this spec and its registration
    shouts = MetricSpec(
        "shouts",
        "safety",
        False,
        "the reply is written in capitals with exclamation marks",
        lambda ctx: any(r.isupper() and "!" in r for r in ctx.conversation.replies()),
    )

    gate_path = REPO / "configs/eval/gate.yaml"  # the shipped gate: it follows the registry
    cfg = EvalConfig.model_validate(
        {
            "suite": {"kind": "jsonl", "path": str(ACME_SUITE), "injections": 1},
            "candidate": {"name": "candidate"},
            "champion": {"name": "champion"},
            "simulator": {"trials": 1},
            "judge": {"kind": "none"},
            "win_rate": {"prompts": "none"},
            "report": {"wandb": False, "top_differences": 1},
            "gate": {"path": str(gate_path), "overrides": {"min_scenarios": 1}},
            "registry": str(tmp_path / "registry.sqlite"),
            "output_dir": str(tmp_path / "run"),
        }
    )
    monkeypatch.setattr(supportloop.eval.run, "run_model", _canned("candidate"))
    with registered(shouts):
        outcome = supportloop.eval.run.run_eval(cfg, log=lambda line: None)
        flat = _flat_summary(outcome.summary)
        documented = metrics_table(all_metrics())
    assert "shouts" not in metric_names()

    # scored: a shouting conversation that delivered every fact is not resolved
    loud = [r for r in outcome.records["candidate"] if r["shouts"]]
    assert len(loud) == 3 and not any(r["resolved"] for r in loud)
    assert not any(r["shouts"] for r in outcome.records["champion"])
    # gated: the safety rule on the new metric rejects
    decision = json.loads((tmp_path / "run" / "decision.json").read_text())
    criterion = next(c for c in decision["criteria"] if c["name"] == "shouts")
    assert criterion["status"] == "fail" and criterion["value"].startswith("candidate 3 vs")
    assert decision["verdict"] == "reject" and "shouts" in decision["reason"]
    # reported: summary.json, the conversations dataset, the HTML report, the W&B summary
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["violation_counts"]["shouts"] == {"candidate": 3, "champion": 0}
    assert summary["metrics"]["shouts"]["diff"] == pytest.approx(3 / 7)
    from datasets import load_from_disk

    assert "shouts" in load_from_disk(str(tmp_path / "run" / "conversations")).column_names
    html = Path(outcome.reports["html"]).read_text(encoding="utf-8")
    assert "capitals with exclamation marks" in html and "<td>shouts</td>" in html
    assert flat["shouts/diff"] == pytest.approx(3 / 7)
    # documented: the generated docs table would list it
    assert "| `shouts` | safety | lower |" in documented

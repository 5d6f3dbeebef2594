"""`run_eval`: candidate and champion on the same suite and seeds, compared, gated, recorded.

This is the library function behind `supportloop eval`; the CLI only loads the config.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from supportloop.config import dump_config, project_root
from supportloop.errors import UserError, one_line
from supportloop.eval.config import EvalConfig, ModelSpec, SuiteConfig
from supportloop.eval.evidence import evidence_from_records
from supportloop.eval.gate import Decision, decide, load_gate
from supportloop.eval.harness import HarnessResult, simulate
from supportloop.eval.injections import add_injections
from supportloop.eval.matching import Embedder, FactMatcher
from supportloop.eval.metrics import metric_names
from supportloop.eval.registry import Registry
from supportloop.eval.scorers.repeat import log_repeat_contact_rate
from supportloop.eval.scorers.resolution import pass_hat_k
from supportloop.eval.scoring import score_all
from supportloop.eval.simulator import LLMSimulator, ScriptedSimulator, hf_backend, openai_backend
from supportloop.eval.suites import Suite, load_jsonl_suite
from supportloop.eval.tau2 import default_wheel, load_tau2_suite
from supportloop.eval.winrate_run import PER_PROMPT, evaluate_win_rate
from supportloop.runs import RunDir, file_fingerprint, require_same_pipeline_run

ROLES = ("champion", "candidate")


@dataclass
class EvalOutcome:
    run_dir: Path
    eval_id: str
    decision: Decision
    summary: dict[str, Any]
    records: dict[str, list[dict]]
    suite: Suite
    reports: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # optional steps that failed


def build_suite(cfg: SuiteConfig) -> tuple[Suite, dict[str, str]]:
    """The suite with its injection scenarios, and the fingerprints of what it was read from."""
    if cfg.kind == "tau2":
        source = cfg.path or default_wheel()
        suite = load_tau2_suite(source, cfg.domain, cfg.split, cfg.limit)
        inputs = {
            f"tau2:{cfg.domain}:{cfg.split}": file_fingerprint(source) if source.exists() else ""
        }
    else:
        if cfg.path is None:
            raise UserError("suite.path: a JSONL suite needs a file")
        suite = load_jsonl_suite(cfg.path)
        if cfg.limit:
            suite = suite.model_copy(update={"scenarios": suite.scenarios[: cfg.limit]})
        inputs = {f"suite:{cfg.path.name}": file_fingerprint(cfg.path)}
    if cfg.annotated is not None:
        inputs["annotated"] = file_fingerprint(cfg.annotated)
    return add_injections(suite, cfg.injections), inputs


def build_simulator(cfg: EvalConfig, embedder: Embedder):
    sim = cfg.simulator
    if sim.kind == "scripted":
        return ScriptedSimulator()
    if sim.base_url:
        backend = openai_backend(
            sim.base_url,
            sim.model or "default",
            os.environ.get(sim.api_key_env),
            sim.max_new_tokens,
            sim.temperature,
        )
    else:
        if not sim.model:
            raise UserError("simulator.model: the llm simulator needs a model or a base_url")
        sampling = cfg.sampling.model_copy(
            update={"max_new_tokens": sim.max_new_tokens, "temperature": sim.temperature}
        )
        backend = hf_backend(sim.model, str(sim.adapter) if sim.adapter else None, sampling)

    def similarity(a: str, b: str) -> float:
        vectors = embedder.encode([a, b])
        return float(vectors[0] @ vectors[1])

    return LLMSimulator(backend, similarity, sim.repeat_threshold)


def build_judge(cfg: EvalConfig, suite: Suite, embedder: Embedder):
    """(judge or None, report dict); fitted on the train part of the labelled turns."""
    from supportloop.eval.judge import MiniLMJudge, RewardModelJudge, load_annotated, split_turns

    if cfg.judge.kind == "none":
        return None, {"kind": "none", "reason": "disabled in config"}
    turns = list(suite.annotated)
    if cfg.suite.annotated is not None:
        turns += load_annotated(cfg.suite.annotated)
    if not turns:
        return None, {"kind": cfg.judge.kind, "reason": "no labelled turns (suite.annotated)"}
    train, heldout = split_turns(turns, cfg.judge.heldout_fraction)
    if cfg.judge.kind == "reward_model":
        if cfg.judge.reward_model is None:
            raise UserError("judge.reward_model: the reward_model judge needs a reward run dir")
        judge = RewardModelJudge(cfg.judge.reward_model)
    else:
        judge = MiniLMJudge(embedder)
    judge.fit(train)
    return judge, {"train_n": len(train), "heldout": judge.evaluate(heldout), "kind": judge.kind}


def run_model(
    spec: ModelSpec, suite: Suite, cfg: EvalConfig, simulator, matcher, batched: bool = True
) -> HarnessResult:
    from supportloop.models.generate import load_generator

    try:
        policy = load_generator(spec.name, spec.adapter, cfg.sampling)
    except Exception as exc:  # a model that cannot load makes the eval incomplete
        return HarnessResult([], 0.0, 0, f"loading {spec.model_id()} failed: {exc}")
    try:
        return simulate(
            policy,
            suite.scenarios,
            simulator,
            matcher,
            cfg.sampling,
            cfg.simulator.trials,
            cfg.simulator.max_turns,
            cfg.context,
            batched,
        )
    finally:
        policy.close()
        del policy
        gc.collect()


def apply_judge(judge, records: list[dict]) -> None:
    if judge is None or not records:
        return
    issues, replies = [], []
    for record in records:
        user = [m["content"] for m in record["messages"] if m["role"] == "user"]
        said = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
        issues.append(user[0] if user else "")
        replies.append(said[-1] if said else "")
    for record, p in zip(records, judge.predict(issues, replies), strict=True):
        record["judge_p"] = float(p)
        record["judge_resolved"] = bool(p >= 0.5)


def run_eval(cfg: EvalConfig, log: Callable[[str], None] = print) -> EvalOutcome:
    from supportloop.models.generate import resolve_backend

    backend = resolve_backend(cfg.sampling.backend)  # vllm asked for but missing: one line, now
    if cfg.candidate.adapter:  # the champion comes from an earlier run by design
        require_same_pipeline_run(cfg.candidate.adapter, "candidate.adapter")
    gate = load_gate(cfg.gate.path, [f"{k}={json.dumps(v)}" for k, v in cfg.gate.overrides.items()])
    suite, inputs = build_suite(cfg.suite)
    registry = Registry(cfg.registry)
    if cfg.champion is None:
        row = registry.ensure_champion(ModelSpec().record())
        champion = ModelSpec(name=row["base"], adapter=row["adapter"])
    else:
        champion = cfg.champion
    specs = {"champion": champion, "candidate": cfg.candidate}
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    eval_id = f"eval-{stamp}-{_short_hash(cfg.candidate.model_id())}"
    run = RunDir(cfg.output_dir or project_root() / "runs" / "eval" / eval_id, "eval")
    embedder = Embedder(cfg.matching.embedder)
    matcher = FactMatcher(embedder, cfg.matching.threshold)
    simulator = build_simulator(cfg, embedder)
    judge, judge_report = build_judge(cfg, suite, embedder)
    log(f"suite {suite.name}: {len(suite.scenarios)} scenarios x {cfg.simulator.trials} trials")
    log(f"generation: {backend} (sampling.backend={cfg.sampling.backend})")

    results: dict[str, HarnessResult] = {}
    records: dict[str, list[dict]] = {}
    errors: list[str] = []
    for role in ROLES:
        log(f"{role}: {specs[role].model_id()}")
        results[role] = run_model(specs[role], suite, cfg, simulator, matcher)
        if results[role].error:
            errors.append(f"{role}: {results[role].error}")
        records[role] = score_all(suite.scenarios, results[role].conversations)
        apply_judge(judge, records[role])
    expected = len(suite.scenarios) * cfg.simulator.trials
    for role in ROLES:
        if not results[role].error and len(records[role]) != expected:
            errors.append(f"{role}: {len(records[role])} of {expected} conversations")
    win_rate = evaluate_win_rate(cfg, specs, suite, run, gate, log)

    scenario_ids = [s.scenario_id for s in suite.scenarios]
    held_out = (win_rate or {}).pop(PER_PROMPT, None)
    evidence = evidence_from_records(records, scenario_ids, gate, held_out)
    comparisons, counts = evidence.comparisons, evidence.violation_totals()
    decision = decide(evidence, gate, errors)
    log(decision.text())

    summary = _summary(
        cfg,
        suite,
        specs,
        eval_id,
        comparisons,
        counts,
        records,
        results,
        judge_report,
        decision,
        errors,
    )
    summary["win_rate"] = win_rate
    _write_run(run, cfg, inputs, specs, records, summary, decision)
    registry.record_eval(
        eval_id,
        specs["candidate"].record(),
        specs["champion"].record(),
        suite.name,
        decision.verdict,
        summary["metrics"],
        decision.as_dict(),
        str(run.path),
    )
    outcome = EvalOutcome(run.path, eval_id, decision, summary, records, suite)
    _reports(outcome, cfg, registry, log)
    return outcome


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _pass_k(records: list[dict], trials: int) -> dict[str, float]:
    by_scenario: dict[str, int] = {}
    for record in records:
        by_scenario[record["scenario_id"]] = by_scenario.get(record["scenario_id"], 0) + int(
            record["resolved"]
        )
    return {
        f"pass^{k}": pass_hat_k(list(by_scenario.values()), trials, k) for k in range(1, trials + 1)
    }


def _topics(records: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for role, rows in records.items():
        for topic in sorted({r["topic"] for r in rows}):
            values = [float(r["resolved"]) for r in rows if r["topic"] == topic]
            out.setdefault(topic, {})[role] = float(np.mean(values))
            out[topic]["n"] = len(values)
    return out


def _summary(
    cfg,
    suite,
    specs,
    eval_id,
    comparisons,
    counts,
    records,
    results,
    judge_report,
    decision,
    errors,
) -> dict[str, Any]:
    log_rate = None
    if cfg.log_conversations is not None:
        log_rate = log_repeat_contact_rate(cfg.log_conversations, cfg.champion_model_version)
    return {
        "eval_id": eval_id,
        "suite": suite.name,
        "scenarios": len(suite.scenarios),
        "injection_scenarios": sum(s.injection is not None for s in suite.scenarios),
        "trials": cfg.simulator.trials,
        "simulator": cfg.simulator.kind,
        "models": {role: specs[role].model_id() for role in ROLES},
        "metrics": {k: v.as_dict() for k, v in comparisons.items()},
        "violation_counts": {m: {"candidate": c[0], "champion": c[1]} for m, c in counts.items()},
        "pass_k": {role: _pass_k(records[role], cfg.simulator.trials) for role in ROLES},
        "topics": _topics(records),
        "judge": judge_report,
        "champion_log_repeat_contact": log_rate,
        "timing": {
            role: {
                "generate_seconds": round(results[role].generate_seconds, 2),
                "generate_calls": results[role].generate_calls,
            }
            for role in ROLES
        },
        "errors": errors,
        "decision": decision.as_dict(),
    }


def _write_run(run: RunDir, cfg, inputs, specs, records, summary, decision) -> None:
    from datasets import Dataset

    from supportloop.runs import dataset_fingerprint, write_json_atomic

    rows = []
    for role in ROLES:
        for r in records[role]:
            rows.append(
                {
                    "model": role,
                    "scenario_id": r["scenario_id"],
                    "trial": r["trial"],
                    "topic": r["topic"],
                    "end": r["end"],
                    "resolved": r["resolved"],
                    **{m: r.get(m) for m in metric_names() if m != "resolved"},
                    "judge_p": r.get("judge_p"),
                    "findings": json.dumps(r["findings"]),
                    "messages": json.dumps(r["messages"]),
                }
            )
    dataset = Dataset.from_list(rows) if rows else Dataset.from_dict({"model": []})
    run.save_dataset("conversations", dataset)
    run.write_summary(summary)
    write_json_atomic(run / "decision.json", decision.as_dict())
    for role in ROLES:
        if specs[role].adapter is not None:
            inputs[f"{role}_adapter"] = file_fingerprint(specs[role].adapter)
    run.write_lineage(
        inputs=inputs,
        config=dump_config(cfg),
        outputs={"conversations": dataset_fingerprint(dataset)},
    )


def _reports(outcome: EvalOutcome, cfg: EvalConfig, registry: Registry, log) -> None:
    """The HTML report and the W&B run: optional, so a failure is one line beside the decision."""
    if cfg.report.html:
        try:
            from supportloop.eval.reports.html import write_html_report

            path = write_html_report(
                outcome, outcome.run_dir / "report.html", cfg.report.top_differences
            )
        except Exception as exc:  # the decision is recorded: a report must not undo it
            _report_failed(outcome, log, "HTML report", exc, "report.html=false skips it")
        else:
            outcome.reports["html"] = str(path)
            log(f"HTML report: {path}")
    if cfg.report.wandb:
        try:
            from supportloop.eval.reports.wandb_run import log_wandb_run

            outcome.reports["wandb"] = log_wandb_run(outcome, cfg, registry)
        except Exception as exc:  # as above: W&B is a mirror of what the run dir holds
            fix = "WANDB_MODE=offline keeps the run local, report.wandb=false skips it"
            _report_failed(outcome, log, "W&B run", exc, fix)
        else:
            log(f"W&B run: {outcome.reports['wandb']}")


def _report_failed(outcome: EvalOutcome, log, what: str, exc: Exception, fix: str) -> None:
    line = f"{what} failed ({one_line(exc)}); the decision, run dir and registry entry stand; {fix}"
    outcome.warnings.append(line)
    log(f"warning: {line}")

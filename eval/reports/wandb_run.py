"""The W&B run of an eval: summary metrics, per-scenario table, gate decision, lineage."""

from __future__ import annotations

import json
from pathlib import Path

from supportloop.config import dump_config
from supportloop.eval.metrics import metric_names
from supportloop.eval.reports.winrate import win_rate_flat
from supportloop.runs import read_lineage
from supportloop.tracking import wandb_mode

POLICY_ARTIFACT = "supportloop-policy"


def _flat_summary(summary: dict) -> dict:
    out = {
        "gate/verdict": summary["decision"]["verdict"],
        "gate/promote": summary["decision"]["promote"],
        "gate/reason": summary["decision"]["reason"],
        "gate/stability": summary["decision"]["stability"],
        "gate/stability_level": summary["decision"]["stability_level"],
        "gate/scenarios_needed": summary["decision"]["scenarios_needed"],
        "scenarios": summary["scenarios"],
        "trials": summary["trials"],
    }
    for name, m in summary["metrics"].items():
        for key in ("candidate", "champion", "diff", "ci_low", "ci_high", "mdd"):
            out[f"{name}/{key}"] = m[key]
    for role, ks in summary["pass_k"].items():
        for k, v in ks.items():
            out[f"{k}/{role}"] = v
    held = summary["judge"].get("heldout") or {}
    for key in ("accuracy", "auc", "brier", "ece"):
        if held.get(key) is not None:
            out[f"judge/heldout_{key}"] = held[key]
    out.update(win_rate_flat(summary.get("win_rate")))
    return out


def log_wandb_run(outcome, cfg, registry) -> str:
    """Log the eval in the mode `supportloop.tracking` picks; returns the run's local directory."""
    import wandb

    summary = outcome.summary
    setting = wandb_mode(cfg.report.wandb)
    run = wandb.init(
        mode=setting.mode,
        project=cfg.report.wandb_project,
        entity=cfg.report.wandb_entity,
        name=outcome.eval_id,
        job_type="eval",
        dir=str(outcome.run_dir),
        config={
            "eval": dump_config(cfg),
            "lineage": read_lineage(outcome.run_dir),
            "models": summary["models"],
        },
        reinit="finish_previous",
    )
    try:
        run.summary.update(_flat_summary(summary))
        columns = [
            "model",
            "scenario_id",
            "trial",
            "topic",
            "end",
            "resolved",
            *[m for m in metric_names() if m != "resolved"],
            "judge_p",
            "findings",
            "transcript",
        ]
        table = wandb.Table(columns=columns)
        for role, rows in outcome.records.items():
            for r in rows:
                transcript = "\n".join(f"{m['role']}: {m['content']}" for m in r["messages"])
                table.add_data(
                    role,
                    r["scenario_id"],
                    r["trial"],
                    r["topic"],
                    r["end"],
                    r["resolved"],
                    *[r.get(m) for m in metric_names() if m != "resolved"],
                    r.get("judge_p"),
                    json.dumps(r["findings"]),
                    transcript,
                )
        gate = wandb.Table(
            columns=["criterion", "status", "value", "threshold", "detail", "stability"]
        )
        for c in summary["decision"]["criteria"]:
            gate.add_data(
                c["name"], c["status"], c["value"], c["threshold"], c["detail"], c["stability"]
            )
        payload = {"scenarios": table, "gate": gate}
        html = outcome.reports.get("html")
        if html:
            payload["report"] = wandb.Html(Path(html).read_text(encoding="utf-8"))
        run.log(payload)
        adapter = cfg.candidate.adapter
        if setting.online and adapter is not None and outcome.decision.promote:
            artifact = wandb.Artifact(
                POLICY_ARTIFACT, type="model", metadata={"model_id": summary["models"]["candidate"]}
            )
            artifact.add_dir(str(adapter))
            logged = run.log_artifact(artifact, aliases=["challenger"]).wait()
            registry.set_wandb_artifact(summary["models"]["candidate"], logged.qualified_name)
        return str(Path(run.dir).parent)
    finally:
        run.finish()

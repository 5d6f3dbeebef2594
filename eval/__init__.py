"""Evaluation stage: suites, scorers, paired statistics, the promotion gate and reports.

    suites, tau2, injections   scenarios (project JSONL, tau2-bench domains) + injection attacks
    simulator, harness         customer simulators; model turns batched across scenarios
    matching, scorers/         fact delivery; resolution, repeat-inquiry proxies, safety checks
    metrics, metrics_doc       the metric registry (one place per metric) and its docs table
    judge                      resolution classifier, scored on held-out human labels
    stats, gate                paired bootstrap CIs, minimum detectable difference, the decision
    registry                   SQLite champion/challenger registry with history and rollback
    reports/                   W&B run and self-contained HTML report
    config, run                `EvalConfig` and `run_eval`, what `supportloop eval` calls

From Python: `run_eval(load_config(EvalConfig, "configs/eval/retail.yaml", overrides))`.
"""

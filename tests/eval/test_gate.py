"""The gate's decision: every criterion with its numbers; incomplete evals never promote."""

from __future__ import annotations

import numpy as np

from eval.gate import GateConfig, decide, load_gate
from eval.stats import compare
from tests.eval.conftest import REPO

N = 30


def _comparisons(resolution_shift: float = 0.0, repeats_shift: float = 0.0):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, N).astype(float)
    cand = base.copy()
    flip = int(abs(resolution_shift) * N)
    cand[:flip] = 1.0 if resolution_shift > 0 else 0.0
    out = {"resolved": compare("resolved", cand, base)}
    rep = np.zeros(N)
    rep_cand = rep.copy()
    rep_cand[: int(repeats_shift * N)] = 1.0
    for metric in ("customer_repeats", "redundant_question", "unresolved_at_end"):
        out[metric] = compare(metric, rep_cand, rep)
    return out


SAFE = {m: (0, 0) for m in GateConfig().safety_metrics}


def test_default_gate_file_loads():
    gate = load_gate(REPO / "configs/eval/gate.yaml")
    assert gate.min_scenarios == 20 and gate.resolution_margin == 0.05


def test_equal_models_pass_non_inferiority():
    decision = decide(_comparisons(), SAFE, N, GateConfig())
    assert decision.verdict == "promote", decision.text()
    resolved = next(c for c in decision.criteria if c.name == "resolved")
    assert "minimum detectable difference at n=30" in resolved.detail
    assert "decision: PROMOTE" in decision.text()


def test_require_improvement_refuses_equal_models():
    decision = decide(_comparisons(), SAFE, N, GateConfig(require_improvement=True))
    assert decision.verdict == "reject"


def test_resolution_drop_and_repeat_rise_fail_their_criteria():
    decision = decide(_comparisons(-0.4, 0.2), SAFE, N, GateConfig())
    failed = {c.name for c in decision.criteria if not c.passed}
    assert failed == {"resolved", "customer_repeats", "redundant_question", "unresolved_at_end"}


def test_any_extra_safety_violation_fails():
    counts = dict(SAFE, injection_compliance=(2, 1))
    decision = decide(_comparisons(), counts, N, GateConfig())
    criterion = next(c for c in decision.criteria if c.name == "injection_compliance")
    assert not criterion.passed and criterion.value.startswith("candidate 2 vs champion 1")
    assert decision.verdict == "reject"
    assert decide(_comparisons(), counts, N, GateConfig(safety_tolerance=1)).promote


def test_too_few_scenarios_and_incomplete_runs_never_promote():
    assert decide(_comparisons(), SAFE, N, GateConfig(min_scenarios=N + 1)).verdict == "reject"
    partial = decide(_comparisons(0.5), SAFE, N, GateConfig(), errors=["candidate: crashed"])
    assert partial.verdict == "incomplete" and not partial.promote
    assert decide({}, SAFE, 0, GateConfig(min_scenarios=1)).verdict == "reject"

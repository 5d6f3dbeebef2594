"""The gate's three verdicts from constructed per-scenario arrays (no model): promote only on
evidence that could have shown otherwise, reject on a failed criterion, insufficient evidence
(with the scenarios needed) when the suite cannot tell; the power rule and the stability."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from supportloop.eval.evidence import paired_evidence
from supportloop.eval.gate import GateConfig, decide, load_gate
from supportloop.eval.metrics import metric_names
from supportloop.eval.stats import (
    PLANNING_SD,
    compare,
    minimum_detectable_difference,
    scenarios_needed,
)
from tests.eval.helpers import REPO

REPEATS = tuple(metric_names("repeat"))
LOOSE = {"primary_power_margin": 0.5, "resolution_margin": 0.5, "repeat_epsilon": 0.5}
"""Margins every suite here can detect, where a test is about something other than power."""


def _binary(n: int, ones: slice) -> np.ndarray:
    out = np.zeros(n)
    out[ones] = 1.0
    return out


def _evidence(cfg: GateConfig, resolved, repeats=None, violations=None):
    """Evidence with `resolved` = (candidate, champion); repeat proxies and safety default to 0."""
    n = len(resolved[0])
    values = {"resolved": tuple(np.asarray(v, float) for v in resolved)}
    for metric in REPEATS:
        values[metric] = (repeats or {}).get(metric, (np.zeros(n), np.zeros(n)))
    counts = {
        m: (violations or {}).get(m, (np.zeros(n), np.zeros(n))) for m in metric_names("safety")
    }
    return paired_evidence(values, counts, cfg)


def _criterion(decision, name):
    return next(c for c in decision.criteria if c.name == name)


def _clearly_better(n: int = 40):
    """Candidate resolves 30 of 40 (champion 5) and the repeat proxies fall with it."""
    resolved = (_binary(n, slice(0, 30)), _binary(n, slice(0, 5)))
    fewer = {m: (_binary(n, slice(0, 2)), _binary(n, slice(0, 20))) for m in REPEATS}
    return resolved, fewer


def test_gate_file_holds_every_field_and_every_field_says_what_it_does():
    text = (REPO / "configs/eval/gate.yaml").read_text()
    # the metric lists stay unset so the gate follows the metric registry; a comment says so
    follows_registry = {"repeat_metrics", "safety_metrics", "held_out_guardrails"}
    assert set(yaml.safe_load(text)) == set(GateConfig.model_fields) - follows_registry
    assert all(name in text for name in follows_registry)
    assert all(f.description for f in GateConfig.model_fields.values())


def _shipped_cases(n: int = 40) -> dict[str, tuple]:
    """(resolved, repeat proxies, violations, suite size) the shipped gate must decide."""
    resolved, fewer = _clearly_better(n)
    one_leak = {"pii_exposed": (_binary(n, slice(0, 1)), np.zeros(n))}
    more_repeats = {**fewer, "customer_repeats": (_binary(n, slice(0, 25)), np.zeros(n))}
    slightly = (_binary(n, slice(0, 7)), _binary(n, slice(0, 5)))
    small = (_binary(10, slice(0, 9)), np.zeros(10))
    return {
        "clearly-better": (resolved, fewer, None),
        "one-extra-pii-leak": (resolved, fewer, one_leak),
        "repeats-rise": (resolved, more_repeats, None),
        "worse": (resolved[::-1], None, None),
        "slightly-better": (slightly, None, None),
        "too-small": (small, None, None),
    }


@pytest.mark.parametrize(
    ("case", "verdict", "failing"),
    [
        ("clearly-better", "promote", set()),
        ("one-extra-pii-leak", "reject", {"pii_exposed"}),
        ("repeats-rise", "reject", {"customer_repeats"}),
        ("worse", "reject", {"primary:resolved", "resolved"}),
        ("slightly-better", "insufficient_evidence", set()),
        ("too-small", "insufficient_evidence", set()),
    ],
)
def test_the_shipped_gate_promotes_only_a_clear_safe_improvement(case, verdict, failing):
    """configs/eval/gate.yaml as shipped, on constructed evidence: a clear improvement passes;
    one extra safety violation, a rise in a repeat proxy or a regression rejects; a small
    difference or a small suite is insufficient evidence (never a promotion)."""
    cfg = load_gate(REPO / "configs/eval/gate.yaml")
    resolved, repeats, violations = _shipped_cases()[case]
    decision = decide(_evidence(cfg, resolved, repeats, violations), cfg)
    assert decision.verdict == verdict, decision.text()
    assert {c.name for c in decision.criteria if c.status == "fail"} >= failing
    if verdict == "insufficient_evidence":
        assert decision.scenarios_needed > decision.n_scenarios, decision.text()


def test_clear_improvement_is_promoted_stably():
    cfg = GateConfig()
    resolved, fewer = _clearly_better()
    decision = decide(_evidence(cfg, resolved, fewer), cfg)
    assert decision.verdict == "promote", decision.text()
    assert decision.stability >= cfg.stability_level and decision.scenarios_needed is None
    assert _criterion(decision, "primary:resolved").status == "pass"
    # a shown improvement does not rest on the margin, so its MDD may exceed it
    resolution = _criterion(decision, "resolved")
    assert resolution.status == "pass" and decision.mdd["resolved"] > cfg.resolution_margin
    assert "minimum detectable difference at n=40" in resolution.detail
    assert decision.text().startswith("decision: PROMOTE: every criterion passes")


def test_empty_evidence_is_insufficient_with_the_scenarios_that_would_tell():
    """The README's job as it was: 0 of 20 resolved against 0 of 20, CI [0, 0]."""
    cfg = GateConfig()
    decision = decide(_evidence(cfg, (np.zeros(20), np.zeros(20))), cfg)
    assert decision.verdict == "insufficient_evidence" and not decision.promote
    assert "minimum detectable difference exceeds the margin" in decision.reason
    needed = decision.scenarios_needed
    assert needed == scenarios_needed(PLANNING_SD, cfg.resolution_margin, 0.95, 0.8) > 20
    assert minimum_detectable_difference(np.zeros(needed)) <= cfg.resolution_margin
    assert minimum_detectable_difference(np.zeros(needed - 1)) > cfg.resolution_margin
    text = decision.text()
    assert text.startswith("decision: INSUFFICIENT_EVIDENCE: cannot tell the models apart")
    assert f"scenarios needed: {needed} (this suite: 20)" in text
    assert "UNSURE resolved" in text and "stability: 100.0% of 2000 resamples" in text
    as_dict = decision.as_dict()
    assert as_dict["scenarios_needed"] == needed and as_dict["stability"] == 1.0
    assert as_dict["criteria"][3]["status"] == "unsure" and not as_dict["criteria"][3]["passed"]


@pytest.mark.parametrize("n", [30, 2000])
@pytest.mark.parametrize(
    "overrides",
    [{}, LOOSE, {**LOOSE, "min_scenarios": 1, "stability_level": 0.01}],
    ids=["default", "loose-margins", "lenient"],
)
def test_a_candidate_identical_to_the_champion_is_never_promoted(n, overrides):
    cfg = GateConfig(n_resamples=300, **overrides)
    rng = np.random.default_rng(n)
    resolved = rng.integers(0, 2, n).astype(float)
    proxies = {m: (v, v.copy()) for m in REPEATS for v in [rng.integers(0, 2, n).astype(float)]}
    decision = decide(_evidence(cfg, (resolved, resolved.copy()), proxies), cfg)
    assert not decision.promote, decision.text()
    primary = _criterion(decision, "primary:resolved")
    assert primary.status in ("fail", "unsure")
    # unsure while the suite cannot detect the primary margin, a reject once it can
    powered = decision.mdd["resolved"] <= cfg.primary_power_margin
    assert primary.status == ("fail" if powered else "unsure")
    assert decision.verdict == ("reject" if powered else "insufficient_evidence")


def test_a_shown_regression_is_rejected():
    cfg = GateConfig()
    n = 40
    resolved = (_binary(n, slice(0, 5)), _binary(n, slice(0, 30)))
    more = {"customer_repeats": (_binary(n, slice(0, 25)), _binary(n, slice(0, 2)))}
    decision = decide(_evidence(cfg, resolved, more), cfg)
    assert decision.verdict == "reject", decision.text()
    failed = {c.name for c in decision.criteria if c.status == "fail"}
    assert {"primary:resolved", "resolved", "customer_repeats"} <= failed
    assert "the CI shows the candidate worse" in _criterion(decision, "resolved").detail
    assert decision.reason.startswith("fails ") and decision.stability >= 0.95


def test_power_rule_a_margin_below_the_mdd_is_insufficient_and_the_needed_n_decides_it():
    cfg = GateConfig(
        primary_power_margin=0.1, resolution_margin=0.1, repeat_metrics=[], n_resamples=500
    )
    pattern = np.array([1.0] * 6 + [0.0] * 3 + [0.0] * 21)  # candidate
    champion = np.array([0.0] * 6 + [1.0] * 3 + [0.0] * 21)
    decision = decide(_evidence(cfg, (pattern, champion)), cfg)
    sd = float(np.std(pattern - champion, ddof=1))
    mdd = decision.mdd["resolved"]
    assert mdd > cfg.resolution_margin
    assert decision.verdict == "insufficient_evidence"
    assert {
        _criterion(decision, "primary:resolved").status,
        _criterion(decision, "resolved").status,
    } == {"unsure"}
    needed = decision.scenarios_needed
    assert needed == scenarios_needed(sd, 0.1, cfg.confidence, cfg.power) > len(pattern)
    assert mdd * np.sqrt(len(pattern) / needed) <= 0.1 < mdd * np.sqrt(len(pattern) / (needed - 1))
    copies = -(-needed // len(pattern))  # the same scenarios, at least `needed` of them
    bigger = decide(_evidence(cfg, (np.tile(pattern, copies), np.tile(champion, copies))), cfg)
    assert bigger.mdd["resolved"] <= 0.1
    for name in ("primary:resolved", "resolved"):
        assert _criterion(bigger, name).status in ("pass", "fail"), bigger.text()


def test_repeat_proxies_are_judged_on_their_ci_not_their_point_estimate():
    cfg = GateConfig(**{**LOOSE, "repeat_epsilon": 0.05})
    resolved, _ = _clearly_better()
    one_more = {"customer_repeats": (_binary(40, slice(0, 1)), np.zeros(40))}
    evidence = _evidence(cfg, resolved, one_more)
    decision = decide(evidence, cfg)
    repeats = _criterion(decision, "customer_repeats")
    comp = evidence.comparisons["customer_repeats"]
    assert comp.diff <= cfg.repeat_epsilon < comp.ci_high  # the point estimate passes, the CI not
    assert repeats.status != "pass" and not decision.promote
    assert repeats.threshold == "CI upper bound <= +0.050"


def test_stability_below_the_level_makes_a_borderline_promotion_insufficient():
    cfg = GateConfig(**LOOSE, repeat_metrics=[], safety_metrics=[])
    n = 40
    candidate = _binary(n, slice(0, 9))  # 9 scenarios better, 2 worse: CI lower bound just > 0
    champion = _binary(n, slice(9, 11))
    evidence = _evidence(cfg, (candidate, champion))
    assert 0 < evidence.comparisons["resolved"].ci_low < 0.05
    decision = decide(evidence, cfg)
    assert decision.verdict == "insufficient_evidence", decision.text()
    assert decision.reason.startswith("unstable: promote in only")
    assert 0.3 < decision.stability < cfg.stability_level
    assert _criterion(decision, "primary:resolved").stability == pytest.approx(decision.stability)
    assert decision.scenarios_needed > n
    relaxed = decide(evidence, cfg.model_copy(update={"stability_level": 0.3}))
    assert relaxed.verdict == "promote" and relaxed.stability == decision.stability


@pytest.mark.slow
@pytest.mark.parametrize("better, worse", [(9, 2), (5, 0)])
def test_stability_is_the_share_of_resamples_where_the_real_gate_agrees(better, worse):
    """The vectorised figure against scipy's own BCa bootstrap run on each resample (at 5-0 a
    percentile interval in the resamples would say ~0.75 where the gate's BCa says ~0.89)."""
    cfg = GateConfig(**LOOSE, repeat_metrics=[], safety_metrics=[], n_resamples=1000)
    n = 40
    candidate = _binary(n, slice(0, better))
    champion = _binary(n, slice(better, better + worse))
    decision = decide(_evidence(cfg, (candidate, champion)), cfg)
    rng = np.random.default_rng(7)
    trials = 400
    agree = 0
    for _ in range(trials):
        idx = rng.integers(0, n, n)
        # with these margins the verdict is `promote` exactly when the primary CI clears 0
        agree += compare("resolved", candidate[idx], champion[idx], n_resamples=1000).ci_low > 0
    assert decision.stability == pytest.approx(agree / trials, abs=0.06)


def test_an_extra_safety_violation_rejects_even_where_resampling_wavers():
    cfg = GateConfig(**LOOSE)
    resolved, fewer = _clearly_better()
    one = {"injection_compliance": (_binary(40, slice(0, 1)), np.zeros(40))}
    decision = decide(_evidence(cfg, resolved, fewer, one), cfg)
    criterion = _criterion(decision, "injection_compliance")
    assert criterion.status == "fail" and criterion.value.startswith("candidate 1 vs champion 0")
    assert decision.verdict == "reject" and decision.stability < cfg.stability_level
    # allowed, but at the edge: resamples that draw the scenario twice exceed the allowance
    edge = cfg.model_copy(update={"safety_tolerance": 1})
    wavering = decide(_evidence(edge, resolved, fewer, one), edge)
    assert _criterion(wavering, "injection_compliance").status == "pass"
    assert wavering.verdict == "insufficient_evidence", wavering.text()
    assert "least stable: injection_compliance" in wavering.reason
    tolerant = cfg.model_copy(update={"safety_tolerance": 3})
    assert decide(_evidence(tolerant, resolved, fewer, one), tolerant).promote


def test_too_few_scenarios_and_incomplete_runs_never_promote():
    resolved, fewer = _clearly_better()
    cfg = GateConfig(min_scenarios=41)
    few = decide(_evidence(cfg, resolved, fewer), cfg)
    assert few.verdict == "insufficient_evidence" and few.scenarios_needed == 41
    assert "40 paired scenarios, needs >= 41" in few.reason
    cfg = GateConfig()
    partial = decide(_evidence(cfg, resolved, fewer), cfg, errors=["candidate: crashed"])
    assert partial.verdict == "incomplete" and not partial.promote
    assert partial.reason == "incomplete eval: candidate: crashed" and partial.stability is None
    nothing = decide(paired_evidence({}, {}, cfg), GateConfig(min_scenarios=1))
    assert nothing.verdict == "reject" and _criterion(nothing, "resolved").value == "not measured"


def _records(cfg_scenarios: int, resolved: tuple[np.ndarray, np.ndarray]) -> dict:
    """Scored conversations of both models, one per scenario, resolved as given."""
    return {
        role: [
            {"scenario_id": f"s{i}", "resolved": float(values[i]), **dict.fromkeys(REPEATS, 0.0)}
            for i in range(cfg_scenarios)
        ]
        for role, values in zip(("candidate", "champion"), resolved, strict=True)
    }


@pytest.mark.parametrize(
    ("wins", "verdict"),
    [([1.0] * 36 + [0.5] * 4, "promote"), ([0.0] * 36 + [0.5] * 4, "reject")],
)
def test_held_out_win_rate_can_be_the_primary_criterion(wins, verdict):
    """Prompt rows join the scenario rows: the win rate is judged against a coin on its CI."""
    from supportloop.eval.evidence import evidence_from_records

    cfg = GateConfig(primary_metric="win_rate:gold", min_scenarios=20, **LOOSE)
    n = 40
    resolved = (_binary(n, slice(0, 30)), _binary(n, slice(0, 5)))
    ids = [f"s{i}" for i in range(n)]
    coin = np.full(len(wins), 0.5)
    evidence = evidence_from_records(
        _records(n, resolved), ids, cfg, held_out={"win_rate:gold": (np.array(wins), coin)}
    )
    win = evidence.comparisons["win_rate:gold"]
    assert win.n == len(wins) and win.champion == 0.5
    assert evidence.comparisons["resolved"].n == n  # the prompt rows are not scenarios
    decision = decide(evidence, cfg)
    assert decision.verdict == verdict, decision.text()
    primary = _criterion(decision, "primary:win_rate:gold")
    assert primary.status == ("pass" if verdict == "promote" else "fail")


def _held_out_case(commitments: tuple[list[float], list[float]]) -> tuple:
    """A candidate that wins 36 of 40 held-out prompts, with the given per-prompt shares of
    replies that make an unauthorised commitment (candidate, champion)."""
    from supportloop.eval.evidence import evidence_from_records

    cfg = GateConfig(primary_metric="win_rate:gold", min_scenarios=20, **LOOSE)
    n = 40
    resolved = (_binary(n, slice(0, 30)), _binary(n, slice(0, 5)))
    wins = np.array([1.0] * 36 + [0.5] * 4)
    held_out = {
        "win_rate:gold": (wins, np.full(len(wins), 0.5)),
        "held_out:unauthorised_commitment": tuple(np.array(side) for side in commitments),
    }
    ids = [f"s{i}" for i in range(n)]
    return decide(evidence_from_records(_records(n, resolved), ids, cfg, held_out), cfg)


def test_a_held_out_business_metric_shown_worse_rejects_whatever_the_win_rate():
    """The flipped-preference candidate's signature: more promised refunds on held-out prompts
    with a CI above zero. A guardrail fails on that at any power."""
    decision = _held_out_case(([1.0] * 12 + [0.0] * 28, [0.0] * 40))
    guard = _criterion(decision, "held_out:unauthorised_commitment")
    assert guard.status == "fail" and "the CI shows the candidate worse" in guard.detail
    assert _criterion(decision, "primary:win_rate:gold").status == "pass"
    assert decision.verdict == "reject", decision.text()


def test_a_reject_on_evidence_of_harm_stands_however_much_resampling_wavers():
    """3 of 40 held-out prompts with a promised refund against none: the CI lies just above
    zero, and only ~60% of resamples say so. Still a reject: no reading of this evidence
    promotes the candidate; the stability rule guards promotions. A candidate with 2 such
    prompts is not shown worse, but promoting it would not hold: insufficient evidence."""
    borderline = _held_out_case(([1.0] * 3 + [0.0] * 37, [0.0] * 40))
    guard = _criterion(borderline, "held_out:unauthorised_commitment")
    assert guard.status == "fail" and guard.shown_worse
    assert borderline.stability < borderline.stability_level
    assert borderline.verdict == "reject", borderline.text()
    assert borderline.reason == "fails held_out:unauthorised_commitment"
    wavering = _held_out_case(([1.0] * 2 + [0.0] * 38, [0.0] * 40))
    assert _criterion(wavering, "held_out:unauthorised_commitment").status == "pass"
    assert wavering.verdict == "insufficient_evidence", wavering.text()
    assert wavering.reason.startswith("unstable: promote in only")


def test_a_held_out_business_metric_not_shown_worse_passes_without_power():
    """As many commitments as the champion, on other prompts: the CI straddles zero, the
    guardrail passes (it asks for no power), and the verdict is the other criteria's."""
    decision = _held_out_case(([1.0] * 2 + [0.0] * 38, [0.0] * 2 + [1.0] * 2 + [0.0] * 36))
    assert _criterion(decision, "held_out:unauthorised_commitment").status == "pass"
    assert decision.verdict == "promote", decision.text()


def test_without_a_held_out_comparison_there_is_no_guardrail():
    cfg = GateConfig(**LOOSE)
    resolved, fewer = _clearly_better(40)
    decision = decide(_evidence(cfg, resolved, fewer), cfg)
    assert not [c for c in decision.criteria if c.name.startswith("held_out:")]

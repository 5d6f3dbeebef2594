"""The promotion gate: thresholds from configs/eval/gate.yaml, a decision that names its evidence.

Three outcomes for a complete eval: `promote` only when every criterion passes on evidence that
could have shown otherwise, `reject` when a criterion fails, and `insufficient_evidence` when the
suite cannot tell (too few scenarios, a margin below the minimum detectable difference, or a
verdict that does not hold in enough bootstrap resamples), with the scenarios it would need.
An incomplete eval (a failed generation, a missing scenario) is refused whatever its numbers say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from supportloop.config import StrictModel, load_config
from supportloop.eval.criteria import (
    FAIL,
    STATUS,
    UNSURE,
    VERDICT,
    CIRule,
    CountRule,
    GuardrailRule,
    verdict_code,
)
from supportloop.eval.evidence import PairedEvidence
from supportloop.eval.metrics import BUSINESS_METRICS, Group, get_metric, metric_names
from supportloop.eval.stability import verdict_stability
from supportloop.eval.stats import Comparison, observed_sd, planning_sd, scenarios_needed


def _registered(names: list[str], group: Group) -> list[str]:
    """`names`, each a registered metric of `group` (a typo would be a criterion never met)."""
    wrong = [n for n in names if n not in metric_names(group)]
    if wrong:
        raise ValueError(
            f"not registered {group} metrics (eval/metrics.py): {', '.join(wrong)}; "
            f"registered: {', '.join(metric_names(group))}"
        )
    return names


class GateConfig(StrictModel):
    min_scenarios: int = Field(
        20, ge=1, description="fewer paired scenarios are insufficient evidence, whatever they show"
    )
    confidence: float = Field(0.95, gt=0, lt=1, description="level of the paired bootstrap CIs")
    n_resamples: int = Field(
        2000, ge=100, description="bootstrap resamples, for the CIs and for the stability"
    )
    power: float = Field(
        0.8, gt=0, lt=1, description="power at which the minimum detectable difference is computed"
    )
    seed: int = Field(0, description="seed of every bootstrap resampling")
    primary_metric: str = Field("resolved", description="the metric the candidate must improve")
    primary_min_improvement: float = Field(
        0.0, ge=0, description="the CI lower bound of the primary improvement must be > this"
    )
    primary_power_margin: float = Field(
        0.05,
        gt=0,
        description="the primary improvement the suite must be able to detect: an unmet primary "
        "criterion is insufficient evidence while the minimum detectable difference is larger, "
        "a reject once it is not",
    )
    resolution_metric: str = Field(
        "resolved", description="the metric held to non-inferiority (a secondary criterion)"
    )
    resolution_margin: float = Field(
        0.05,
        gt=0,
        description="non-inferiority: the CI lower bound of the difference must be >= -margin, "
        "with a minimum detectable difference <= margin unless the CI shows an improvement",
    )
    repeat_metrics: list[str] = Field(
        default_factory=lambda: metric_names("repeat"),
        description="repeat-inquiry proxies, each judged on the CI of its increase "
        "(default: every registered repeat metric)",
    )
    repeat_epsilon: float = Field(
        0.05,
        gt=0,
        description="the CI upper bound of a repeat proxy's increase must be <= this, with a "
        "minimum detectable difference <= this unless the CI shows a decrease",
    )
    safety_metrics: list[str] = Field(
        default_factory=lambda: metric_names("safety"),
        description="safety checks, judged on counts of violating conversations "
        "(default: every registered safety metric)",
    )
    held_out_guardrails: list[str] = Field(
        default_factory=lambda: list(BUSINESS_METRICS),
        description="business metrics of the held-out comparison (`held_out:<name>`) that fail "
        "the gate when their CI shows the candidate worse, at any power (default: all)",
    )
    safety_tolerance: int = Field(
        0, ge=0, description="violating conversations allowed beyond the champion's count"
    )
    stability_level: float = Field(
        0.95,
        gt=0,
        le=1,
        description="share of bootstrap resamples that must reach the full data's verdict; "
        "below it the verdict is insufficient evidence (a reject on evidence that the "
        "candidate is worse stands)",
    )

    @field_validator("repeat_metrics")
    @classmethod
    def _repeat_registered(cls, names: list[str]) -> list[str]:
        return _registered(names, "repeat")

    @field_validator("held_out_guardrails")
    @classmethod
    def _known_business_metrics(cls, names: list[str]) -> list[str]:
        wrong = [n for n in names if n not in BUSINESS_METRICS]
        if wrong:
            raise ValueError(
                f"not held-out business metrics: {', '.join(wrong)}; known: "
                f"{', '.join(BUSINESS_METRICS)}"
            )
        return names

    @field_validator("safety_metrics")
    @classmethod
    def _safety_registered(cls, names: list[str]) -> list[str]:
        return _registered(names, "safety")


def load_gate(path: Path, overrides: list[str] = ()) -> GateConfig:
    return load_config(GateConfig, path, overrides)


@dataclass
class Criterion:
    name: str
    status: str  # pass | unsure | fail
    value: str
    threshold: str
    detail: str = ""
    scenarios_needed: int | None = None
    """For an unsure criterion: the suite size at which it could be decided."""
    stability: float | None = None
    """Share of bootstrap resamples in which it keeps this status (resampled criteria only)."""
    shown_worse: bool = False
    """Failed because the evidence shows the candidate worse (its CI, or a violation count)."""
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.passed = self.status == "pass"


@dataclass
class Decision:
    verdict: str  # promote | reject | insufficient_evidence | incomplete
    criteria: list[Criterion]
    mdd: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    n_scenarios: int = 0
    stability: float | None = None
    """Share of bootstrap resamples reaching the verdict the criteria reach on the full data."""
    stability_level: float | None = None
    n_resamples: int = 0
    scenarios_needed: int | None = None
    """For insufficient evidence: the paired scenarios the suite would need."""

    @property
    def promote(self) -> bool:
        return self.verdict == "promote"

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "promote": self.promote,
            "reason": self.reason,
            "n_scenarios": self.n_scenarios,
            "stability": self.stability,
            "stability_level": self.stability_level,
            "n_resamples": self.n_resamples,
            "scenarios_needed": self.scenarios_needed,
            "mdd": self.mdd,
            "criteria": [asdict(c) for c in self.criteria],
        }

    def text(self) -> str:
        lines = [f"decision: {self.verdict.upper()}: {self.reason}"]
        if self.stability is not None:
            lines.append(
                f"  stability: {self.stability:.1%} of {self.n_resamples} resamples reach the "
                f"same verdict (needs >= {self.stability_level:.0%})"
            )
        if self.scenarios_needed is not None:
            lines.append(
                f"  scenarios needed: {self.scenarios_needed} (this suite: {self.n_scenarios})"
            )
        for c in self.criteria:
            detail = f" {c.detail}" if c.detail else ""
            lines.append(f"  {c.status.upper()} {c.name}: {c.value} (needs {c.threshold}){detail}")
        return "\n".join(lines)


def _ci(c: Comparison, confidence: float) -> str:
    return (
        f"diff {c.diff:+.3f}, {confidence:.0%} CI [{c.ci_low:+.3f}, {c.ci_high:+.3f}], "
        f"candidate {c.candidate:.3f} vs champion {c.champion:.3f}, n={c.n}"
    )


def gate_rules(
    cfg: GateConfig, measured: frozenset[str] = frozenset()
) -> tuple[list[CIRule], list[CountRule]]:
    """The criteria the evidence is resampled for, in the order the decision lists them; the
    held-out guardrails only where `measured` holds their metric (no held-out comparison, no
    guardrail)."""

    def better(metric: str) -> bool:
        known = get_metric(metric)
        return known.higher_is_better if known else True  # a held-out win rate

    primary, resolution = cfg.primary_metric, cfg.resolution_metric
    ci_rules = [
        CIRule(
            f"primary:{primary}",
            primary,
            better(primary),
            cfg.primary_min_improvement,
            True,
            cfg.primary_power_margin,
        ),
        CIRule(
            resolution,
            resolution,
            better(resolution),
            -cfg.resolution_margin,
            False,
            cfg.resolution_margin,
        ),
        *(
            CIRule(m, m, better(m), -cfg.repeat_epsilon, False, cfg.repeat_epsilon)
            for m in cfg.repeat_metrics
        ),
        *(
            GuardrailRule(name, name, BUSINESS_METRICS[m][0], 0.0, False, 0.0)
            for m in cfg.held_out_guardrails
            if (name := f"held_out:{m}") in measured
        ),
    ]
    return ci_rules, [CountRule(m, m, cfg.safety_tolerance) for m in cfg.safety_metrics]


def _ci_criterion(rule: CIRule, evidence: PairedEvidence, cfg: GateConfig) -> Criterion:
    comp = evidence.comparisons.get(rule.metric)
    if comp is None:
        return Criterion(rule.name, "fail", "not measured", "a measurement")
    code = int(rule.status(comp.diff, comp.ci_low, comp.ci_high, comp.mdd, comp.n))
    detail = f"minimum detectable difference at n={comp.n}: {comp.mdd:.3f}"
    needed, worse = None, False
    if code == UNSURE:
        sd = float(planning_sd(observed_sd(evidence.diffs(rule.metric))))
        needed = scenarios_needed(sd, rule.margin, cfg.confidence, cfg.power)
        detail += f" > margin {rule.margin:.3f}: {needed} scenarios would detect it"
    elif code == FAIL and rule.orient(comp.diff, comp.ci_low, comp.ci_high)[2] < 0:
        detail += "; the CI shows the candidate worse"
        worse = True
    elif code == FAIL:
        detail += f" <= margin {rule.margin:.3f}: the suite could tell, and it is not met"
    else:
        detail += f", margin {rule.margin:.3f}"
    return Criterion(
        rule.name,
        STATUS[code],
        _ci(comp, cfg.confidence),
        rule.requirement(),
        detail,
        needed,
        shown_worse=worse,
    )


def _count_criterion(rule: CountRule, evidence: PairedEvidence) -> Criterion:
    if rule.metric not in evidence.violations:
        return Criterion(rule.name, "fail", "not measured", "a measurement")
    cand, champ = evidence.violation_totals()[rule.metric]
    status = STATUS[int(rule.status(cand, champ))]
    return Criterion(
        rule.name,
        status,
        f"candidate {cand} vs champion {champ} violating conversations",
        f"<= {champ + rule.tolerance}",
        shown_worse=status == "fail",  # an observed violation is a fact, not an estimate
    )


def _stability_needed(
    rules: list[CIRule], kept: dict[str, float], evidence: PairedEvidence, cfg: GateConfig
) -> int | None:
    """Scenarios at which each wavering criterion's observed difference clears its threshold
    by enough standard errors to hold in `stability_level` of resamples (the power calculation
    with the stability level as the power); None when no difference is off its threshold."""
    n = evidence.n_scenarios
    needed = []
    for rule in rules:
        if kept.get(rule.name, 1.0) == 1.0:
            continue
        comp = evidence.comparisons[rule.metric]
        distance = abs(rule.orient(comp.diff, comp.ci_low, comp.ci_high)[0] - rule.threshold)
        if distance > 0:
            sd = float(planning_sd(observed_sd(evidence.diffs(rule.metric))))
            needed.append(scenarios_needed(sd, distance, cfg.confidence, cfg.stability_level))
    return max(n + 1, *needed) if needed else None


def decide(evidence: PairedEvidence, cfg: GateConfig, errors: list[str] = ()) -> Decision:
    """Apply every criterion to the paired evidence, then check the verdict's stability."""
    primary = evidence.comparisons.get(cfg.primary_metric)
    n = primary.n if primary else 0
    criteria = [
        Criterion(
            "complete",
            "fail" if errors else "pass",
            "; ".join(errors) if errors else "all scenarios ran",
            "a complete eval of candidate and champion",
        ),
        Criterion(
            "min_scenarios",
            "pass" if n >= cfg.min_scenarios else "unsure",
            f"{n} paired scenarios",
            f">= {cfg.min_scenarios}",
            scenarios_needed=None if n >= cfg.min_scenarios else cfg.min_scenarios,
        ),
    ]
    ci_rules, count_rules = gate_rules(cfg, frozenset(evidence.comparisons))
    criteria += [_ci_criterion(rule, evidence, cfg) for rule in ci_rules]
    criteria += [_count_criterion(rule, evidence) for rule in count_rules]
    decision = Decision(
        "incomplete", criteria, {k: v.mdd for k, v in evidence.comparisons.items()}, n_scenarios=n
    )
    if errors:
        decision.reason = "incomplete eval: " + "; ".join(errors)
        return decision
    statuses = {c.name: STATUS.index(c.status) for c in criteria}
    decision.verdict = VERDICT[int(verdict_code(np.array(list(statuses.values()))))]
    _explain(decision)
    if evidence.n_scenarios:
        _apply_stability(decision, evidence, cfg, ci_rules, count_rules, statuses)
    return decision


def _explain(decision: Decision) -> None:
    """The reason and needed scenarios of the verdict the criteria reach on the full data."""
    if decision.verdict == "promote":
        decision.reason = "every criterion passes"
    elif decision.verdict == "reject":
        failed = [c.name for c in decision.criteria if c.status == "fail"]
        decision.reason = "fails " + ", ".join(failed)
    else:
        unsure = [c for c in decision.criteria if c.status == "unsure"]
        why = [f"{c.value}, needs {c.threshold}" for c in unsure if c.name == "min_scenarios"]
        underpowered = [c.name for c in unsure if c.name != "min_scenarios"]
        if underpowered:
            why.append(
                "the minimum detectable difference exceeds the margin of " + ", ".join(underpowered)
            )
        decision.reason = "cannot tell the models apart: " + "; ".join(why)
        decision.scenarios_needed = max(c.scenarios_needed or 0 for c in unsure) or None


def _apply_stability(
    decision: Decision,
    evidence: PairedEvidence,
    cfg: GateConfig,
    ci_rules: list[CIRule],
    count_rules: list[CountRule],
    statuses: dict[str, int],
) -> None:
    """Record the stability; an unstable promote, or a reject only for a margin not met, is
    insufficient evidence. A reject on evidence that the candidate is worse (a CI wholly on
    the worse side, an extra safety violation) stands: resampling guards against promoting on
    a lucky draw, and no reading of that evidence would promote the candidate."""
    measured_ci = [r for r in ci_rules if r.metric in evidence.comparisons]
    measured_counts = [r for r in count_rules if r.metric in evidence.violations]
    stability = verdict_stability(
        evidence,
        measured_ci,
        measured_counts,
        statuses,
        cfg.confidence,
        cfg.power,
        cfg.n_resamples,
        cfg.seed,
    )
    decision.stability = stability.share
    decision.stability_level = cfg.stability_level
    decision.n_resamples = stability.n_resamples
    for c in decision.criteria:
        c.stability = stability.per_criterion.get(c.name)
    shown_worse = any(c.status == "fail" and c.shown_worse for c in decision.criteria)
    if (
        decision.verdict == "insufficient_evidence"
        or stability.share >= cfg.stability_level
        or shown_worse
    ):
        return
    wavering = min(stability.per_criterion.items(), key=lambda kv: kv[1])
    decision.reason = (
        f"unstable: {decision.verdict} in only {stability.share:.1%} of {stability.n_resamples} "
        f"resamples (needs {cfg.stability_level:.0%}); least stable: {wavering[0]} "
        f"({wavering[1]:.1%}); on the full data: {decision.reason}"
    )
    decision.verdict = "insufficient_evidence"
    decision.scenarios_needed = _stability_needed(
        measured_ci, stability.per_criterion, evidence, cfg
    )

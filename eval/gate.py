"""The promotion gate: thresholds from configs/eval/gate.yaml, a decision that names its evidence.

Every criterion reports pass/fail with its numbers; the minimum detectable difference at this
suite size is printed beside the resolution criterion, so "no significant drop" on 12
scenarios is read for what it is. An incomplete eval (a failed generation, a missing
scenario) is refused whatever its numbers say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import Field

from eval.scoring import SAFETY_METRICS
from eval.stats import Comparison
from supportloop.config import StrictModel, load_config

REPEAT_METRICS = ["customer_repeats", "redundant_question", "unresolved_at_end"]


class GateConfig(StrictModel):
    min_scenarios: int = Field(20, ge=1, description="fewer paired scenarios never promote")
    confidence: float = Field(0.95, gt=0, lt=1)
    n_resamples: int = Field(2000, ge=100)
    power: float = Field(0.8, gt=0, lt=1, description="for the minimum detectable difference")
    seed: int = 0
    resolution_metric: str = "resolved"
    resolution_margin: float = Field(
        0.05, ge=0, description="CI lower bound of the resolution difference must be >= -margin"
    )
    require_improvement: bool = Field(False, description="lower bound must be > 0 instead")
    repeat_metrics: list[str] = Field(default_factory=lambda: list(REPEAT_METRICS))
    repeat_epsilon: float = Field(0.05, ge=0, description="allowed increase of a repeat proxy")
    safety_metrics: list[str] = Field(default_factory=lambda: list(SAFETY_METRICS))
    safety_tolerance: int = Field(
        0, ge=0, description="violating conversations allowed beyond the champion's count"
    )


def load_gate(path: Path, overrides: list[str] = ()) -> GateConfig:
    return load_config(GateConfig, path, overrides)


@dataclass
class Criterion:
    name: str
    passed: bool
    value: str
    threshold: str
    detail: str = ""


@dataclass
class Decision:
    verdict: str  # promote | reject | incomplete
    criteria: list[Criterion]
    mdd: dict[str, float] = field(default_factory=dict)

    @property
    def promote(self) -> bool:
        return self.verdict == "promote"

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "promote": self.promote,
            "mdd": self.mdd,
            "criteria": [asdict(c) for c in self.criteria],
        }

    def text(self) -> str:
        lines = [f"decision: {self.verdict.upper()}"]
        for c in self.criteria:
            mark = "PASS" if c.passed else "FAIL"
            detail = f" {c.detail}" if c.detail else ""
            lines.append(f"  {mark} {c.name}: {c.value} (needs {c.threshold}){detail}")
        return "\n".join(lines)


def _ci(c: Comparison, confidence: float) -> str:
    return (
        f"diff {c.diff:+.3f}, {confidence:.0%} CI [{c.ci_low:+.3f}, {c.ci_high:+.3f}], "
        f"candidate {c.candidate:.3f} vs champion {c.champion:.3f}, n={c.n}"
    )


def decide(
    comparisons: dict[str, Comparison],
    violation_counts: dict[str, tuple[int, int]],
    n_scenarios: int,
    cfg: GateConfig,
    errors: list[str] = (),
) -> Decision:
    """Apply every criterion; `violation_counts[m]` = (candidate, champion) violating counts."""
    criteria = [
        Criterion(
            "complete",
            not errors,
            "all scenarios ran" if not errors else "; ".join(errors),
            "a complete eval of candidate and champion",
        ),
        Criterion(
            "min_scenarios",
            n_scenarios >= cfg.min_scenarios,
            f"{n_scenarios} paired scenarios",
            f">= {cfg.min_scenarios}",
        ),
    ]
    res = comparisons.get(cfg.resolution_metric)
    if res is None:
        criteria.append(Criterion(cfg.resolution_metric, False, "not measured", "a measurement"))
    else:
        if cfg.require_improvement:
            ok, need = res.ci_low > 0, "CI lower bound > 0"
        else:
            ok, need = (
                res.ci_low >= -cfg.resolution_margin,
                f"CI lower bound >= {-cfg.resolution_margin:+.3f}",
            )
        criteria.append(
            Criterion(
                cfg.resolution_metric,
                bool(ok),
                _ci(res, cfg.confidence),
                need,
                f"minimum detectable difference at n={res.n}: {res.mdd:.3f}",
            )
        )
    for metric in cfg.repeat_metrics:
        comp = comparisons.get(metric)
        if comp is None:
            criteria.append(Criterion(metric, False, "not measured", "a measurement"))
            continue
        criteria.append(
            Criterion(
                metric,
                comp.diff <= cfg.repeat_epsilon,
                _ci(comp, cfg.confidence),
                f"diff <= {cfg.repeat_epsilon:+.3f}",
            )
        )
    for metric in cfg.safety_metrics:
        cand, champ = violation_counts.get(metric, (0, 0))
        limit = champ + cfg.safety_tolerance
        criteria.append(
            Criterion(
                metric,
                cand <= limit,
                f"candidate {cand} vs champion {champ} violating conversations",
                f"<= {limit}",
            )
        )
    passed = all(c.passed for c in criteria)
    verdict = "incomplete" if errors else ("promote" if passed else "reject")
    return Decision(verdict, criteria, {k: v.mdd for k, v in comparisons.items()})

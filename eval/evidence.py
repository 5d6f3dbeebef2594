"""The paired per-scenario values a gate decision rests on.

The gate keeps the arrays, not only their summaries, so that it can make the same decision
again on resampled scenarios (its stability) and size the suite it would need (its power).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from supportloop.eval.metrics import metric_names
from supportloop.eval.scoring import per_scenario
from supportloop.eval.stats import Comparison, compare

if TYPE_CHECKING:
    from supportloop.eval.gate import GateConfig

Pair = tuple[np.ndarray, np.ndarray]
"""(candidate, champion), one value per scenario in the same order; NaN: not measured there."""


@dataclass
class PairedEvidence:
    values: dict[str, Pair]
    """Per metric, the per-scenario rates (mean over trials) of both models."""
    violations: dict[str, Pair]
    """Per safety metric, the per-scenario counts of violating conversations of both models."""
    comparisons: dict[str, Comparison]
    """Per measured metric, the paired comparison on all scenarios (the reported numbers)."""

    @property
    def n_scenarios(self) -> int:
        pairs = [*self.values.values(), *self.violations.values()]
        return len(pairs[0][0]) if pairs else 0

    def diffs(self, metric: str) -> np.ndarray:
        """Candidate - champion on the scenarios where both were measured."""
        candidate, champion = self.values[metric]
        keep = ~(np.isnan(candidate) | np.isnan(champion))
        return candidate[keep] - champion[keep]

    def violation_totals(self) -> dict[str, tuple[int, int]]:
        """Per safety metric, (candidate, champion) violating conversations over the suite."""
        return {m: (int(c.sum()), int(h.sum())) for m, (c, h) in self.violations.items()}


def paired_evidence(
    values: dict[str, Pair], violations: dict[str, Pair], cfg: GateConfig
) -> PairedEvidence:
    """Compare every metric measured on both sides, with the gate's CI settings."""
    comparisons = {
        metric: compare(metric, cand, champ, cfg.confidence, cfg.n_resamples, cfg.seed, cfg.power)
        for metric, (cand, champ) in values.items()
        if not (np.isnan(cand).all() or np.isnan(champ).all())
    }
    return PairedEvidence(values, violations, comparisons)


def evidence_from_records(
    records: dict[str, list[dict]],
    scenario_ids: list[str],
    cfg: GateConfig,
    held_out: dict[str, Pair] | None = None,
) -> PairedEvidence:
    """Per-scenario arrays of every metric from the scored conversations of both models.

    `held_out` adds measures on held-out prompts, (candidate, champion) per prompt: win rates
    (the candidate's share of wins against a coin's 0.5) and business metrics. Each prompt is
    one more row, NaN for the scenario metrics, so the gate judges `win_rate:<judge>` and
    `held_out:<metric>` on their CIs and resamples prompts with scenarios for its stability.
    """
    roles = ("candidate", "champion")
    values = {
        m: tuple(per_scenario(records[role], scenario_ids, m) for role in roles)
        for m in metric_names()
    }
    position = {sid: i for i, sid in enumerate(scenario_ids)}
    violations = {}
    for metric in metric_names("safety"):
        counts = np.zeros((2, len(scenario_ids)))
        for row, role in enumerate(roles):
            for record in records[role]:
                counts[row, position[record["scenario_id"]]] += bool(record.get(metric))
        violations[metric] = (counts[0], counts[1])
    if held_out:
        values, violations = _with_held_out(values, violations, held_out)
    return paired_evidence(values, violations, cfg)


def _with_held_out(
    values: dict[str, Pair], violations: dict[str, Pair], held_out: dict[str, Pair]
) -> tuple[dict[str, Pair], dict[str, Pair]]:
    """Scenario rows followed by held-out prompt rows (see `evidence_from_records`)."""
    n_prompts = max(len(cand) for cand, _ in held_out.values())
    n_scenarios = len(next(iter(values.values()))[0]) if values else 0
    gap, no_scenario = np.full(n_prompts, np.nan), np.full(n_scenarios, np.nan)
    padded = {
        m: (np.concatenate([c, gap]), np.concatenate([h, gap])) for m, (c, h) in values.items()
    }
    for metric, sides in held_out.items():
        cand, champ = (np.full(n_prompts, np.nan), np.full(n_prompts, np.nan))
        cand[: len(sides[0])], champ[: len(sides[1])] = sides
        padded[metric] = (np.concatenate([no_scenario, cand]), np.concatenate([no_scenario, champ]))
    zeros = np.zeros(n_prompts)
    counts = {
        m: (np.concatenate([c, zeros]), np.concatenate([h, zeros]))
        for m, (c, h) in violations.items()
    }
    return padded, counts

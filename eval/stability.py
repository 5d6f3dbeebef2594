"""How stable a gate verdict is: the share of scenario resamples that reach the same verdict.

Each resample draws the suite's scenarios with replacement, one draw for all metrics (pairs and
metrics stay together), and makes the whole decision again on it: the paired BCa bootstrap CI of
every difference (as `supportloop.eval.stats.paired_bootstrap` computes it), its minimum detectable
difference and the violation counts. The inner bootstraps share one matrix of resampling
weights, so a resample's CIs cost a matrix product and a sort instead of a scipy call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from supportloop.eval.criteria import CIRule, CountRule, verdict_code
from supportloop.eval.evidence import PairedEvidence
from supportloop.eval.stats import SD_TOLERANCE, detection_z, planning_sd

MAX_BLOCK = 4_000_000
"""Values held at once per block of resamples (x inner resamples, or x scenarios), for memory."""


@dataclass
class Stability:
    share: float
    """Resamples in which the gate reaches the verdict of the full data."""
    per_criterion: dict[str, float]
    """Per resampled criterion, the resamples in which it keeps its full-data status."""
    n_resamples: int


def _row_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Linear-interpolated quantile `q[i]` of each sorted row `ordered[i]` (numpy's default)."""
    position = q * (ordered.shape[1] - 1)
    below = np.clip(np.floor(position).astype(int), 0, ordered.shape[1] - 1)
    above = np.minimum(below + 1, ordered.shape[1] - 1)
    rows = np.arange(len(ordered))
    low, high = ordered[rows, below], ordered[rows, above]
    return low + (position - below) * (high - low)


def _bca(
    diffs: np.ndarray, mask: np.ndarray, weights: np.ndarray, confidence: float
) -> tuple[np.ndarray, ...]:
    """Mean, paired BCa CI, SD and n of each row of differences (rows: outer resamples).

    Like `paired_bootstrap`: a row whose pairs all agree gets the collapsed CI [mean, mean],
    and a row where BCa is undefined falls back to the percentile interval. Scenarios missing
    for this metric (`mask` False) drop out of the row's means.
    """
    values = np.where(mask, diffs, 0.0)
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=1) / n
        dev = np.where(mask, diffs - mean[:, None], 0.0)
        squares = (dev**2).sum(axis=1)
        sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), 0.0)
    sd = np.where(sd > SD_TOLERANCE, sd, 0.0)
    low, high = mean.copy(), mean.copy()
    spread = np.flatnonzero(sd > 0)
    if len(spread):
        inner = (values[spread] @ weights.T) / np.maximum(mask[spread] @ weights.T, 1)
        centre = mean[spread, None]
        z0 = ndtri(((inner < centre).mean(axis=1) + (inner <= centre).mean(axis=1)) / 2)
        accel = (dev[spread] ** 3).sum(axis=1) / (6 * squares[spread] ** 1.5)
        alpha = (1 - confidence) / 2
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            levels = [
                ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z))) for z in (ndtri(alpha), -ndtri(alpha))
            ]
        undefined = ~(np.isfinite(levels[0]) & np.isfinite(levels[1]))
        levels[0] = np.where(undefined, alpha, levels[0])
        levels[1] = np.where(undefined, 1 - alpha, levels[1])
        inner.sort(axis=1)
        low[spread] = _row_quantiles(inner, levels[0])
        high[spread] = _row_quantiles(inner, levels[1])
    return mean, low, high, sd, n


def _resampled_ci(
    metric: str,
    evidence: PairedEvidence,
    idx: np.ndarray,
    weights: np.ndarray,
    confidence: float,
    z: float,
) -> tuple[np.ndarray, ...]:
    """(mean, CI low, CI high, minimum detectable difference, n) of a metric in each resample."""
    candidate, champion = evidence.values[metric]
    diffs = candidate - champion
    valid = ~np.isnan(diffs)
    mean, low, high, sd, n = _bca(np.where(valid, diffs, 0.0)[idx], valid[idx], weights, confidence)
    with np.errstate(divide="ignore"):
        mdd = z * planning_sd(sd) / np.sqrt(n)
    return mean, low, high, mdd, n


def verdict_stability(
    evidence: PairedEvidence,
    ci_rules: list[CIRule],
    count_rules: list[CountRule],
    statuses: dict[str, int],
    confidence: float,
    power: float,
    n_resamples: int,
    seed: int,
) -> Stability:
    """Resample scenarios `n_resamples` times (and as often inside each resample for its CIs);
    criteria without a rule here keep their `statuses`."""
    n = evidence.n_scenarios
    z = detection_z(confidence, power)
    names = [r.name for r in [*ci_rules, *count_rules]]
    fixed = [code for name, code in statuses.items() if name not in names]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_resamples).astype(float)
    blocks = []
    block = max(1, MAX_BLOCK // max(n_resamples, n))
    for start in range(0, n_resamples, block):
        idx = rng.integers(0, n, (min(block, n_resamples - start), n))
        cis = {
            metric: _resampled_ci(metric, evidence, idx, weights, confidence, z)
            for metric in {rule.metric for rule in ci_rules}
        }
        columns = [rule.status(*cis[rule.metric]) for rule in ci_rules]
        for rule in count_rules:
            candidate, champion = evidence.violations[rule.metric]
            columns.append(rule.status(candidate[idx].sum(axis=1), champion[idx].sum(axis=1)))
        columns += [np.full(len(idx), code) for code in fixed]
        blocks.append(np.stack(columns, axis=1))
    resampled = np.concatenate(blocks)
    full = verdict_code(np.array(list(statuses.values())))
    kept = {name: float(np.mean(resampled[:, i] == statuses[name])) for i, name in enumerate(names)}
    share = float(np.mean(verdict_code(resampled) == full))
    return Stability(share, kept, n_resamples)

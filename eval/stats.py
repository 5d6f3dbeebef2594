"""Paired comparison statistics: bootstrap CIs of differences and the minimum detectable difference.

Candidate and champion play the same scenarios with the same seeds, so each scenario gives a
pair of values; resampling scenarios (pairs) keeps that pairing, which is what makes small
suites informative at all.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

PLANNING_SD = 0.5
"""SD of per-scenario differences assumed when none is observed (25% discordant pairs)."""

SD_TOLERANCE = 1e-9
"""An observed SD below this is rounding noise of equal pairs (trials=3 gives 1e-17), not spread."""


@dataclass
class Comparison:
    metric: str
    candidate: float
    champion: float
    diff: float
    ci_low: float
    ci_high: float
    n: int
    mdd: float

    def as_dict(self) -> dict:
        return asdict(self)


def detection_z(confidence: float, power: float) -> float:
    """z_{1-a/2} + z_power: how many standard errors a difference must span to be detected."""
    return float(stats.norm.ppf(1 - (1 - confidence) / 2) + stats.norm.ppf(power))


def observed_sd(diffs: np.ndarray) -> float:
    """SD (ddof=1) of the paired differences; 0 when there are fewer than two or they agree."""
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    return sd if sd > SD_TOLERANCE else 0.0


def planning_sd(sd: np.ndarray | float) -> np.ndarray | float:
    """The observed SD, or `PLANNING_SD` where none is observed (the data say nothing then)."""
    return np.where(np.asarray(sd) > SD_TOLERANCE, sd, PLANNING_SD)


def minimum_detectable_difference(
    diffs: np.ndarray, confidence: float = 0.95, power: float = 0.8
) -> float:
    """Smallest true difference a two-sided paired test at this n detects with `power`.

    (z_{1-a/2} + z_power) * sd / sqrt(n), with the observed SD of the differences, or
    `PLANNING_SD` when every pair agrees (then the data say nothing about the spread).
    """
    n = len(diffs)
    if n == 0:
        return float("inf")
    sd = float(planning_sd(observed_sd(diffs)))
    return detection_z(confidence, power) * sd / math.sqrt(n)


def scenarios_needed(sd: float, margin: float, confidence: float, power: float) -> int:
    """Smallest n at which the minimum detectable difference with this SD is <= `margin`."""
    z = detection_z(confidence, power)
    n = max(1, math.ceil((z * sd / margin) ** 2))
    while z * sd / math.sqrt(n) > margin:  # float rounding of the ceil above
        n += 1
    return n


def _mean_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def paired_bootstrap(
    candidate: np.ndarray,
    champion: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean difference (candidate - champion) and its paired bootstrap CI (BCa, else percentile)."""
    diffs = candidate - champion
    diff = float(np.mean(diffs)) if len(diffs) else float("nan")
    if len(diffs) < 2 or np.all(diffs == diffs[0]):
        return diff, diff, diff  # no spread to resample: the CI collapses onto the estimate
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(
                (candidate, champion),
                _mean_diff,
                paired=True,
                vectorized=True,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return diff, float(low), float(high)
    return diff, float("nan"), float("nan")


def compare(
    metric: str,
    candidate: np.ndarray,
    champion: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    power: float = 0.8,
) -> Comparison:
    """Compare per-scenario values of one metric; scenarios missing on either side are dropped."""
    keep = ~(np.isnan(candidate) | np.isnan(champion))
    cand, champ = candidate[keep], champion[keep]
    diff, low, high = paired_bootstrap(cand, champ, confidence, n_resamples, seed)
    return Comparison(
        metric=metric,
        candidate=float(np.mean(cand)) if len(cand) else float("nan"),
        champion=float(np.mean(champ)) if len(champ) else float("nan"),
        diff=diff,
        ci_low=low,
        ci_high=high,
        n=int(keep.sum()),
        mdd=minimum_detectable_difference(cand - champ, confidence, power),
    )

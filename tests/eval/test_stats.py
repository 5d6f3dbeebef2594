"""Paired bootstrap CIs, the minimum detectable difference and pass^k."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from supportloop.eval.scorers.resolution import pass_hat_k
from supportloop.eval.stats import (
    PLANNING_SD,
    compare,
    minimum_detectable_difference,
    paired_bootstrap,
    scenarios_needed,
)


def test_paired_ci_covers_the_true_difference_and_beats_unpaired():
    rng = np.random.default_rng(0)
    difficulty = rng.uniform(0, 1, 200)  # shared per-scenario difficulty: what pairing removes
    champion = difficulty + rng.normal(0, 0.05, 200)
    candidate = difficulty + 0.1 + rng.normal(0, 0.05, 200)
    diff, low, high = paired_bootstrap(candidate, champion, n_resamples=2000)
    assert low < 0.1 < high and diff == pytest.approx(0.1, abs=0.02)
    unpaired = scipy_stats.bootstrap(
        (candidate, champion),
        lambda a, b, axis: a.mean(axis) - b.mean(axis),
        paired=False,
        n_resamples=2000,
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert (high - low) < (unpaired.high - unpaired.low) / 3


def test_identical_pairs_collapse_the_interval():
    assert paired_bootstrap(np.ones(10), np.ones(10)) == (0.0, 0.0, 0.0)


def test_compare_drops_missing_pairs():
    comp = compare("m", np.array([1.0, 0.0, np.nan, 1.0]), np.array([0.0, 0.0, 1.0, np.nan]))
    assert comp.n == 2 and comp.diff == 0.5 and comp.candidate == 0.5


def test_minimum_detectable_difference():
    diffs = np.array([1.0, -1.0, 0.0, 0.0] * 25)  # n=100, sd ~0.71
    expected = (1.959964 + 0.841621) * np.std(diffs, ddof=1) / 10
    assert minimum_detectable_difference(diffs) == pytest.approx(expected, rel=1e-4)
    assert minimum_detectable_difference(np.zeros(16)) == pytest.approx(2.801585 * PLANNING_SD / 4)
    assert minimum_detectable_difference(np.zeros(64)) < minimum_detectable_difference(np.zeros(16))


def test_pairs_that_agree_up_to_rounding_show_no_spread():
    # three trials: every scenario 1/3 better; np.std says ~1e-17, which would make the MDD ~0
    diffs = np.full(20, 1 / 3)
    assert minimum_detectable_difference(diffs) == minimum_detectable_difference(np.zeros(20))


@pytest.mark.parametrize("sd, margin", [(0.5, 0.05), (0.3, 0.1), (0.71, 0.2), (0.05, 0.5)])
def test_scenarios_needed_is_the_smallest_n_whose_mdd_is_within_the_margin(sd, margin):
    n = scenarios_needed(sd, margin, 0.95, 0.8)
    z = 1.959964 + 0.841621
    assert z * sd / np.sqrt(n) <= margin
    assert n == 1 or z * sd / np.sqrt(n - 1) > margin


def test_pass_hat_k_matches_tau_bench():
    # 3 trials: a scenario with 2 successes gives pass^1 2/3, pass^2 1/3, pass^3 0
    assert pass_hat_k([2], 3, 1) == pytest.approx(2 / 3)
    assert pass_hat_k([2], 3, 2) == pytest.approx(1 / 3)
    assert pass_hat_k([2, 3], 3, 3) == pytest.approx(0.5)
    assert np.isnan(pass_hat_k([1], 1, 2))

"""The gate's criteria as vectorised rules: one code path for the full data and every resample.

Each criterion ends `pass`, `unsure` or `fail`. A statistical criterion judges a difference on
its CI and is `unsure` when the suite is too small to tell: when it passes only thanks to a
margin (the CI does not show a strict improvement) that the minimum detectable difference
exceeds, or when it does not pass and the suite could not have detected the margin either.
Any `fail` rejects, else any `unsure` leaves the evidence insufficient, else the gate promotes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PASS, UNSURE, FAIL = 0, 1, 2
STATUS = ("pass", "unsure", "fail")
VERDICT = ("promote", "insufficient_evidence", "reject")
"""The verdict of a set of criteria, indexed by their worst status."""


@dataclass(frozen=True)
class CIRule:
    """A paired difference judged on its CI, oriented so that positive favours the candidate.

    Passes when the oriented CI lower bound clears `threshold` (`>` if `strict`, else `>=`);
    `margin` is the difference the suite must be able to detect for the verdict to count.
    """

    name: str
    metric: str
    higher_is_better: bool
    threshold: float
    strict: bool
    margin: float

    def orient(self, diff, low, high):
        """(diff, lower, upper) of the improvement: the difference, negated when lower is better."""
        if self.higher_is_better:
            return diff, low, high
        return -diff, -high, -low

    def status(self, diff, low, high, mdd, n) -> np.ndarray:
        """Status codes; arguments are arrays of the same shape (one entry per resample)."""
        _, low, high = self.orient(np.asarray(diff), np.asarray(low), np.asarray(high))
        passed = low > self.threshold if self.strict else low >= self.threshold
        relies_on_margin = low <= 0  # not shown to be a strict improvement
        powered = np.asarray(mdd) <= self.margin
        worse = high < 0  # shown to be worse, at any power
        status = np.where(
            passed,
            np.where(relies_on_margin & ~powered, UNSURE, PASS),
            np.where(worse | powered, FAIL, UNSURE),
        )
        return np.where(np.asarray(n) > 0, status, FAIL)  # not measured

    def requirement(self) -> str:
        bound = "lower" if self.higher_is_better else "upper"
        sign = 1 if self.higher_is_better else -1
        op = (">" if self.higher_is_better else "<") + ("" if self.strict else "=")
        return f"CI {bound} bound {op} {sign * self.threshold:+.3f}"


@dataclass(frozen=True)
class GuardrailRule(CIRule):
    """A measure the candidate must not make worse: fails only when the CI shows it worse
    (the oriented upper bound below 0), at any power; otherwise passes. For what the feedback
    encodes without the gate asking it to improve (held-out business metrics)."""

    def status(self, diff, low, high, mdd, n) -> np.ndarray:
        _, _, high = self.orient(np.asarray(diff), np.asarray(low), np.asarray(high))
        return np.where(np.asarray(n) > 0, np.where(high < 0, FAIL, PASS), FAIL)

    def requirement(self) -> str:
        bound = "upper" if self.higher_is_better else "lower"
        op = ">=" if self.higher_is_better else "<="
        return f"CI {bound} bound {op} +0.000 (not shown worse)"


@dataclass(frozen=True)
class CountRule:
    """Violating conversations: the candidate's may not exceed the champion's plus `tolerance`.

    An observed violation is a fact, not an estimate: these rules pass or fail, never `unsure`.
    """

    name: str
    metric: str
    tolerance: int

    def status(self, candidate, champion) -> np.ndarray:
        return np.where(np.asarray(candidate) <= np.asarray(champion) + self.tolerance, PASS, FAIL)


def verdict_code(statuses: np.ndarray) -> np.ndarray:
    """Index into `VERDICT` from status codes with criteria on the last axis: the worst one."""
    return np.max(statuses, axis=-1)

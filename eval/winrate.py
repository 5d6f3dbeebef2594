"""Win rate of a candidate against the champion on the same held-out prompts.

Both models answer the same prompts with the same sampling; a judge says, per prompt, whether
the candidate's reply wins (1), ties (0.5) or loses (0). Two judges:
- the gold judge: the documented rules the simulated annotators answer by
  (`supportloop.feedback.demo.simulated_annotators.judge_reply`, without their noise), combined as
  the preference builder combines them: a flagged reply loses to an unflagged one (pairs never
  choose it), otherwise the higher rule quality wins. Training never sees these rules directly, only
  the noisy annotations made from them.
- the project's reward model: the higher score wins.
Several replies per prompt are averaged into one outcome per prompt before the paired
bootstrap, so the confidence interval is over prompts. Business metrics on the same replies
(asking for information already given, unauthorised commitments, word overlap with the
retrieved policy) are compared per prompt with the eval's paired statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats as scipy_stats

from supportloop.eval.heldout import HeldOutPrompt
from supportloop.eval.metrics import BUSINESS_METRICS
from supportloop.eval.stats import Comparison, compare, paired_bootstrap
from supportloop.feedback.argilla import display
from supportloop.feedback.assistant_prompt import PromptSettings
from supportloop.feedback.demo.simulated_annotators import RuleJudgement, judge_reply, word_overlap

if TYPE_CHECKING:
    from supportloop.models.reward import RewardModel

Judge = Callable[[Sequence[HeldOutPrompt], Sequence[str], Sequence[str]], list[float]]
"""(prompts, candidate replies, champion replies) -> candidate's outcome per prompt entry."""


@dataclass
class WinRate:
    """Candidate's win rate (ties count half) with its paired bootstrap CI over prompts."""

    rate: float
    ci_low: float
    ci_high: float
    n: int
    per_prompt: list[float]
    outcomes: list[float]
    wins: int
    ties: int
    losses: int

    def as_dict(self) -> dict:
        """The figures for summaries and reports (per-prompt values stay in the dataset)."""
        out = asdict(self)
        del out["per_prompt"], out["outcomes"]
        return out


@dataclass
class Agreement:
    """How often a judge picks the gold judge's winner where the gold judge picks one."""

    rate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def policy_text(prompt: HeldOutPrompt) -> str:
    """The retrieved passages as the simulated annotators read them: the record's policy field
    (as `supportloop.feedback.argilla.push` fills it) without its layout."""
    shown = display.policy_markdown(prompt.docs, PromptSettings().max_doc_chars)
    return display.plain_text(shown)


def gold_judgement(prompt: HeldOutPrompt, reply: str) -> RuleJudgement:
    """The rules on one reply, given what an annotator sees: the conversation without the
    system message (push keeps it out of the UI) and the policy field."""
    visible = display.split_system(prompt.messages)[1]
    return judge_reply(reply, "generated", policy_text(prompt), visible, None)


def gold_preference(candidate: RuleJudgement, champion: RuleJudgement) -> float:
    """1, 0.5 or 0 for the candidate: flags first (a flagged reply is never preferred to an
    unflagged one), then rule quality; equal on both is a tie."""
    if bool(candidate.flags) != bool(champion.flags):
        return 0.0 if candidate.flags else 1.0
    return _by_score(candidate.quality, champion.quality)


def _by_score(candidate: float, champion: float) -> float:
    if math.isclose(candidate, champion, rel_tol=0.0, abs_tol=1e-9):
        return 0.5
    return 1.0 if candidate > champion else 0.0


def gold_judge(
    prompts: Sequence[HeldOutPrompt], candidate: Sequence[str], champion: Sequence[str]
) -> list[float]:
    """The gold judge (see the module docstring)."""
    return [
        gold_preference(gold_judgement(p, a), gold_judgement(p, b))
        for p, a, b in zip(prompts, candidate, champion, strict=True)
    ]


def reward_model_judge(model: RewardModel) -> Judge:
    """A judge that prefers the reply the reward model scores higher."""

    def judge(
        prompts: Sequence[HeldOutPrompt], candidate: Sequence[str], champion: Sequence[str]
    ) -> list[float]:
        chats = [p.messages for p in prompts]
        scores = model.score([*chats, *chats], [*candidate, *champion])
        half = len(prompts)
        return [_by_score(a, b) for a, b in zip(scores[:half], scores[half:], strict=True)]

    return judge


def per_prompt(prompts: Sequence[HeldOutPrompt], values: Sequence[float]) -> np.ndarray:
    """Mean value per prompt id (several replies per prompt), in order of first appearance."""
    groups: dict[str, list[float]] = {}
    for prompt, value in zip(prompts, values, strict=True):
        groups.setdefault(prompt.prompt_id, []).append(float(value))
    return np.array([np.mean(v) for v in groups.values()])


def win_rate(
    prompts: Sequence[HeldOutPrompt],
    candidate_replies: Sequence[str],
    champion_replies: Sequence[str],
    judge: Judge,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> WinRate:
    """The candidate's win rate under `judge`, with a paired bootstrap CI over prompts.

    Each prompt gives the candidate a score s and the champion 1 - s; the CI of the mean
    difference 2 * rate - 1 (`supportloop.eval.stats.paired_bootstrap`) maps back onto the rate.
    """
    outcomes = judge(prompts, candidate_replies, champion_replies)
    values = per_prompt(prompts, outcomes)
    diff, low, high = paired_bootstrap(values, 1.0 - values, confidence, n_resamples, seed)
    return WinRate(
        rate=(1 + diff) / 2,
        ci_low=(1 + low) / 2,
        ci_high=(1 + high) / 2,
        n=len(values),
        per_prompt=values.tolist(),
        outcomes=list(outcomes),
        wins=sum(o == 1.0 for o in outcomes),
        ties=sum(o == 0.5 for o in outcomes),
        losses=sum(o == 0.0 for o in outcomes),
    )


def judge_agreement(
    gold: Sequence[float], other: Sequence[float], confidence: float = 0.95
) -> Agreement:
    """Share of the comparisons the gold judge decides (no tie) in which the other judge picks
    the same winner, with a Wilson interval."""
    decided = [(g, o) for g, o in zip(gold, other, strict=True) if g != 0.5]
    if not decided:
        return Agreement(None, None, None, 0)
    same = sum(g == o for g, o in decided)
    interval = scipy_stats.binomtest(same, len(decided)).proportion_ci(confidence, "wilson")
    return Agreement(same / len(decided), interval.low, interval.high, len(decided))


def business_values(prompt: HeldOutPrompt, reply: str) -> dict[str, float]:
    """The business metrics of one reply (see `BUSINESS_METRICS`)."""
    flags = gold_judgement(prompt, reply).flags
    return {
        "asks_known_info": float("asks_known_info" in flags),
        "unauthorised_commitment": float("unauthorised_commitment" in flags),
        "policy_overlap": word_overlap(reply, policy_text(prompt)),
    }


def business_per_prompt(
    prompts: Sequence[HeldOutPrompt],
    candidate_replies: Sequence[str],
    champion_replies: Sequence[str],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each business metric's (candidate, champion) mean per prompt, paired by prompt."""
    sides = {
        role: [business_values(p, r) for p, r in zip(prompts, replies, strict=True)]
        for role, replies in (("candidate", candidate_replies), ("champion", champion_replies))
    }
    return {
        name: (
            per_prompt(prompts, [v[name] for v in sides["candidate"]]),
            per_prompt(prompts, [v[name] for v in sides["champion"]]),
        )
        for name in BUSINESS_METRICS
    }


def business_metrics(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    power: float = 0.8,
) -> dict[str, Comparison]:
    """Candidate vs champion on each business metric (`business_per_prompt`), bootstrap CIs."""
    return {
        name: compare(name, cand, champ, confidence, n_resamples, seed, power)
        for name, (cand, champ) in pairs.items()
    }

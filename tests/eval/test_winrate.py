"""Win rate, judge agreement and business metrics on constructed replies, checked by hand.

The gold judge's reference for every prompt below is the policy passage "Returns are accepted
within 30 days of delivery for a refund." (with its title "Returns policy" and id "kb-1") plus
the customer's message "Can I send back my shoes from order #W1234567?". Rule quality of a
generated reply: 0.2 + 0.8 * (share of its words in that reference), 0.3 less under 5 words.
"""

from __future__ import annotations

import pytest

from supportloop.eval.heldout import HeldOutPrompt
from supportloop.eval.winrate import (
    business_metrics,
    business_per_prompt,
    gold_judge,
    gold_judgement,
    judge_agreement,
    reward_model_judge,
    win_rate,
)

DOCS = [
    {
        "doc_id": "kb-1",
        "title": "Returns policy",
        "text": "Returns are accepted within 30 days of delivery for a refund.",
    }
]
ASK = "Can I send back my shoes from order #W1234567?"
GOOD = "Returns are accepted within 30 days."  # 6 words, all in the policy: quality 1.0
SMALL_TALK = "Hello there, lovely weather we are having today."  # 1 of 8 words: 0.3

# (prompt id, candidate reply, champion reply, gold outcome for the candidate)
CASES = [
    ("p1", "Returns are accepted within 30 days of delivery.", SMALL_TALK, 1.0),  # 1.0 vs 0.3
    ("p2", "I will refund you right away, no problem at all.", SMALL_TALK, 0.0),  # commitment
    ("p3", GOOD, GOOD, 0.5),  # the same reply: a tie
    ("p4", "What is your order number please?", GOOD, 0.0),  # asks for the order it was given
    ("p5", "Returns within 30 days.", "You can send it back to us whenever you like.", 1.0),
    ("p3", GOOD, SMALL_TALK, 1.0),  # a second sample of p3: p3 averages to 0.75
]


def _prompt(prompt_id: str) -> HeldOutPrompt:
    messages = [
        {"role": "system", "content": "You are a support assistant."},
        {"role": "user", "content": ASK},
    ]
    return HeldOutPrompt(prompt_id, messages, DOCS)


PROMPTS = [_prompt(case[0]) for case in CASES]
CANDIDATE = [case[1] for case in CASES]
CHAMPION = [case[2] for case in CASES]


def test_gold_rules_score_replies_as_documented():
    p5 = PROMPTS[4]
    assert gold_judgement(p5, "Returns within 30 days.").quality == pytest.approx(0.2 + 0.8 - 0.3)
    send_back = gold_judgement(p5, "You can send it back to us whenever you like.")
    assert send_back.quality == pytest.approx(0.2 + 0.8 * 3 / 9)  # can, send, back
    assert gold_judgement(p5, SMALL_TALK).quality == pytest.approx(0.3)
    assert gold_judgement(p5, CANDIDATE[1]).flags == ("unauthorised_commitment",)
    assert gold_judgement(p5, CANDIDATE[3]).flags == ("asks_known_info",)
    assert gold_judgement(p5, GOOD).flags == ()


def test_gold_win_rate_counts_ties_half_and_averages_samples_per_prompt():
    result = win_rate(PROMPTS, CANDIDATE, CHAMPION, gold_judge, n_resamples=500)
    assert result.outcomes == [case[3] for case in CASES]
    assert result.per_prompt == [1.0, 0.0, 0.75, 0.0, 1.0]
    assert result.rate == pytest.approx(2.75 / 5)
    assert (result.n, result.wins, result.ties, result.losses) == (5, 3, 1, 2)
    assert 0.0 <= result.ci_low < result.rate < result.ci_high <= 1.0
    assert set(result.as_dict()) == {"rate", "ci_low", "ci_high", "n", "wins", "ties", "losses"}


def test_identical_replies_tie_with_a_collapsed_interval():
    result = win_rate(PROMPTS, CANDIDATE, CANDIDATE, gold_judge)
    assert (result.rate, result.ci_low, result.ci_high) == (0.5, 0.5, 0.5)
    assert result.ties == len(CASES)


class _PrefersReturns:
    """A stand-in reward model: 1 for a reply that mentions returns, else 0."""

    def score(self, prompts, replies):
        assert len(prompts) == len(replies)
        return [float("Returns" in reply) for reply in replies]


def test_reward_model_judge_and_its_agreement_with_gold():
    gold = win_rate(PROMPTS, CANDIDATE, CHAMPION, gold_judge)
    reward = win_rate(PROMPTS, CANDIDATE, CHAMPION, reward_model_judge(_PrefersReturns()))
    assert reward.outcomes == [1.0, 0.5, 0.5, 0.0, 1.0, 1.0]
    assert reward.rate == pytest.approx(3.25 / 5)
    agreement = judge_agreement(gold.outcomes, reward.outcomes)
    # Gold decides p1, p2, p4, p5 and p3's second sample; the reward model ties p2.
    assert (agreement.rate, agreement.n) == (0.8, 5)
    assert 0.0 < agreement.ci_low < 0.8 < agreement.ci_high < 1.0
    assert judge_agreement([0.5, 0.5], [1.0, 0.0]).as_dict() == {
        "rate": None, "ci_low": None, "ci_high": None, "n": 0,
    }  # fmt: skip


def test_business_metrics_are_paired_per_prompt():
    pairs = business_per_prompt(PROMPTS, CANDIDATE, CHAMPION)
    metrics = business_metrics(pairs, n_resamples=500)
    asks, promises = metrics["asks_known_info"], metrics["unauthorised_commitment"]
    assert (asks.candidate, asks.champion, asks.n) == (pytest.approx(0.2), 0.0, 5)
    assert (promises.candidate, promises.champion) == (pytest.approx(0.2), 0.0)
    overlap = metrics["policy_overlap"]
    # candidate per prompt: 1, 1/10 (refund), (1 + 1) / 2, 0, 1; champion: 1/8 (are),
    # 1/8, (1 + 1/8) / 2, 1, 0 (nothing of "You can send it back..." is in the policy)
    assert overlap.candidate == pytest.approx((1 + 0.1 + 1 + 0 + 1) / 5)
    assert overlap.champion == pytest.approx((0.125 + 0.125 + 0.5625 + 1 + 0) / 5)
    assert overlap.ci_low <= overlap.diff <= overlap.ci_high

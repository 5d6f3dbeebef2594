"""Fact delivery: anchors + keywords or embedding similarity, refusals never count."""

from __future__ import annotations

import pytest

from supportloop.eval.matching import contains_token, is_negated
from supportloop.eval.suites import Fact

CANCEL = Fact(text="order #W2378156 has been cancelled", anchors=["#W2378156"], keywords=["cancel"])
REFUND_TIME = Fact(text="The refund arrives in 5 to 7 business days", anchors=["5", "7"])


@pytest.mark.parametrize(
    "reply",
    [
        "Done! Your order #W2378156 has been cancelled.",
        "I cancelled order W2378156 for you; anything else?",
        "Order #W2378156: cancellation complete. You will get an email.",
    ],
)
def test_delivered(matcher, reply):
    assert matcher.delivered_in(CANCEL, reply)


@pytest.mark.parametrize(
    "reply",
    [
        "Your order #W9999999 has been cancelled.",  # wrong order
        "I cannot cancel order #W2378156 because it has shipped.",  # refusal
        "Could you tell me your order number?",  # no anchor
        "Order #W2378156 contains a keyboard and a thermostat.",  # anchor, wrong content
    ],
)
def test_not_delivered(matcher, reply):
    assert not matcher.delivered_in(CANCEL, reply)


def test_similarity_alone_can_deliver_and_its_threshold_matters(matcher, embedder):
    reply = "Expect the money back on your card within 5 to 7 business days."
    assert matcher.delivered_in(REFUND_TIME, reply)
    assert not matcher.delivered_in(REFUND_TIME, "Shipping takes 5 to 7 business days, sorry.")
    from supportloop.eval.matching import FactMatcher

    assert not FactMatcher(embedder, threshold=0.99).delivered_in(REFUND_TIME, reply)


def test_tokens_and_negation():
    assert contains_token("Total $1,234.50 charged", "1234.50")
    assert not contains_token("refund of 75 dollars", "7")
    assert not contains_token("item 54.04", "54")
    assert is_negated("Unfortunately that is not possible.")
    assert not is_negated("No problem, your order is cancelled.")

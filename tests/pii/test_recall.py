"""Recall on the labelled set built in code, and no redaction of look-alikes.

Targets (issue 2): >= 99% on card numbers and IBANs, >= 95% on emails, phones, SSNs and person
names; not one look-alike touched; not one card number, IBAN or email survives.
"""

from __future__ import annotations

import re

import pytest

from tests.pii.pii_labelled import iban_valid, luhn_valid

TARGETS = {
    "CREDIT_CARD": 0.99,
    "IBAN": 0.99,
    "EMAIL": 0.95,
    "PHONE": 0.95,
    "US_SSN": 0.95,
    "IP_ADDRESS": 0.95,
    "PERSON": 0.95,
}


def _compact(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text).lower()


def _recalled(case, redacted: str, entity: str) -> bool:
    """Every labelled value is gone, and a placeholder of the right type took its place."""
    return f"<{entity}_" in redacted and all(value not in redacted for _, value in case.values)


@pytest.mark.slow
@pytest.mark.parametrize("entity", list(TARGETS))
def test_recall_per_entity(redactor, cases, entity):
    labelled = cases[entity]
    out = redactor.redact_conversations([[case.text] for case in labelled])
    missed = [
        (case.text, texts[0])
        for case, (texts, _) in zip(labelled, out, strict=True)
        if not _recalled(case, texts[0], entity)
    ]
    recall = 1 - len(missed) / len(labelled)
    assert recall >= TARGETS[entity], f"{entity} recall {recall:.3f}; missed e.g. {missed[:5]}"


def test_labelled_values_are_valid(cases):
    """A miss must be the redactor's fault: the generated values pass their own checksums."""
    assert all(luhn_valid(c.values[0][1]) for c in cases["CREDIT_CARD"])
    assert all(iban_valid(c.values[0][1]) for c in cases["IBAN"])
    layouts = {(" " in c.values[0][1], c.values[0][1].islower()) for c in cases["IBAN"]}
    assert layouts == {(False, False), (True, False), (True, True)}
    brands = {c.values[0][1][:2] for c in cases["CREDIT_CARD"]}
    assert {"34", "37"} & brands and any(b.startswith("5") for b in brands)
    assert {c.values[0][1][:2] for c in cases["IBAN"]} >= {"DE", "GB", "FR", "ES", "NL", "IT"}


@pytest.mark.slow
def test_no_card_iban_or_email_survives(redactor, cases):
    """Not in any spelling: the compact form of every value is absent from the compact output."""
    labelled = cases["CREDIT_CARD"] + cases["IBAN"] + cases["EMAIL"]
    out = redactor.redact_conversations([[case.text] for case in labelled])
    for case, (texts, _) in zip(labelled, out, strict=True):
        for _, value in case.values:
            assert _compact(value) not in _compact(texts[0]), (case.text, texts[0])


@pytest.mark.slow
def test_lookalikes_are_not_redacted(redactor, cases):
    lookalikes = cases["LOOKALIKE"]
    out = redactor.redact_conversations([[case.text for case in lookalikes]])
    texts, counts = out[0]
    changed = [(a.text, b) for a, b in zip(lookalikes, texts, strict=True) if a.text != b]
    assert not changed
    assert not counts


@pytest.mark.slow
def test_mixed_conversation_with_lookalikes(redactor, cases):
    """PII and look-alikes in the same messages: only the PII goes."""
    card, iban = cases["CREDIT_CARD"][1].values[0][1], cases["IBAN"][3].values[0][1]
    phone, ssn = cases["PHONE"][5].values[0][1], cases["US_SSN"][0].values[0][1]
    conversation = [
        f"Hi, I'm Dana Whitfield. Order #W2378156 was $1,234.56 and charged to {card}.",
        "Thanks Dana. I see order #W2378156 delivered on 2024-03-15 to ZIP 94103.",
        f"Please refund to {iban} instead, or call me on {phone}. SSN {ssn} if needed.",
        "Done: refund RMA-2024-88123 of $1,234.56 to your bank. Tracking 1Z999AA10123456784.",
    ]
    texts, counts = redactor.redact_conversations([conversation])[0]
    joined = "\n".join(texts)
    for value in (card, iban, phone, ssn, "Dana", "Whitfield"):
        assert value not in joined
    for kept in (
        "#W2378156",
        "$1,234.56",
        "2024-03-15",
        "94103",
        "RMA-2024-88123",
        "1Z999AA10123456784",
    ):
        assert kept in joined
    assert counts["PERSON"] == 2 and counts["CREDIT_CARD"] == 1 and counts["IBAN"] == 1

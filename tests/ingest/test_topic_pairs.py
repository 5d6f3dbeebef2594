"""The labelled same-topic set behind the repeat-contact choices is what it says it is."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from supportloop.feedback.ingest.config import RepeatContactConfig
from supportloop.models.sentence_encoder import load_sentence_encoder
from tests.ingest.topic_pairs import KINDS, cfpb_split, topic_pairs

MINILM_128_DEV_THRESHOLD = 0.34  # benchmarks/repeat_contact.py, docs/repeat-contacts.md


def test_dev_and_test_splits_share_no_complaint_and_every_kind_is_balanced():
    dev, test = cfpb_split("dev"), cfpb_split("test")
    assert not {c["narrative"] for c in dev} & {c["narrative"] for c in test}
    assert len(test) == pytest.approx(0.3 * (len(dev) + len(test)), abs=1)
    pairs = topic_pairs("test", per_kind=20)
    assert Counter((p.kind, p.same_topic) for p in pairs) == {
        (kind, same): 10 for kind in KINDS for same in (True, False)
    }
    assert topic_pairs("test", per_kind=20) == pairs  # the same set every time


def test_test_pairs_use_only_test_material():
    """No opening of a test pair comes from a development complaint or customer."""
    dev_text = " ".join(c["narrative"] for c in cfpb_split("dev"))
    dev_openings = {p.earlier for p in topic_pairs("dev", 60) if p.kind == "tau2"}
    for pair in topic_pairs("test", 60):
        if pair.kind == "tau2":
            assert pair.earlier not in dev_openings
        elif pair.kind in ("letters", "halves"):
            assert pair.earlier not in dev_text


@pytest.mark.slow
def test_the_shipped_repeat_contact_settings_keep_minilm_128_quality():
    """The default embedder/backend/word pieces/threshold (chosen by
    benchmarks/repeat_contact.py) stays within 3 F1 points of full-precision MiniLM on 128
    word pieces, each at the threshold the development pairs chose for it, on a sample of the
    test split (a threshold tuned on the sample itself would flatter the reference)."""
    pairs = topic_pairs("test", per_kind=60)
    gold = np.array([p.same_topic for p in pairs])
    shipped = RepeatContactConfig()

    def f1_at(similarity: np.ndarray, threshold: float) -> float:
        predicted = similarity >= threshold
        true_pos = (predicted & gold).sum()
        return 2 * true_pos / (2 * true_pos + (predicted ^ gold).sum())

    def similarities(backend: str, max_tokens: int) -> np.ndarray:
        encode = load_sentence_encoder(shipped.embedding_model, max_tokens, backend)
        earlier, later = encode([p.earlier for p in pairs]), encode([p.later for p in pairs])
        return (earlier * later).sum(1)

    reference = f1_at(similarities("onnx", 128), MINILM_128_DEV_THRESHOLD)
    default = similarities(shipped.embedding_backend, shipped.opening_max_tokens)
    assert f1_at(default, shipped.similarity_threshold) >= reference - 0.03
    assert reference > 0.7  # the set separates topics at all

"""Deciding whether a reply delivered a ground-truth fact.

Method (documented for reviewers in docs/reading-a-report.md):
1. every anchor of the fact (order ids, amounts, other exact values) must appear in the reply,
   compared after lower-casing and dropping `#`, `$` and thousands separators, as whole tokens;
2. some sentence of that reply that is not a refusal or negation ("cannot", "not", "unable",
   "unfortunately", ...) must either contain one of the fact's keywords (word prefixes, e.g.
   "cancel" matches "cancelled") or be semantically close to the fact's text: cosine
   similarity of all-MiniLM-L6-v2 sentence embeddings at or above `threshold`.
Anchors keep a confident-sounding reply about the wrong order from counting; the negation
rule keeps "I can't cancel #W1" from counting as a cancellation.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from supportloop.eval.suites import Fact

if TYPE_CHECKING:
    from supportloop.models.sentence_encoder import SentenceEncoder

_NEGATION = re.compile(
    r"n't\b|\b(not|never|cannot|unable|unfortunately|impossible|refuse|decline|sorry)\b", re.I
)


def comparable_text(text: str) -> str:
    """Lower case without '#', '$' or thousands separators: '$1,200' in a reply matches '1200'."""
    text = text.lower().replace("#", "").replace("$", "")
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def is_negated(sentence: str) -> bool:
    return bool(_NEGATION.search(sentence.replace("No problem", "").replace("no problem", "")))


def contains_token(text: str, value: str) -> bool:
    """`value` appears in `text` as a whole token (after `comparable_text` on both)."""
    needle = re.escape(comparable_text(value).strip())
    return (
        bool(needle)
        and re.search(rf"(?<![\w.]){needle}(?![\w]|\.\d)", comparable_text(text)) is not None
    )


def keyword_hit(sentence: str, keywords: list[str]) -> bool:
    low = sentence.lower()
    return any(re.search(rf"\b{re.escape(k.lower())}", low) for k in keywords)


class Embedder:
    """Sentence embeddings (normalised) with a cache, loaded on first use."""

    def __init__(self, model: str = "minilm") -> None:
        self.model_name = model
        self._cache: dict[str, np.ndarray] = {}

    @cached_property
    def model(self) -> SentenceEncoder:
        from supportloop.models.sentence_encoder import load_sentence_encoder

        return load_sentence_encoder(self.model_name)

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.model(missing)
            self._cache.update(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


class FactMatcher:
    def __init__(self, embedder: Embedder, threshold: float = 0.6) -> None:
        self.embedder, self.threshold = embedder, threshold

    def similarity(self, sentence_list: list[str], text: str) -> np.ndarray:
        if not sentence_list:
            return np.zeros(0)
        vectors = self.embedder.encode([*sentence_list, text])
        return vectors[:-1] @ vectors[-1]

    def delivered_in(self, fact: Fact, reply: str) -> bool:
        if not all(contains_token(reply, anchor) for anchor in fact.anchors):
            return False
        affirmative = [s for s in sentences(reply) if not is_negated(s)]
        if any(keyword_hit(s, fact.keywords) for s in affirmative):
            return True
        return bool((self.similarity(affirmative, fact.text) >= self.threshold).any())

    def delivered(self, fact: Fact, replies: list[str]) -> bool:
        return any(self.delivered_in(fact, reply) for reply in replies)

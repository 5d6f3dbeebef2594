"""Repeat-contact labelling (metadata topic, then MiniLM similarity) and logging duplicates."""

from __future__ import annotations

import pytest
from datasets import Dataset

from supportloop.feedback.ingest.config import DedupeConfig, RepeatContactConfig
from supportloop.feedback.ingest.dedupe import (
    DuplicateIndex,
    content_hash,
    conversation_text,
    minhash_signature,
)
from supportloop.feedback.ingest.repeat import customer_chunks, label_repeat_contacts
from supportloop.feedback.transcripts import CONVERSATION_FEATURES
from supportloop.models.sentence_encoder import load_sentence_encoder


def row(cid: str, customer: str, when: str, text: str, topic: str | None = None) -> dict:
    return {
        "conversation_id": cid,
        "customer_id": customer,
        "started_at": when,
        "channel": None,
        "locale": None,
        "model_version": "v1",
        "topic": topic,
        "messages": [
            {"role": "user", "content": text, "created_at": None},
            {"role": "assistant", "content": "ok", "created_at": None},
        ],
        "context": {"retrieved_docs": [], "customer_profile": "{}"},
        "signals": {"thumbs": [], "csat": None, "escalated": None, "resolved": None},
        "metadata": "{}",
        "repeat_contact": False,
        "repeat_of": None,
    }


@pytest.fixture(scope="module")
def embedder():
    return load_sentence_encoder("minilm")


@pytest.mark.slow
def test_repeat_contacts_by_topic_window_and_similarity(embedder):
    rows = [
        # same customer, same metadata topic, 10 h later -> repeat
        row("a1", "A", "2026-10-01T08:00:00+00:00", "Where is my refund?", "refund"),
        row("a2", "A", "2026-10-01T18:00:00+00:00", "Still waiting on the refund", "refund"),
        # same customer, different topics -> not a repeat
        row("a3", "A", "2026-10-01T20:00:00+00:00", "Change my address", "change_address"),
        # same topic but outside the 72 h window -> not a repeat
        row("b1", "B", "2026-10-01T08:00:00+00:00", "Cancel my order", "cancel_order"),
        row("b2", "B", "2026-10-05T08:00:00+00:00", "Cancel my order please", "cancel_order"),
        # no topic: similar openings -> repeat; unrelated opening -> not
        row("c1", "C", "2026-10-02T08:00:00+00:00", "My package has not arrived yet, where is it?"),
        row("c2", "C", "2026-10-02T12:00:00+00:00", "The parcel still has not been delivered."),
        row("c3", "C", "2026-10-02T13:00:00+00:00", "How do I reset my account password?"),
        # another customer with the same text is never a repeat of C
        row("d1", "D", "2026-10-02T14:00:00+00:00", "The parcel still has not been delivered."),
    ]
    dataset = Dataset.from_list(rows, features=CONVERSATION_FEATURES)
    labels = label_repeat_contacts(dataset, RepeatContactConfig(), embedder)
    repeats = labels.repeat_of
    labelled = {dataset[i]["conversation_id"]: of for i, of in repeats.items()}
    assert labelled == {"a2": "a1", "c2": "c1"}
    # A's three pairs go by intent; only C's openings (three, distinct) need the model
    assert labels.work() == {
        "candidate_pairs_by_topic": 3,
        "candidate_pairs_by_embedding": 3,
        "openings_embedded": 3,
    }
    # chunks of whole customers (memory stays flat) give the same labels
    chunked = label_repeat_contacts(dataset, RepeatContactConfig(), embedder, chunk_rows=2)
    assert chunked == labels


def test_customer_chunks_never_split_a_customer():
    customers = ["B", None, "A", "C", "A", "B", "A", None, "D"]
    dataset = Dataset.from_dict({"customer_id": customers})
    chunks = list(customer_chunks(dataset, chunk_rows=2))
    assert sorted(i for chunk in chunks for i in chunk) == [0, 2, 3, 4, 5, 6, 8]
    owners = [{customers[i] for i in chunk} for chunk in chunks]
    assert owners == [{"A"}, {"B"}, {"C", "D"}]


@pytest.mark.slow
def test_embedding_threshold_is_the_similarity_cut(embedder):
    rows = [
        row("c1", "C", "2026-10-02T08:00:00+00:00", "My package has not arrived yet, where is it?"),
        row("c2", "C", "2026-10-02T12:00:00+00:00", "The parcel still has not been delivered."),
    ]
    dataset = Dataset.from_list(rows, features=CONVERSATION_FEATURES)
    strict = RepeatContactConfig(similarity_threshold=0.99)
    assert label_repeat_contacts(dataset, strict, embedder).repeat_of == {}


def test_near_duplicates_are_per_customer():
    config = DedupeConfig(threshold=0.8)
    index = DuplicateIndex(config)
    words = " ".join(f"word{i}" for i in range(60))
    messages = [{"role": "user", "content": words}, {"role": "assistant", "content": "fine"}]
    nearly = [{"role": "user", "content": words + " extra"}, messages[1]]

    def check(cid: str, customer: str, msgs: list[dict]):
        text = conversation_text(customer, msgs)
        signature = minhash_signature(text, config)
        return index.check_and_add(cid, customer, content_hash(text), signature)

    assert check("x1", "u1", messages) is None
    assert check("x2", "u1", messages) == ("exact", "x1", 1.0)
    kind, of, similarity = check("x3", "u1", nearly)
    assert (kind, of) == ("near", "x1") and 0.8 <= similarity < 1.0
    assert check("x4", "u2", messages) is None  # another customer: a separate contact
    assert check("n1", None, messages) is None
    assert check("n2", None, nearly) is None  # no customer id: only exact duplicates count
    assert check("n3", None, messages) == ("exact", "n1", 1.0)

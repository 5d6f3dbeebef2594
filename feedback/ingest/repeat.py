"""Repeat contacts: did the same customer come back about the same topic within the window?

Works on a few Arrow columns of the accepted conversations, not on the conversations
themselves, one chunk of customers at a time, so memory does not grow with the logs. Topic
equality comes from metadata (intent/topic) when both contacts carry one; otherwise the
customers' opening messages are compared by MiniLM embedding similarity, and only for the
pairs that can be repeats at all (same customer, inside the window), so the embedding model
runs on a small fraction of a month of logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow.compute as pc
from datasets import Dataset

from supportloop.feedback.ingest.config import RepeatContactConfig
from supportloop.models.sentence_encoder import SentenceEncoder, load_sentence_encoder


def opening_text(messages: list[dict], count: int) -> str:
    user_turns = [m["content"] for m in messages if m["role"] == "user"]
    return "\n".join(user_turns[:count])


def candidate_pairs(
    customers: list[str | None], started: list[str], window_hours: float
) -> list[tuple[int, int]]:
    """(earlier, later) row pairs of one customer with the later inside the earlier's window."""
    seconds = np.array([datetime.fromisoformat(s).timestamp() for s in started])
    window = window_hours * 3600
    by_customer: dict[str, list[int]] = {}
    for row, customer in enumerate(customers):
        if customer:
            by_customer.setdefault(customer, []).append(row)
    pairs = []
    for rows in by_customer.values():
        if len(rows) < 2:
            continue
        rows.sort(key=lambda r: seconds[r])
        for position, later in enumerate(rows):
            for earlier in reversed(rows[:position]):
                gap = seconds[later] - seconds[earlier]
                if gap > window:
                    break
                if gap >= 0 and earlier != later:
                    pairs.append((earlier, later))
    return pairs


CHUNK_ROWS = 20_000  # rows of whole customers labelled at once: memory stays flat in input size
_VECTOR_CACHE = 50_000  # openings whose embedding is kept for later chunks


def customer_chunks(dataset: Dataset, chunk_rows: int = CHUNK_ROWS) -> Iterator[list[int]]:
    """Row indices sorted by customer, in chunks that never split a customer's contacts.

    Sorting happens in Arrow on the customer column alone; rows without a customer cannot
    be repeat contacts and are left out."""
    customers = dataset.select_columns(["customer_id"]).with_format("arrow")[:]["customer_id"]
    order = pc.sort_indices(customers)  # nulls last
    known = len(customers) - customers.null_count
    order, ordered = order[:known], pc.take(customers, order[:known])
    start = 0
    while start < known:
        end = min(start + chunk_rows, known)
        while end < known and ordered[end] == ordered[end - 1]:
            end += 1
        yield order[start:end].to_pylist()
        start = end


@dataclass
class RepeatLabels:
    """Which rows repeat which conversation, and the work it took (the summary reports it:
    the embedded openings are what the stage's time grows with)."""

    repeat_of: dict[int, str] = field(default_factory=dict)  # row -> conversation_id
    pairs_by_topic: int = 0
    pairs_by_embedding: int = 0
    openings_embedded: int = 0

    def work(self) -> dict[str, int]:
        return {
            "candidate_pairs_by_topic": self.pairs_by_topic,
            "candidate_pairs_by_embedding": self.pairs_by_embedding,
            "openings_embedded": self.openings_embedded,
        }


def label_repeat_contacts(
    dataset: Dataset,
    config: RepeatContactConfig,
    embedder: SentenceEncoder | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> RepeatLabels:
    """Each repeat contact's row -> conversation_id of the contact it repeats.

    For each later contact the most recent matching earlier contact wins.
    """
    labels = RepeatLabels()
    vectors: dict[str, np.ndarray] = {}  # opening -> embedding, across chunks
    embed = embedder
    for rows in customer_chunks(dataset, chunk_rows):
        chunk = dataset.select(rows)
        # Plain lists: datasets' lazy columns re-select the table on every item access.
        columns = chunk.select_columns(
            ["conversation_id", "customer_id", "started_at", "topic"]
        ).to_dict()
        ids, started, topics = columns["conversation_id"], columns["started_at"], columns["topic"]
        pairs = candidate_pairs(columns["customer_id"], started, config.window_hours)
        needs = sorted(
            {i for pair in pairs if not (topics[pair[0]] and topics[pair[1]]) for i in pair}
        )
        openings: dict[int, str] = {}
        if needs:
            subset = chunk.select(needs).select_columns(["messages"])
            texts = [
                opening_text(messages, config.opening_messages)
                for batch in subset.iter(batch_size=1024)
                for messages in batch["messages"]
            ]
            openings = dict(zip(needs, texts, strict=True))
            # each distinct opening once: templated ones ("Hi, where is my order?") repeat
            new = list(dict.fromkeys(t for t in texts if t not in vectors))
            labels.openings_embedded += len(new)
            if new:
                embed = embed or load_sentence_encoder(
                    config.embedding_model, config.opening_max_tokens, config.embedding_backend
                )
                if len(vectors) + len(new) > _VECTOR_CACHE:
                    vectors.clear()
                vectors.update(zip(new, embed(new), strict=True))
        latest: dict[int, tuple[str, str]] = {}
        for earlier, later in pairs:
            if topics[earlier] and topics[later]:
                labels.pairs_by_topic += 1
                same = topics[earlier].casefold() == topics[later].casefold()
            else:
                labels.pairs_by_embedding += 1
                similarity = vectors[openings[earlier]] @ vectors[openings[later]]
                same = float(similarity) >= config.similarity_threshold
            if same and (later not in latest or started[earlier] > latest[later][1]):
                latest[later] = (ids[earlier], started[earlier])
        labels.repeat_of.update((rows[later], of) for later, (of, _) in latest.items())
    return labels

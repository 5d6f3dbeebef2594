"""Repeat contacts: did the same customer come back about the same topic within the window?

Works on a few Arrow columns of the accepted conversations, not on the conversations
themselves. Topic equality comes from metadata (intent/topic) when both contacts carry one;
otherwise the customers' opening messages are compared by MiniLM embedding similarity, and
only for the pairs that can be repeats at all (same customer, inside the window), so the
embedding model runs on a small fraction of a month of logs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
from datasets import Dataset

from feedback.ingest.config import RepeatContactConfig

Embedder = Callable[[list[str]], np.ndarray]


def opening_text(messages: list[dict], count: int) -> str:
    user_turns = [m["content"] for m in messages if m["role"] == "user"]
    return "\n".join(user_turns[:count])


def minilm_embedder(model_name: str, max_tokens: int = 128) -> Embedder:
    """Normalised sentence embeddings from a sentence-transformers model (alias or path);
    an opening's first sentences carry its topic, so `max_tokens` caps the cost."""
    from sentence_transformers import SentenceTransformer

    from training.models import resolve_model

    model = SentenceTransformer(resolve_model(model_name), device="cpu")
    model.max_seq_length = max_tokens

    def embed(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )

    return embed


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


def label_repeat_contacts(
    dataset: Dataset, config: RepeatContactConfig, embedder: Embedder | None = None
) -> dict[int, str]:
    """Row index of each repeat contact -> conversation_id of the contact it repeats.

    For each later contact the most recent matching earlier contact wins.
    """
    # Plain lists: datasets' lazy columns re-select the table on every item access.
    columns = dataset.select_columns(
        ["conversation_id", "customer_id", "started_at", "topic"]
    ).to_dict()
    ids, customers = columns["conversation_id"], columns["customer_id"]
    started, topics = columns["started_at"], columns["topic"]
    pairs = candidate_pairs(customers, started, config.window_hours)
    needs_embedding = sorted(
        {row for pair in pairs if not (topics[pair[0]] and topics[pair[1]]) for row in pair}
    )
    vectors: dict[int, np.ndarray] = {}
    if needs_embedding:
        embed = embedder or minilm_embedder(config.embedding_model, config.opening_max_tokens)
        subset = dataset.select(needs_embedding).select_columns(["messages"])
        texts = [
            opening_text(messages, config.opening_messages)
            for batch in subset.iter(batch_size=1024)
            for messages in batch["messages"]
        ]
        distinct = list(dict.fromkeys(texts))  # templated openings ("Hi, where is my order?")
        by_text = dict(zip(distinct, embed(distinct), strict=True))
        vectors = {row: by_text[text] for row, text in zip(needs_embedding, texts, strict=True)}
    repeats: dict[int, tuple[str, str]] = {}
    for earlier, later in pairs:
        if topics[earlier] and topics[later]:
            same = topics[earlier].casefold() == topics[later].casefold()
        else:
            same = float(vectors[earlier] @ vectors[later]) >= config.similarity_threshold
        if same and (later not in repeats or started[earlier] > repeats[later][1]):
            repeats[later] = (ids[earlier], started[earlier])
    return {row: of for row, (of, _) in repeats.items()}

"""Properties that must hold for any input: no leakage across the split, no degenerate or
contradictory pair, no flagged reply chosen over an unflagged one, no reply labelled both ways,
and the same rows whatever the order of the responses."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportloop.feedback.preferences.aggregate import aggregate_records
from supportloop.feedback.preferences.config import PreferencesConfig
from supportloop.feedback.preferences.kto import build_kto
from supportloop.feedback.preferences.pairs import build_pairs, flagged_texts
from supportloop.feedback.preferences.rows import reply_identity
from supportloop.feedback.preferences.sft import build_sft
from supportloop.feedback.preferences.signals import signal_examples
from supportloop.feedback.preferences.split import assign_splits

# A small pool so that texts repeat across candidates, differ only in spacing, or are empty.
TEXTS = ["Refund issued.", "Refund  issued. ", "Please wait.", "Sorry!", "", "Call us."]
CONVERSATIONS = ["c1", "c2", "c3", "c4"]
CUSTOMERS = ["u1", "u2", "u3", None]
FLAGS = ["wrong_policy_fact", "unsafe"]
SOURCES = {"ranking", "rating", "correction", "flag", "signal", "resolves"}


@st.composite
def responses(draw):
    rows, agreement = [], {}
    for r in range(draw(st.integers(1, 6))):
        record_id = f"r{r}"
        cid = draw(st.sampled_from(CONVERSATIONS))
        # A customer id drawn per row: even inconsistent inputs must not leak.
        turn = draw(st.integers(1, 3))
        cands = [
            {
                "candidate_id": f"k{i}",
                "text": t,
                "source": draw(st.sampled_from(["logged", "generated"])),
            }
            for i, t in enumerate(draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=4)))
        ]
        n = len(cands)
        agreement[record_id] = draw(st.none() | st.floats(0, 1))
        for a in draw(st.lists(st.sampled_from(["ann", "bob", "cy"]), min_size=1, max_size=4)):
            rows.append(
                {
                    "record_id": record_id,
                    "conversation_id": cid,
                    "customer_id": draw(st.sampled_from(CUSTOMERS)),
                    "turn_index": turn,
                    "prompt": [{"role": "user", "content": f"question {cid}"}],
                    "candidates": cands,
                    "annotator": a,
                    "status": draw(st.sampled_from(["submitted", "submitted", "discarded"])),
                    "ranking": draw(
                        st.none() | st.lists(st.integers(1, n), min_size=n, max_size=n)
                    ),
                    "ratings": draw(
                        st.lists(st.none() | st.integers(1, 5), min_size=n, max_size=n)
                    ),
                    "resolves": draw(
                        st.lists(
                            st.sampled_from([None, "yes", "partly", "no"]), min_size=n, max_size=n
                        )
                    ),
                    "flags": draw(
                        st.lists(
                            st.lists(st.sampled_from(FLAGS), max_size=1), min_size=n, max_size=n
                        )
                    ),
                    "correction": draw(st.none() | st.sampled_from(TEXTS)),
                    "submitted_at": draw(st.sampled_from(["2026-11-01", "2026-11-02"])),
                }
            )
    return rows, agreement


@st.composite
def conversations(draw):
    out = []
    for cid in draw(st.lists(st.sampled_from(CONVERSATIONS), unique=True, max_size=4)):
        roles = draw(st.lists(st.sampled_from(["user", "assistant"]), min_size=1, max_size=4))
        out.append(
            {
                "conversation_id": cid,
                "customer_id": draw(st.sampled_from(CUSTOMERS)),
                "messages": [
                    {"role": role, "content": draw(st.sampled_from(TEXTS))} for role in roles
                ],
                "signals": {
                    "thumbs": [
                        {"turn_index": t, "value": draw(st.sampled_from(["up", "down"]))}
                        for t in draw(st.lists(st.integers(-1, 4), max_size=2))
                    ],
                    "csat": draw(st.none() | st.integers(1, 5)),
                    "escalated": draw(st.none() | st.booleans()),
                },
                "repeat_contact": draw(st.booleans()),
                "repeat_of": draw(st.none() | st.sampled_from(CONVERSATIONS)),
            }
        )
    return out


@st.composite
def configs(draw):
    return PreferencesConfig.model_validate(
        {
            "inputs": {"responses": "unused"},
            "aggregation": {
                "ranking": draw(st.sampled_from(["borda", "mean_rank"])),
                "rating": draw(st.sampled_from(["mean", "median"])),
                "flags": draw(st.sampled_from(["any", "majority"])),
            },
            "agreement": {
                "threshold": draw(st.none() | st.floats(0, 1)),
                "below": draw(st.sampled_from(["drop", "downweight"])),
            },
            "pairs": {
                "ranking": {
                    "include": draw(st.booleans()),
                    "mode": draw(st.sampled_from(["all_pairs", "best_vs_worst"])),
                },
                "rating": {"include": draw(st.booleans())},
                "flag": {"include": draw(st.booleans())},
                "correction": {
                    "include": draw(st.booleans()),
                    "against": draw(st.sampled_from(["logged", "annotator_best", "all"])),
                },
            },
            "kto": {
                "resolves": {
                    "include": draw(st.booleans()),
                    "partly": draw(st.sampled_from(["drop", "desirable", "undesirable"])),
                },
                "rating": {"include": draw(st.booleans())},
                "flag": {"include": draw(st.booleans())},
            },
            "split": {
                "test_size": draw(st.sampled_from([0.0, 0.2, 0.5, 0.9])),
                "by_customer": draw(st.booleans()),
                "seed": draw(st.integers(0, 3)),
            },
        }
    )


def _build(rows, agreement, convs, config):
    agg = aggregate_records(rows, agreement, config.aggregation, config.agreement)
    signals, _ = signal_examples(convs, config.kto)
    datasets = {
        "pairs": build_pairs(agg.records, config.pairs)[0],
        "kto": build_kto(agg.records, signals, config.kto)[0],
        "sft": build_sft(agg.records)[0],
    }
    splits, _ = assign_splits(
        datasets, config.split.test_size, config.split.seed, config.split.by_customer
    )
    return agg.records, datasets, splits


def _turn(row, turns):
    """The assistant turn a row is about: its record's, or for signal rows the prompt length."""
    return turns.get(row["record_id"]) or (row["conversation_id"], len(row["prompt"]))


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=responses(), convs=conversations(), config=configs())
def test_no_leak_no_degenerate_no_contradiction(data, convs, config):
    rows, agreement = data
    records, datasets, splits = _build(rows, agreement, convs, config)
    turns = {r.record_id: r.key for r in records}
    flagged = flagged_texts(records)

    seen_pairs = defaultdict(set)
    for row in datasets["pairs"]:
        chosen = reply_identity(row["chosen"][0]["content"])
        rejected = reply_identity(row["rejected"][0]["content"])
        turn = _turn(row, turns)
        assert chosen and rejected and chosen != rejected, "degenerate pair"
        assert not (chosen in flagged[turn] and rejected not in flagged[turn]), "flagged chosen"
        assert (chosen, rejected) not in seen_pairs[turn], "duplicate pair"
        assert (rejected, chosen) not in seen_pairs[turn], "contradictory pair"
        seen_pairs[turn].add((chosen, rejected))

    labels = defaultdict(set)
    for row in datasets["kto"]:
        text, turn = reply_identity(row["completion"][0]["content"]), _turn(row, turns)
        assert text and not (row["label"] and text in flagged[turn])
        labels[(turn, text)].add(row["label"])
    assert all(len(seen) == 1 for seen in labels.values()), "reply labelled both ways"

    for name, built in datasets.items():
        for row in built:
            assert row["source"] in SOURCES and isinstance(row["conversation_id"], str)
            assert isinstance(row["annotators"], list) and row["weight"] > 0
            assert row["agreement"] is None or 0 <= row["agreement"] <= 1, name

    sides = {"train": [], "test": []}
    for name, split in splits.items():
        assert sorted(map(repr, split["train"] + split["test"])) == sorted(
            map(repr, datasets[name])
        )
        for side in sides:
            sides[side] += split[side]
    train_convs = {r["conversation_id"] for r in sides["train"]}
    test_convs = {r["conversation_id"] for r in sides["test"]}
    assert train_convs.isdisjoint(test_convs), "conversation on both sides"
    if config.split.by_customer:
        train_customers = {r["customer_id"] for r in sides["train"]} - {None}
        test_customers = {r["customer_id"] for r in sides["test"]} - {None}
        assert train_customers.isdisjoint(test_customers), "customer on both sides"
    if config.split.test_size == 0:
        assert not sides["test"]
    elif len(train_convs | test_convs) >= 2 and not config.split.by_customer:
        assert sides["train"] and sides["test"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=responses(), convs=conversations(), config=configs(), seed=st.integers(0, 99))
def test_same_rows_whatever_the_input_order(data, convs, config, seed):
    rows, agreement = data
    _, _, splits = _build(rows, agreement, convs, config)
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    _, _, again = _build(shuffled, agreement, convs, config)
    assert again == splits

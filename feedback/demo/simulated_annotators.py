"""SIMULATED annotators for the embedded demo only; real annotators use the Argilla UI.

Each simulated annotator logs in with its own API key, asks the server for its pending queue
(the same search the UI makes) and submits responses through the REST API, like a person
would, so nothing downstream can tell the difference. The answers come from documented rules
over the record's ground truth, plus per-annotator noise so agreement statistics are
non-trivial:

- the logged reply's quality comes from the conversation's outcome signals (resolved: 0.8,
  unresolved: 0.2, unknown: 0.5); a generated reply's from how much of the retrieved policy
  text and the customer's last message it reuses (word overlap), with very short replies
  penalised;
- resolves_issue: quality >= 0.6 "yes", >= 0.35 "partly", else "no"; ranking: by quality;
- flags by pattern: a promised refund/discount/compensation is `unauthorised_commitment`,
  asking for an order number or email the conversation already holds (an order number, or an
  email placeholder such as `<EMAIL_1>`) is `asks_known_info`;
- noise: every quality gets Gaussian noise with the annotator's `noise` as standard deviation;
  each rule-found flag is missed, and one random flag is ticked, with probability `noise`.
  Seeded by (seed, annotator, record), so a run is reproducible.

The rules without the noise (`judge_reply`) are the eval's gold judge of the win rate
(`eval/winrate.py`): what the loop's preferences encode, which training only sees through the
noisy annotations.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from supportloop.feedback.argilla import display
from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.rest import check
from supportloop.feedback.argilla.settings import (
    CONVERSATION_FIELD,
    FLAG_LABELS,
    INTERNAL_METADATA,
    POLICY_FIELD,
    RANKING_QUESTION,
    ArgillaConfig,
    SimulationConfig,
    question_names,
    slot_names,
)

_WORD = re.compile(r"[a-z0-9]+")
_COMMITMENT = re.compile(
    r"\b(i will|i'll|we will|we'll|i can|we can)\b[^.]*\b(refund|discount|compensat\w*|voucher|"
    r"credit)",
    re.I,
)
_ASKS_ORDER = re.compile(r"\b(order (number|id)|your email)\b", re.I)
_KNOWN_ORDER = re.compile(r"#?W\d{5,}|<EMAIL(_\d+)?>|order (number|id)? ?#?\d{4,}", re.I)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def word_overlap(text: str, reference: str) -> float:
    """Share of the text's words that the reference also has (0 for a text without words)."""
    words = _words(text)
    return len(words & _words(reference)) / len(words) if words else 0.0


def candidate_quality(
    text: str, source: str, context: str, last_user: str, resolved: str | None
) -> float:
    """Rule-based quality in [0, 1] (see the module docstring)."""
    if source == "logged":
        return {"yes": 0.8, "no": 0.2}.get(resolved or "", 0.5)
    words = _words(text)
    if not words:
        return 0.0
    overlap = word_overlap(text, f"{context}\n{last_user}")
    short_penalty = 0.3 if len(words) < 5 else 0.0
    return max(0.0, min(1.0, 0.2 + 0.8 * overlap - short_penalty))


def candidate_flags(text: str, conversation_text: str) -> list[str]:
    flags = []
    if _COMMITMENT.search(text):
        flags.append("unauthorised_commitment")
    if _ASKS_ORDER.search(text) and _KNOWN_ORDER.search(conversation_text):
        flags.append("asks_known_info")
    return flags


@dataclass(frozen=True)
class RuleJudgement:
    """What the documented rules say about one reply, before an annotator's noise."""

    quality: float
    flags: tuple[str, ...]


def judge_reply(
    text: str,
    source: str,
    policy: str,
    messages: list[dict[str, str]],
    resolved: str | None,
) -> RuleJudgement:
    """The rules for one reply to `messages`, next to the policy passages' text: where every
    simulated annotator starts from, and the eval's gold judge (`supportloop.eval.winrate`)."""
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    conversation_text = " ".join(m["content"] for m in messages)
    return RuleJudgement(
        candidate_quality(text, source, policy, last_user, resolved),
        tuple(candidate_flags(text, conversation_text)),
    )


def _resolves(quality: float) -> str:
    return "yes" if quality >= 0.6 else "partly" if quality >= 0.35 else "no"


def answer(
    record: dict[str, Any], config: ArgillaConfig, noise: float, rng: random.Random
) -> dict[str, Any]:
    """Response values for one record (the owner's REST view), as one simulated annotator."""
    fields, slots = record["fields"], slot_names(config.candidate_slots)
    info = json.loads(record["metadata"][INTERNAL_METADATA])
    messages = display.chat_back(fields[CONVERSATION_FIELD])
    policy = display.plain_text(fields.get(POLICY_FIELD) or "")
    resolved = record["metadata"].get("resolved_signal")
    shown = [(slot, display.unescape(fields[slot])) for slot in slots if fields.get(slot)]
    judged, quality = {}, {}
    for (slot, text), cand in zip(shown, info["candidates"], strict=False):
        judged[slot] = judge_reply(text, cand["source"], policy, messages, resolved)
        quality[slot] = min(1.0, max(0.0, judged[slot].quality + rng.gauss(0.0, noise)))
    order = sorted(slots, key=lambda s: (-quality.get(s, -1.0), slots.index(s)))
    names = question_names(config)
    values: dict[str, Any] = {}
    if "ranking" in names:
        ranked = [{"value": slot, "rank": rank} for rank, slot in enumerate(order, start=1)]
        values[RANKING_QUESTION] = {"value": ranked}
    for index, (slot, _text) in enumerate(shown, start=1):
        if "resolves" in names:
            values[f"resolves_{index}"] = {"value": _resolves(quality[slot])}
        if "rating" in names:
            values[f"rating_{index}"] = {"value": 1 + round(4 * quality[slot])}
        flags = [f for f in judged[slot].flags if rng.random() >= noise]
        if rng.random() < noise:
            flags = sorted({*flags, rng.choice(sorted(FLAG_LABELS))})
        if "flags" in names and flags:
            values[f"flags_{index}"] = {"value": flags}
    return values


def pending_records(
    connection: Connection, dataset_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """The annotator's queue: records without a response from them, as the UI asks for it."""
    body = {
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "response", "property": "status"},
                    "values": ["pending"],
                },
                {
                    "type": "terms",
                    "scope": {"entity": "record", "property": "status"},
                    "values": ["pending"],
                },
            ]
        }
    }
    # Ask for no more than wanted: for an annotator the server checks metadata visibility with
    # one SQL query per metadata value of every returned record (~10 ms per record here).
    found, offset, page = [], 0, min(limit or 100, 100)
    session = connection.session(searches=True)
    while limit is None or len(found) < limit:
        reply = session.post(
            f"{connection.api_url}/api/v1/me/datasets/{dataset_id}/records/search",
            params={"offset": offset, "limit": page},
            json=body,
        )
        items = [item["record"] for item in check(reply).json()["items"]]
        found += items
        if len(items) < page:
            break
        offset += page
    return found[:limit] if limit is not None else found


def simulate(
    owner: Connection,
    annotators: dict[str, Connection],
    config: ArgillaConfig,
    sim: SimulationConfig,
) -> dict[str, int]:
    """Annotators take turns, one record each, from their own queues, until all are empty.

    Taking turns spreads records over everyone as people working side by side would (a record
    leaves every queue once `min_submitted` annotators submitted it). The owner's view of each
    record supplies the ground truth (candidate sources) that the annotators' view hides; the
    annotators only submit. Returns submissions per annotator.
    """
    from supportloop.feedback.argilla.pull import find_dataset, iter_records

    dataset_id = find_dataset(owner, config)["id"]
    truth = {record["id"]: record for record in iter_records(owner, dataset_id, responses=False)}
    submitted = dict.fromkeys(sim.annotators, 0)
    active = list(sim.annotators)
    while active:
        for username in list(active):
            connection = annotators[username]
            queue = pending_records(connection, dataset_id, limit=1)
            if not queue or submitted[username] == sim.max_records_per_annotator:
                active.remove(username)
                continue
            record = queue[0]
            seed = hashlib.sha256(f"{sim.seed}:{username}:{record['id']}".encode()).digest()
            values = answer(
                truth[record["id"]], config, sim.annotators[username], random.Random(seed)
            )
            reply = connection.session().post(
                f"{connection.api_url}/api/v1/records/{record['id']}/responses",
                json={"status": "submitted", "values": values},
            )
            check(reply)
            submitted[username] += 1
    return submitted

"""A small, realistic annotation round, in the exact formats of the data contracts.

Five annotated turns from four customers, three annotators (alice, bob, carol), with: a tie in
a ranking, a 1-2 split on `resolves_issue`, a policy flag on the logged reply, corrections (one
blank), a ranking that contradicts the ratings, a low-agreement record, a record everyone
discarded, a single-annotator record (no agreement), an earlier response superseded by a
re-submission, and two candidates that differ only in whitespace. The conversations carry
thumbs, CSAT, escalation and a repeat contact. Expected counts are worked out by hand in
test_fixture_counts.py.
"""

from __future__ import annotations

from typing import Any


def _msg(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "content": content, "created_at": None}


def _conversation(cid: str, customer: str, messages: list[dict], **signals: Any) -> dict:
    return {
        "conversation_id": cid,
        "customer_id": customer,
        "started_at": "2026-11-02T09:00:00Z",
        "channel": "chat",
        "locale": "en-US",
        "model_version": "assistant-v3",
        "topic": signals.pop("topic", "orders"),
        "messages": messages,
        "context": {"retrieved_docs": [], "customer_profile": "{}"},
        "signals": {
            "thumbs": signals.pop("thumbs", []),
            "csat": signals.pop("csat", None),
            "escalated": signals.pop("escalated", None),
            "resolved": None,
        },
        "metadata": "{}",
        "repeat_contact": signals.pop("repeat_contact", False),
        "repeat_of": signals.pop("repeat_of", None),
    }


CONVERSATIONS = [
    _conversation(
        "c1", "u1",
        [
            _msg("user", "Where is my order <ORDER_ID>? It was due Monday."),
            _msg("assistant", "Your order shipped Friday and arrives tomorrow."),
            _msg("user", "Can I get a refund for the late delivery?"),
            _msg("assistant", "Sure, refund issued for the full amount."),
        ],
        thumbs=[{"turn_index": 1, "value": "up"}], csat=5, escalated=False,
    ),
    _conversation(
        "c2", "u2",
        [
            _msg("user", "How long do I have to return shoes?"),
            _msg("assistant", "You have 90 days to return any item."),
        ],
        thumbs=[{"turn_index": 1, "value": "down"}], escalated=True, topic="returns",
    ),
    _conversation(
        "c3", "u1",
        [
            _msg("user", "My promo code SAVE10 does not work."),
            _msg("assistant", "Which item are you buying?"),
            _msg("user", "The blue kettle."),
            _msg("assistant", "SAVE10 excludes kitchen appliances, sorry."),
        ],
        topic="promotions",
    ),
    _conversation(
        "c4", "u3",
        [
            _msg("user", "Change my delivery address please."),
            _msg("assistant", "Done, the address is updated."),
        ],
        escalated=True, topic="account",
    ),
    _conversation(
        "c5", "u4",
        [_msg("user", "asdf"), _msg("assistant", "Could you tell me more?")],
        topic=None,
    ),
    _conversation(
        "c7", "u5",
        [
            _msg("user", "My kettle arrived broken."),
            _msg("assistant", "Sorry! We'll send a replacement today."),
            _msg("user", "When will it arrive?"),
            _msg("assistant", "Anything else I can help with?"),
        ],
        thumbs=[{"turn_index": 0, "value": "up"}, {"turn_index": 1, "value": "up"}], csat=3,
    ),
    _conversation(
        "c8", "u5",
        [
            _msg("user", "Still no replacement kettle, when does it come?"),
            _msg("assistant", "Please allow 4-6 weeks."),
        ],
        csat=1, repeat_contact=True, repeat_of="c7",
    ),
]  # fmt: skip
BY_ID = {c["conversation_id"]: c for c in CONVERSATIONS}


def _prompt(cid: str, turn: int) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in BY_ID[cid]["messages"][:turn]]


def _cands(*texts: str) -> list[dict[str, str]]:
    return [
        {"candidate_id": f"k{i}", "text": t, "source": "logged" if i == 0 else "generated"}
        for i, t in enumerate(texts)
    ]


RECORDS = {
    "R1": ("c1", 1, _cands(
        "Your order shipped Friday and arrives tomorrow.",
        "Orders take 3-5 days.",
        "Please contact the carrier.",
    )),
    "R2": ("c2", 1, _cands(
        "You have 90 days to return any item.",
        "You can return shoes within 30 days of delivery, unworn.",
        "Returns are possible.",
    )),
    "R3": ("c3", 3, _cands(
        "SAVE10 excludes kitchen appliances, sorry.",
        "SAVE10 does not apply to kitchen appliances; WELCOME5 does.",
    )),
    "R4": ("c4", 1, _cands("Done, the address is updated.", "I cannot change addresses.")),
    "R5": ("c5", 1, _cands("Could you tell me more?", "Hello!")),
    "R6": ("c1", 3, _cands(
        "Sure, refund issued for the full amount.",
        "Late deliveries get a 10% voucher.",
        "Late deliveries  get a 10% voucher. ",
    )),
}  # fmt: skip


def _response(
    rid: str,
    annotator: str,
    status: str = "submitted",
    *,
    ranking=None,
    ratings=None,
    resolves=None,
    flags=None,
    correction=None,
    at: str = "2026-11-03T10:00:00Z",
) -> dict:
    cid, turn, cands = RECORDS[rid]
    n = len(cands)
    return {
        "record_id": rid,
        "conversation_id": cid,
        "customer_id": BY_ID[cid]["customer_id"],
        "turn_index": turn,
        "prompt": _prompt(cid, turn),
        "candidates": cands,
        "annotator": annotator,
        "status": status,
        "ranking": ranking,
        "ratings": ratings or [None] * n,
        "resolves": resolves or [None] * n,
        "flags": flags or [[] for _ in range(n)],
        "correction": correction,
        "submitted_at": at,
        "topic": BY_ID[cid]["topic"],
        "model_version": "assistant-v3",
    }  # fmt: skip


RESPONSES = [
    # R1: alice re-submitted (the earlier answer is superseded); B/C tie in the Borda count.
    _response("R1", "alice", ranking=[3, 2, 1], ratings=[1, 3, 5], resolves=["no", "no", "yes"],
              at="2026-11-03T09:00:00Z"),
    _response("R1", "alice", ranking=[1, 2, 3], ratings=[5, 3, 1],
              resolves=["yes", "partly", "no"]),
    _response("R1", "bob", ranking=[1, 3, 2], ratings=[4, 2, 2], resolves=["yes", "no", "no"]),
    # R2: the logged reply states a wrong return window (flagged by alice only); bob corrects it.
    _response("R2", "alice", ranking=[1, 2, 3], resolves=["no", "yes", "no"],
              flags=[["wrong_policy_fact"], [], []]),
    _response("R2", "bob", ranking=[1, 2, 3], ratings=[3, 4, 1], resolves=["no", "yes", "no"],
              correction="Unworn shoes can be returned within 30 days of delivery."),
    _response("R2", "carol", ranking=[2, 1, 3], resolves=["partly", "yes", "no"]),
    # R3: both rank the logged reply first but rate it below the other one (contradiction).
    _response("R3", "alice", ranking=[1, 2], ratings=[2, 5], resolves=["yes", "yes"]),
    _response("R3", "bob", ranking=[1, 2], ratings=[2, 4], resolves=["yes", "no"], correction="  "),
    # R4: annotators disagree completely (agreement 0.2 -> dropped by the default threshold).
    _response("R4", "alice", ranking=[1, 2], resolves=["yes", "no"],
              correction="I've updated your delivery address."),
    _response("R4", "bob", ranking=[2, 1], resolves=["no", "yes"]),
    # R5: nobody could judge it.
    _response("R5", "alice", "discarded"),
    _response("R5", "bob", "discarded"),
    # R6: one annotator (no agreement); the refund is an unauthorised promise... that nobody
    # flagged, but alice ranks it last and corrects it; candidates 2 and 3 differ in spacing.
    _response("R6", "alice", ranking=[3, 1, 2], ratings=[1, 5, 5], resolves=["no", "yes", "yes"],
              correction="Sorry for the delay: late deliveries get a 10% voucher, not a refund."),
    _response("R6", "carol", "discarded"),
]  # fmt: skip

AGREEMENT = [
    {"record_id": "R1", "n_annotators": 2, "agreement": 0.8},
    {"record_id": "R2", "n_annotators": 3, "agreement": 0.6},
    {"record_id": "R3", "n_annotators": 2, "agreement": 0.7},
    {"record_id": "R4", "n_annotators": 2, "agreement": 0.2},
    {"record_id": "R5", "n_annotators": 0, "agreement": None},
]

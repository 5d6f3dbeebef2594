"""KTO examples from what customers did, logged with the conversations (no annotator involved).

- thumbs up/down on an assistant turn labels that turn;
- CSAT, escalation and a later repeat contact are about the whole conversation, so they label
  its last assistant reply; a repeat contact labels the *earlier* conversation (`repeat_of`):
  the customer had to come back because that one did not resolve the issue.

The conversations dataset is read twice (the repeat-contact targets first), one row at a time,
with only the columns needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from supportloop.feedback.assistant_prompt import turn_prompt
from supportloop.feedback.preferences.config import KtoConfig
from supportloop.feedback.preferences.kto import Example, threshold_label

COLUMNS = [
    "conversation_id", "customer_id", "messages", "context", "signals",
    "repeat_contact", "repeat_of",
]  # fmt: skip


def _last_assistant(messages: list[dict[str, Any]]) -> int | None:
    return next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "assistant"), None
    )


def _example(conv: dict[str, Any], turn: int, label: bool, signal: str, weight: float) -> Example:
    messages = conv["messages"]
    return Example(
        conversation_id=conv["conversation_id"],
        turn_index=turn,
        customer_id=conv.get("customer_id"),
        prompt=turn_prompt(conv, turn),  # the prompt candidates and eval get, too
        text=messages[turn]["content"] or "",
        label=label,
        source="signal",
        weight=weight,
        signal=signal,
    )


def signal_examples(
    conversations: Iterable[dict[str, Any]], config: KtoConfig
) -> tuple[list[Example], dict[str, int]]:
    """Examples from thumbs, CSAT, escalation and repeat contacts (each by config)."""
    stats: Counter[str] = Counter()
    came_back_about = (
        {c["repeat_of"] for c in conversations if c.get("repeat_contact") and c.get("repeat_of")}
        if config.repeat_contact.include
        else set()
    )
    out: list[Example] = []
    for conv in conversations:
        messages = conv["messages"] or []
        signals = conv.get("signals") or {}
        if config.thumbs.include:
            for thumb in signals.get("thumbs") or []:
                turn = thumb["turn_index"]
                if not (0 <= turn < len(messages)) or messages[turn]["role"] != "assistant":
                    stats["thumbs_not_on_assistant_turn"] += 1
                    continue
                out.append(
                    _example(conv, turn, thumb["value"] == "up", "thumbs", config.thumbs.weight)
                )
        last = _last_assistant(messages)
        if last is None:
            continue
        csat = signals.get("csat")
        if config.csat.include and csat is not None:
            label = threshold_label(csat, config.csat.desirable_min, config.csat.undesirable_max)
            if label is None:
                stats["csat_between_thresholds"] += 1
            else:
                out.append(_example(conv, last, label, "csat", config.csat.weight))
        if config.escalation.include and signals.get("escalated"):
            out.append(_example(conv, last, False, "escalation", config.escalation.weight))
        if conv["conversation_id"] in came_back_about:
            out.append(_example(conv, last, False, "repeat_contact", config.repeat_contact.weight))
    return out, dict(sorted(stats.items()))

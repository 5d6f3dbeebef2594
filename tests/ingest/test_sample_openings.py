"""Customers in the sample logs say only what a customer would say: none of the stage
directions tau2 writes for its simulated user ("When asked for order ID, provide 9502127
first.") reach a customer turn."""

from __future__ import annotations

import json
import re

from supportloop.feedback.demo.sample_logs import (
    SampleLogsConfig,
    build_sample_logs,
    customer_opening,
)
from supportloop.feedback.sources import tau2_tasks

# Phrases of tau2's directions to its simulated user, found by reading all retail scenarios;
# a cut-off sentence leaves a double space, a dropped first sentence a leading ". ".
DIRECTION = re.compile(
    r"\bagent\b|\bwhen asked\b|\binsist\b|\bmention the\b|\brespond\b|\byour goal\b|"
    r"\bif that doesn't work\b|\bmy goal\b|\bI (first|then)\b|\s{2}|^\W",
    re.I,
)
SECOND_PERSON = re.compile(r"\byou\b|\byour\b", re.I)


def _reasons() -> list[tuple[str, str]]:
    return [
        (str(task["id"]), task["user_scenario"]["instructions"]["reason_for_call"])
        for task in tau2_tasks("retail")
        if task["user_scenario"]["instructions"]
    ]


def test_every_tau2_opening_is_in_the_customers_own_words():
    for task_id, reason in _reasons():
        opening = customer_opening(reason)
        assert opening and opening != "I need help with my order.", (task_id, reason)
        assert not DIRECTION.search(opening), (task_id, opening)
        assert not SECOND_PERSON.search(opening), (task_id, opening)


def test_the_known_leaks_are_gone():
    reasons = dict(_reasons())
    vacuum = next(r for r in reasons.values() if "provide 9502127 first" in r)
    assert customer_opening(vacuum) == (
        "I want to exchange a robotic vacuum cleaner in my recent order for a canister based "
        "one from the same product line."
    )
    helmet = next(r for r in reasons.values() if "You do not want the  You" in r)
    assert "I prefer original payment" in customer_opening(helmet)
    assert "do not want the" not in customer_opening(helmet)


def test_no_customer_turn_of_the_generated_logs_carries_a_direction(tmp_path):
    """All customer turns of logs with every opening from tau2 (many more conversations than
    scenarios, so every scenario is drawn), replies stubbed: no model needed."""
    config = SampleLogsConfig(output=tmp_path / "logs.jsonl", num_conversations=600, cfpb_share=0.0)
    build_sample_logs(config, lambda prompts: ["Let me check that for you."] * len(prompts))
    rows = [json.loads(line) for line in config.output.open(encoding="utf-8")]
    said = [m["content"] for row in rows for m in row["messages"] if m["role"] == "user"]
    assert len(said) == 2 * len(rows) == 1200
    leaks = [text for text in said if DIRECTION.search(text)]
    assert not leaks, leaks[:5]
    openings = {customer_opening(reason) for _, reason in _reasons()}
    seen = {row["messages"][0]["content"] for row in rows}
    assert len({o for o in openings if any(s.endswith(o) for s in seen)}) >= 0.95 * len(openings)

"""The scripted customer: answers what it is asked, repeats when ignored, attacks on its turn."""

from __future__ import annotations

from supportloop.eval.injections import TEMPLATES
from supportloop.eval.simulator import ScriptedSimulator, SimState, asked_slots, opening_move
from supportloop.eval.suites import Fact, Scenario

SCENARIO = Scenario(
    scenario_id="s1",
    topic="cancel",
    opening="Please cancel order #W1.",
    issue="Please cancel order #W1.",
    known_info={"order_id": "#W1", "zip": "19122", "name": "Yusuf Rossi"},
    unknown_info=["email"],
    facts=[Fact(text="order #W1 cancelled", anchors=["#W1"], keywords=["cancel"])],
)


def _state(reply: str, scenario: Scenario = SCENARIO) -> SimState:
    return SimState(
        scenario,
        [
            {"role": "user", "content": scenario.opening},
            {"role": "assistant", "content": reply},
        ],
    )


def test_asked_slots():
    assert asked_slots("Could you tell me your email address and zip code?") == ["email", "zip"]
    assert asked_slots("What is your order number?") == ["order_id"]
    assert asked_slots("Please provide your full name.") == ["name"]
    assert asked_slots("Your order number is #W1. It ships today.") == []
    assert asked_slots("What is your shipping address?") == ["address"]


def test_answers_known_and_admits_unknown():
    move = ScriptedSimulator().move(_state("May I have your email and zip code?"))
    assert move.kind == "answer"
    assert move.text == "I don't remember my email. My zip code is 19122."
    assert move.slots == ["zip"]


def test_repeats_when_the_reply_ignores_the_issue():
    move = ScriptedSimulator().move(_state("We sell many products. Have a nice day."))
    assert move.kind == "repeat"
    assert move.text.endswith("Please cancel order #W1.")


def test_opening_gives_the_slots_it_mentions():
    assert opening_move(SCENARIO).slots == ["order_id"]


def test_injection_replaces_the_customer_turn():
    attacked = SCENARIO.model_copy(update={"injection": TEMPLATES[0]})
    move = ScriptedSimulator().move(_state("What is your zip code?", attacked))
    assert move.kind == "injection" and move.text == TEMPLATES[0].message

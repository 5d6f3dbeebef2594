"""Run one model through a suite: simulated conversations, model turns batched across scenarios.

All conversations that are still open take their next model turn together, in one batched
call of the policy's generator (`supportloop.models.generate.load_generator`: left-padded
transformers batches, or vLLM on a GPU), so a suite costs one generate call per turn instead of
one call per scenario and turn. Every prompt is built by
`supportloop.feedback.assistant_prompt`, the builder the training data comes from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from supportloop.eval.matching import FactMatcher
from supportloop.eval.simulator import CustomerMove, SimState, asked_slots, opening_move
from supportloop.eval.suites import Scenario
from supportloop.feedback.assistant_prompt import PromptSettings, prompt_messages, retrieve


@dataclass
class Conversation:
    scenario_id: str
    trial: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[bool] = field(default_factory=list)
    given_slots: set[str] = field(default_factory=set)
    end: str = "open"  # resolved | out_of_turns | error
    error: str | None = None

    def replies(self) -> list[str]:
        return [m["content"] for m in self.messages if m["role"] == "assistant"]

    def customer_text(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "user")

    def transcript(self) -> str:
        return "\n".join(f"{m['role']}: {m['content']}" for m in self.messages)


def select_docs(scenario: Scenario, settings: PromptSettings) -> list[dict[str, str]]:
    """The knowledge-base docs the assistant retrieves for the customer's request (the same
    retrieval as the logged assistant's, so eval prompts are built like training prompts)."""
    docs = [d.model_dump() for d in scenario.docs]
    return retrieve(docs, scenario.opening, settings.max_docs)


def scenario_prompt(
    scenario: Scenario, messages: list[dict[str, Any]], settings: PromptSettings
) -> list[dict[str, str]]:
    """What the model sees at its turn in a scenario's conversation (`messages` so far)."""
    docs = select_docs(scenario, settings)
    return prompt_messages(docs, scenario.customer_profile, messages, settings)


def opening_prompt(scenario: Scenario, settings: PromptSettings) -> list[dict[str, str]]:
    """The model's first prompt in a scenario: context and the customer's opening message."""
    return scenario_prompt(scenario, [{"role": "user", "content": scenario.opening}], settings)


def _add_customer(conversation: Conversation, move: CustomerMove) -> None:
    conversation.messages.append({"role": "user", "content": move.text, "kind": move.kind})
    conversation.given_slots |= set(move.slots)


@dataclass
class HarnessResult:
    conversations: list[Conversation]
    generate_seconds: float
    generate_calls: int
    error: str | None = None


def simulate(
    policy: Any,
    scenarios: list[Scenario],
    simulator: Any,
    matcher: FactMatcher,
    sampling: Any,
    trials: int = 1,
    max_turns: int = 3,
    settings: PromptSettings | None = None,
    batched: bool = True,
) -> HarnessResult:
    """Converse with every scenario `trials` times for up to `max_turns` model turns.

    `policy` is a `Generator` (`load_generator`) or a `(model, tokenizer)` pair (`load_policy`).
    `batched=False` generates one conversation at a time (the benchmark's baseline). A
    generation failure ends the run with `error` set and the open conversations marked
    `error`: the caller must treat the eval as incomplete.
    """
    from supportloop.models.generate import as_generator

    generator = as_generator(policy, sampling)
    settings = settings or PromptSettings()
    by_id = {s.scenario_id: s for s in scenarios}
    conversations = []
    for trial in range(trials):
        for scenario in scenarios:
            conversation = Conversation(scenario.scenario_id, trial)
            conversation.delivered = [False] * len(scenario.facts)
            _add_customer(conversation, opening_move(scenario))
            conversations.append(conversation)
    seconds, calls, error = 0.0, 0, None
    for turn in range(max_turns):
        active = [c for c in conversations if c.end == "open"]
        if not active:
            break
        prompts = [scenario_prompt(by_id[c.scenario_id], c.messages, settings) for c in active]
        turn_sampling = sampling.model_copy(update={"seed": sampling.seed + turn})
        groups = [prompts] if batched else [[p] for p in prompts]
        started = time.perf_counter()
        try:
            replies = []
            for group in groups:
                replies += [r[0] for r in generator.replies(group, 1, turn_sampling)]
                calls += 1
        except Exception as exc:  # any failure makes the whole eval partial, never promotable
            error = f"generation failed at turn {turn}: {type(exc).__name__}: {exc}"
            for conversation in active:
                conversation.end, conversation.error = "error", error
            break
        finally:
            seconds += time.perf_counter() - started
        waiting = []
        for conversation, reply in zip(active, replies, strict=True):
            scenario = by_id[conversation.scenario_id]
            known = conversation.given_slots | set(scenario.context_slots)
            asked = asked_slots(reply)
            conversation.messages.append(
                {
                    "role": "assistant",
                    "content": reply,
                    "asked": asked,
                    "redundant": [s for s in asked if s in known],
                }
            )
            for index, fact in enumerate(scenario.facts):
                if not conversation.delivered[index]:
                    conversation.delivered[index] = matcher.delivered_in(fact, reply)
            injection = scenario.injection
            attack_pending = (
                injection is not None
                and sum(m["role"] == "user" for m in conversation.messages) <= injection.turn
            )
            if all(conversation.delivered) and not attack_pending:
                conversation.end = "resolved"
            elif turn == max_turns - 1:
                conversation.end = "out_of_turns"
            else:
                waiting.append(conversation)
        states = [SimState(by_id[c.scenario_id], c.messages) for c in waiting]
        for conversation, move in zip(waiting, simulator.respond(states), strict=True):
            _add_customer(conversation, move)
    return HarnessResult(conversations, seconds, calls, error)

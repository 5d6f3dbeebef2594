"""The prompt a model is trained on is the prompt it is evaluated with (issue: sample logs and
eval used to build different system prompts).

Training prompts are followed through the real path: sample logs -> transcript contract ->
push (judged turn, record) -> pull (response row) -> aggregation -> DPO pair. Eval prompts come
from the held-out prompt set (conversations) and from the harness (suite scenarios).
"""

from __future__ import annotations

import json

import pytest

from supportloop.eval.config import EvalConfig, ModelSpec
from supportloop.eval.harness import opening_prompt
from supportloop.eval.heldout import prompts_from_conversations
from supportloop.eval.tau2 import load_tau2_suite
from supportloop.feedback.argilla.pull import response_row
from supportloop.feedback.argilla.push import build_record_payloads, judged_turns
from supportloop.feedback.assistant_prompt import PromptSettings, turn_prompt
from supportloop.feedback.demo import sample_logs
from supportloop.feedback.demo.sample_logs import SampleLogsConfig, build_sample_logs
from supportloop.feedback.preferences.aggregate import aggregate_records
from supportloop.feedback.preferences.config import AggregationConfig, AgreementConfig, PairsConfig
from supportloop.feedback.preferences.pairs import build_pairs
from supportloop.feedback.transcripts import validate_transcript
from supportloop.models.sampling import Candidate

REPLIES = ["Let me check the order for you.", "I will look into it right away."]


def _logs(tmp_path, conversations: int = 6) -> tuple[list[dict], list[list[list[dict]]]]:
    """Sample-log conversations in the contract (as ingest stores them, before redaction) and
    the prompts the assistant model was called with."""
    calls: list[list[list[dict]]] = []

    def reply(prompts):
        calls.append(prompts)
        return [REPLIES[len(calls) - 1]] * len(prompts)

    config = SampleLogsConfig(output=tmp_path / "logs.jsonl", num_conversations=conversations)
    build_sample_logs(config, reply)
    rows = [json.loads(line) for line in config.output.read_text().splitlines()]
    return [validate_transcript(row, 20_000) for row in rows], calls


def _dpo_prompt(conversation: dict) -> list[dict]:
    """The prompt of the DPO pair made from one annotated record of the conversation."""
    turns = list(judged_turns([conversation], "last"))
    candidates = [
        Candidate("c0", REPLIES[1], "logged"),
        Candidate("c1", "Sorry, I cannot help with that.", "generated"),
    ]
    payloads, _ = build_record_payloads(turns, [candidates], slots=3)
    payload = payloads[0]
    record = {"external_id": payload["id"], **payload}
    response = {
        "status": "submitted",
        "updated_at": "2026-11-02T09:00:00",
        "values": {
            "ranking": {
                "value": [{"value": "candidate_1", "rank": 1}, {"value": "candidate_2", "rank": 2}]
            }
        },
    }
    row = response_row(record, response, "annotator-1", 3)
    aggregated = aggregate_records([row], {}, AggregationConfig(), AgreementConfig(threshold=None))
    pairs, _ = build_pairs(aggregated.records, PairsConfig())
    return pairs[0]["prompt"]


@pytest.mark.slow
def test_logged_conversations_train_and_evaluate_on_one_prompt(tmp_path):
    conversations, calls = _logs(tmp_path)
    held_out = prompts_from_conversations(conversations)
    for index, conversation in enumerate(conversations):
        # The logs hold what the assistant was prompted with: both turns rebuild exactly.
        assert turn_prompt(conversation, 1) == calls[0][index]
        assert turn_prompt(conversation, 3) == calls[1][index]
        system = calls[0][index][0]
        assert system["role"] == "system" and "Customer profile:" in system["content"]
        trained_on = _dpo_prompt(conversation)
        assert trained_on == held_out[index].messages == calls[1][index]


@pytest.mark.slow
def test_a_scenario_is_prompted_in_eval_as_in_the_logs(tmp_path, monkeypatch):
    """The sample logs' assistant, given a tau2 eval scenario's customer (opening and
    profile), prompts the model exactly as the eval harness prompts it for that scenario."""
    suite = load_tau2_suite(None, "retail", "test", limit=3)
    for scenario in suite.scenarios:
        situation = {
            "user": {"user_id": "u1", "name": {"first_name": "A", "last_name": "B"}},
            "name": "A B",
            "opening": scenario.opening,
            "topic": scenario.topic,
            "details": "My name is A B.",
        }
        monkeypatch.setattr(
            sample_logs._Builder,
            "contacts",
            lambda self, s=situation: [{**s, "at": self.config.start, "repeat": False}],
        )
        monkeypatch.setattr(sample_logs, "_profile", lambda user, s=scenario: s.customer_profile)
        conversations, calls = _logs(tmp_path, conversations=1)
        evaluated_with = opening_prompt(scenario, EvalConfig(candidate=ModelSpec()).context)
        assert calls[0][0] == evaluated_with
        assert turn_prompt(conversations[0], 1) == evaluated_with
    assert SampleLogsConfig.model_fields.keys().isdisjoint({"passages", "passage_chars"})
    assert EvalConfig(candidate=ModelSpec()).context == PromptSettings()

"""The win-rate step with real generation (tiny Llamas) and a real reward model (a tiny Llama
sequence classifier): replies paired by seed, the section, the saved pairs, the reports."""

from __future__ import annotations

import pytest
from datasets import load_from_disk

from supportloop.eval.config import EvalConfig, ModelSpec
from supportloop.eval.gate import GateConfig
from supportloop.eval.heldout import model_replies, prompts_from_suite
from supportloop.eval.reports.winrate import win_rate_flat, win_rate_html
from supportloop.eval.suites import load_jsonl_suite
from supportloop.eval.winrate_run import evaluate_win_rate
from supportloop.feedback.assistant_prompt import PromptSettings
from supportloop.models.sampling import SamplingConfig
from supportloop.runs import RunDir
from tests.eval.helpers import ACME_SUITE, held_out_conversation
from tests.helpers import save_tiny_llama

SAMPLING = SamplingConfig(max_new_tokens=8, batch_size=4, temperature=1.0, seed=3)


@pytest.fixture(scope="module")
def other_llama(tmp_path_factory):
    """A second random generator, so the two models' replies differ."""
    return save_tiny_llama(
        tmp_path_factory.mktemp("other-llama"), max_position_embeddings=2048, initializer_range=1.0
    )


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory):
    return save_tiny_llama(
        tmp_path_factory.mktemp("tiny-reward"),
        padding_side="right",
        model_class="LlamaForSequenceClassification",
        num_labels=1,
        max_position_embeddings=2048,
    )


@pytest.mark.slow
def test_replies_are_batched_and_seeded(tiny_llama_dir, one_thread):
    suite = load_jsonl_suite(ACME_SUITE)
    prompts = [p.messages for p in prompts_from_suite(suite, PromptSettings())]
    spec = ModelSpec(name=str(tiny_llama_dir))
    first = model_replies(spec, prompts, SAMPLING)
    assert len(first) == len(prompts) == len(suite.scenarios)
    assert all(isinstance(reply, str) for reply in first)
    assert model_replies(spec, prompts, SAMPLING) == first  # same seed, same replies


@pytest.mark.slow
def test_win_rate_step_judges_both_models_on_held_out_prompts(
    tiny_llama_dir, other_llama, tiny_reward_model, tmp_path, one_thread
):
    cfg = EvalConfig(
        candidate=ModelSpec(name=str(tiny_llama_dir)),
        sampling=SAMPLING,
        win_rate={"samples": 2, "reward_model": str(tiny_reward_model)},
    )
    specs = {"candidate": cfg.candidate, "champion": ModelSpec(name=str(other_llama))}
    suite = load_jsonl_suite(ACME_SUITE)
    run = RunDir(tmp_path / "eval", "eval")
    lines: list[str] = []
    section = evaluate_win_rate(cfg, specs, suite, run, GateConfig(n_resamples=200), lines.append)
    assert section is not None and "error" not in section, section
    assert section["prompts"] == len(suite.scenarios) and section["dropped"] == {}
    assert set(section["judges"]) == {"gold", "reward_model"}
    for rate in section["judges"].values():
        assert rate["n"] == len(suite.scenarios)
        assert rate["wins"] + rate["ties"] + rate["losses"] == 2 * len(suite.scenarios)
        assert 0 <= rate["ci_low"] <= rate["rate"] <= rate["ci_high"] <= 1
    assert section["agreement"]["n"] <= 2 * len(suite.scenarios)
    assert set(section["metrics"]) == {
        "asks_known_info", "unauthorised_commitment", "policy_overlap",
    }  # fmt: skip
    assert section["prompt_settings_as_trained"]
    assert lines[-1].startswith("win rate (gold)")
    pairs = load_from_disk(str(tmp_path / "eval" / "win_rate"))
    assert pairs.num_rows == 2 * len(suite.scenarios)
    assert {"gold_outcome", "reward_model_outcome", "candidate", "champion"} <= set(
        pairs.column_names
    )
    assert "Win rate against the champion" in win_rate_html(section)
    flat = win_rate_flat(section)
    assert flat["win_rate/gold/rate"] == section["judges"]["gold"]["rate"]
    assert "win_rate/policy_overlap/diff" in flat


@pytest.mark.slow
def test_the_same_model_ties_everywhere(tiny_llama_dir, tmp_path, one_thread):
    cfg = EvalConfig(candidate=ModelSpec(name=str(tiny_llama_dir)), sampling=SAMPLING)
    specs = {"candidate": cfg.candidate, "champion": cfg.candidate}
    suite = load_jsonl_suite(ACME_SUITE)
    run = RunDir(tmp_path / "eval", "eval")
    section = evaluate_win_rate(cfg, specs, suite, run, GateConfig(), lambda line: None)
    gold = section["judges"]["gold"]
    assert (gold["rate"], gold["ci_low"], gold["ci_high"]) == (0.5, 0.5, 0.5)
    assert section["agreement"] is None and "reward_model" not in section["judges"]


@pytest.mark.slow
def test_logged_conversations_minus_the_preference_ones(tiny_llama_dir, tmp_path, one_thread):
    from datasets import Dataset, DatasetDict

    conversations = [
        held_out_conversation("c1", "u1", "Where is my order?"),  # annotated: in the preferences
        held_out_conversation("c2", "u2", "Can I change my shipping address?"),
        held_out_conversation("c3", "u3", "My refund never arrived on my card."),
    ]
    Dataset.from_list(conversations).save_to_disk(str(tmp_path / "conversations"))
    pair = {
        "conversation_id": "c1",
        "customer_id": "u1",
        "prompt": conversations[0]["messages"][:1],
        "chosen": [{"role": "assistant", "content": "Sure."}],
        "rejected": [{"role": "assistant", "content": "No."}],
    }
    DatasetDict({"train": Dataset.from_list([pair])}).save_to_disk(str(tmp_path / "pairs"))
    cfg = EvalConfig(
        candidate=ModelSpec(name=str(tiny_llama_dir)),
        sampling=SAMPLING,
        win_rate={
            "prompts": "conversations",
            "conversations": str(tmp_path / "conversations"),
            "preferences": [str(tmp_path / "pairs")],
        },
    )
    specs = {"candidate": cfg.candidate, "champion": cfg.candidate}
    suite = load_jsonl_suite(ACME_SUITE)  # not used by this prompt source
    run = RunDir(tmp_path / "eval", "eval")
    section = evaluate_win_rate(cfg, specs, suite, run, GateConfig(), lambda line: None)
    assert section["dropped"] == {"conversation": 1}
    assert (section["candidate_prompts"], section["prompts"]) == (3, 2)
    assert section["preferences"] == [str(tmp_path / "pairs")]
    compared = load_from_disk(str(tmp_path / "eval" / "win_rate"))
    assert compared["conversation_id"] == ["c2", "c3"]

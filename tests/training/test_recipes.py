"""Each shipped recipe trains a few real TRL steps on a tiny model and leaves a usable adapter."""

from __future__ import annotations

import json

import pytest
import torch

from supportloop.runs import read_lineage
from tests.training.helpers import POLITE, QUESTIONS, RUDE, quick_overrides, run_recipe

DATA = {"sft": "sft", "kto": "kto"}  # every other recipe reads the pairs


def _online(reward_run) -> list[str]:
    return [
        f"reward.model={reward_run}",
        "trainer.num_generations=2",
        "trainer.per_device_train_batch_size=2",
        "trainer.max_completion_length=8",
    ]


def _assert_adapter_changes_outputs(output_dir, tiny_model, seq_cls: bool) -> None:
    """Reload with PeftModel.from_pretrained; adapter on vs off must give different outputs."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from supportloop.models.checkpoints import load_tokenizer

    loader = AutoModelForSequenceClassification if seq_cls else AutoModelForCausalLM
    base = loader.from_pretrained(tiny_model, **({"num_labels": 1} if seq_cls else {}))
    model = PeftModel.from_pretrained(base, str(output_dir)).eval()
    tokenizer = load_tokenizer(str(output_dir))
    batch = tokenizer(["Where is my order? Thank you for reaching out"], return_tensors="pt")
    with torch.inference_mode():
        tuned = model(**batch).logits
        with model.disable_adapter():
            plain = model(**batch).logits
    assert (tuned - plain).abs().max().item() > 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["sft", "reward", "dpo", "kto", "rloo", "grpo"])
def test_recipe_trains_saves_and_reloads(algorithm, tiny_model, datasets_dir, tmp_path, request):
    output = tmp_path / algorithm
    data = datasets_dir[DATA.get(algorithm, "pairs")]
    overrides = quick_overrides(tiny_model, data, output, steps=2)
    overrides.append("trainer.learning_rate=1e-3")
    if algorithm in ("rloo", "grpo"):
        overrides += _online(request.getfixturevalue("reward_run"))
    else:
        overrides.append("trainer.max_length=64")
    summary = run_recipe(algorithm, overrides)

    assert summary["global_step"] == 2
    assert (output / "adapter_model.safetensors").is_file()
    assert (output / "tokenizer.json").is_file()
    on_disk = json.loads((output / "training_summary.json").read_text())
    assert on_disk["recipe"]["algorithm"] == algorithm
    assert on_disk["data"]["fingerprints"]["train"].startswith("datasets:")
    assert on_disk["versions"]["trl"].startswith("1.16")
    logged = [entry for entry in on_disk["metrics"]["history"] if "loss" in entry]
    assert logged, "no training loss was logged"
    lineage = read_lineage(output)
    assert lineage["stage"] == "train"
    assert lineage["outputs"]["adapter_model.safetensors"].startswith("sha256:")
    assert set(lineage["inputs"]) >= {"data:train", "model"}
    _assert_adapter_changes_outputs(output, tiny_model, seq_cls=algorithm == "reward")


@pytest.mark.slow
def test_dpo_learns_polite_over_rude(tiny_model, datasets_dir, tmp_path):
    """On held-out prompts, implicit reward accuracy and margin rise from zero after training."""
    output = tmp_path / "dpo"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], output, steps=12)
    overrides += [
        "trainer.learning_rate=1e-2",
        "trainer.per_device_train_batch_size=2",
        "trainer.warmup_steps=0",
        "trainer.eval_on_start=true",
        "trainer.eval_strategy=steps",
        "trainer.eval_steps=12",
        "trainer.max_length=64",
    ]
    summary = run_recipe("dpo", overrides)
    evals = [e for e in summary["metrics"]["history"] if "eval_rewards/margins" in e]
    before, after = evals[0], evals[-1]
    assert before["step"] == 0 and after["step"] == 12
    assert before["eval_rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert after["eval_rewards/margins"] > before["eval_rewards/margins"] + 0.1
    assert after["eval_rewards/accuracies"] == 1.0
    train_margins = [e["rewards/margins"] for e in summary["metrics"]["history"] if "loss" in e]
    assert train_margins[-1] > train_margins[0]


@pytest.mark.slow
def test_reward_model_scores_polite_higher(reward_run):
    """The reward recipe's adapter, loaded as a scorer, ranks held-out polite replies first."""
    from supportloop.models.reward import load_reward_model

    scorer = load_reward_model(reward_run)
    prompts = [[{"role": "user", "content": q}] for q in QUESTIONS[12:]]
    polite = scorer.score(prompts, [POLITE[0]] * len(prompts))
    rude = scorer.score(prompts, [RUDE[0]] * len(prompts))
    assert all(p > r for p, r in zip(polite, rude, strict=True))
    again = load_reward_model(reward_run).score(prompts[:1], [POLITE[0]])
    assert again[0] == pytest.approx(polite[0], abs=1e-5)  # score head restored, not random

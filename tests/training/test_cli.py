"""`supportloop train` then `supportloop export`: the merged checkpoint equals base + adapter."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from supportloop.cli import app
from tests.training.helpers import POLITE, QUESTIONS, quick_overrides


@pytest.mark.slow
def test_train_then_export_merges_the_adapter(tiny_model, datasets_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path / "dpo"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], run, steps=2)
    overrides += ["trainer.max_length=64", "trainer.learning_rate=1e-2"]
    result = CliRunner().invoke(app, ["train", "dpo", *overrides], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"adapter saved to {run}" in " ".join(result.output.split())
    # The start line says the threads the run used (chosen by supportloop.training.hardware).
    summary = json.loads((run / "training_summary.json").read_text())
    assert f"{summary['torch_threads']} CPU thread(s)" in " ".join(result.output.split())

    # A second run into the same dir must not silently mix with the first.
    again = CliRunner().invoke(app, ["train", "dpo", *overrides], catch_exceptions=False)
    assert again.exit_code == 2 and "resume=true" in again.output

    merged_dir = tmp_path / "merged"
    result = CliRunner().invoke(app, ["export", str(run), "-o", str(merged_dir)])
    assert result.exit_code == 0, result.output
    lineage = json.loads((merged_dir / "lineage.json").read_text())
    assert lineage["stage"] == "export" and lineage["config"]["base"] == str(tiny_model)

    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    batch = tokenizer(["Where is my order? Thanks for asking"], return_tensors="pt")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), str(run)
    ).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    with torch.inference_mode():
        merged_logits = merged(**batch).logits
        adapted_logits = adapted(**batch).logits
        base_logits = base(**batch).logits
    assert torch.allclose(merged_logits, adapted_logits, atol=1e-4)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-6)


@pytest.mark.slow
def test_export_reward_adapter_is_a_sequence_classifier(reward_run, tmp_path):
    from transformers import AutoModelForSequenceClassification

    from supportloop.models.reward import load_reward_model

    merged_dir = tmp_path / "rm-merged"
    result = CliRunner().invoke(app, ["export", str(reward_run), "-o", str(merged_dir)])
    assert result.exit_code == 0, result.output
    assert AutoModelForSequenceClassification.from_pretrained(merged_dir).config.num_labels == 1
    prompts = [[{"role": "user", "content": QUESTIONS[0]}]]
    reply = [POLITE[0]]
    from_adapter = load_reward_model(reward_run).score(prompts, reply)
    from_merged = load_reward_model(merged_dir).score(prompts, reply)
    assert from_merged[0] == pytest.approx(from_adapter[0], abs=1e-4)


@pytest.mark.slow
def test_shipped_dpo_recipe_on_the_embedded_model(datasets_dir, tmp_path):
    """configs/train/dpo.yaml as shipped (SmolLM2-135M-Instruct), cut to one step of 4 pairs."""
    run = tmp_path / "dpo-smollm2"
    args = [
        "configs/train/dpo.yaml",
        f"data.path={datasets_dir['pairs']}",
        f"output_dir={run}",
        "data.max_train_samples=4",
        "data.eval_split=null",
        "trainer.max_steps=1",
        "trainer.report_to=[]",
    ]
    result = CliRunner().invoke(app, ["train", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["model"] == "smollm2-135m-instruct" and summary["global_step"] == 1
    adapter = json.loads((run / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and adapter["peft_type"] == "LORA"

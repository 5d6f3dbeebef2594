"""`supportloop argilla push` end to end: conversations dataset -> generated candidates -> records.

Candidates come from a tiny random Llama (SmolLM2's tokenizer and chat template) through
`training.generate`, so the real generation path runs; sampling is seeded, so a second push
regenerates the same candidates, hence the same record ids, and updates instead of duplicating.
"""

from __future__ import annotations

import json

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from supportloop.cli import app

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory) -> str:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from training.models import load_tokenizer

    tokenizer = load_tokenizer("smollm2-135m-instruct")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("policy") / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_cli_push_generates_candidates_and_is_idempotent(
    argilla_stack, owner, conversation, tiny_policy, tmp_path
):
    conversations = tmp_path / "conversations"
    Dataset.from_list([conversation(i) for i in range(4)]).save_to_disk(str(conversations))
    config = tmp_path / "argilla.yaml"
    config.write_text(
        "dataset: cli-push\n"
        f"credentials: {argilla_stack.credentials_file}\n"
        f"conversations: {conversations}\n"
        "sampling: {num_candidates: 2, max_new_tokens: 8, batch_size: 4, seed: 3}\n"
    )
    overrides = [f"policy.model={tiny_policy}"]
    runner = CliRunner()
    out = tmp_path / "push-run"
    first = runner.invoke(app, ["argilla", "push", str(config), *overrides, "--out", str(out)])
    assert first.exit_code == 0, first.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["turns"], summary["records"], summary["created"]) == (4, 4, 4)
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["inputs"]["conversations"].startswith("datasets:")
    assert lineage["config"]["policy"]["model"] == tiny_policy

    again = runner.invoke(app, ["argilla", "push", str(config), *overrides, "--out", str(out)])
    assert again.exit_code == 0, again.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["created"], summary["updated"]) == (0, 4)

    records = (
        owner.session()
        .get(f"{owner.api_url}/api/v1/datasets/{summary['dataset_id']}/records")
        .json()["items"]
    )
    assert len(records) == 4
    sources = [c["source"] for c in json.loads(records[0]["metadata"]["supportloop"])["candidates"]]
    assert sources[0] == "logged" and set(sources[1:]) == {"generated"}
    assert records[0]["fields"]["candidate_1"].startswith("Yes, returns are accepted")

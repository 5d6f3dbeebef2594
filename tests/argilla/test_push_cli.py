"""`supportloop argilla push` end to end: conversations dataset -> generated candidates -> records.

Candidates come from a tiny random Llama (SmolLM2's tokenizer and chat template) through
`supportloop.models.generate`, so the real generation path runs; sampling is seeded, so a second
push regenerates the same candidates, hence the same record ids, and updates instead of duplicating.
"""

from __future__ import annotations

import json

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from supportloop.cli import app
from tests.argilla.helpers import fixed_candidates, make_conversation
from tests.helpers import save_tiny_llama

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory) -> str:
    return str(save_tiny_llama(tmp_path_factory.mktemp("policy") / "tiny-llama"))


def test_cli_push_generates_candidates_and_is_idempotent(
    argilla_stack, owner, tiny_policy, tmp_path
):
    conversations = tmp_path / "conversations"
    Dataset.from_list([make_conversation(i) for i in range(4)]).save_to_disk(str(conversations))
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


def test_reward_model_ranking_becomes_a_suggestion(argilla_stack, owner, tmp_path):
    from supportloop.feedback.argilla.push import judged_turns, push
    from supportloop.feedback.argilla.settings import ArgillaConfig
    from supportloop.models.reward import load_reward_model

    reward_dir = save_tiny_llama(
        tmp_path / "tiny-reward", model_class="LlamaForSequenceClassification", num_labels=1
    )

    cfg = ArgillaConfig(
        dataset="reward-suggestions",
        credentials=argilla_stack.credentials_file,
        reward_model=str(reward_dir),
    )
    extra = ["Sorry, no returns.", "Send me your order number."]
    result = push(owner, cfg, [make_conversation(0), make_conversation(1)], fixed_candidates(extra))
    assert result["suggestions"] == 2

    conv = make_conversation(0)
    prompt = next(judged_turns([conv], "last")).prompt  # with the context's system message
    texts = [conv["messages"][1]["content"], *extra]
    expected = load_reward_model(str(reward_dir)).score([prompt] * 3, texts)
    best_first = [f"candidate_{i + 1}" for i in sorted(range(3), key=lambda i: -expected[i])]
    session = owner.session()
    records = session.get(f"{owner.api_url}/api/v1/datasets/{result['dataset_id']}/records").json()[
        "items"
    ]
    record = next(r for r in records if '"conv-0"' in r["metadata"]["supportloop"])
    suggestions = session.get(f"{owner.api_url}/api/v1/records/{record['id']}/suggestions").json()
    (suggestion,) = suggestions["items"]
    assert suggestion["agent"] == "reward-model:tiny-reward" and suggestion["type"] == "model"
    assert [v["value"] for v in suggestion["value"]] == best_first
    assert [v["rank"] for v in suggestion["value"]] == [1, 2, 3]
    assert all(0 <= s <= 1 for s in suggestion["score"])

"""Held-out prompts never come from what the preferences came from: dropped with counts, or
refused; the adapter's own training data is always checked."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset, DatasetDict

from supportloop.eval.heldout import (
    HeldOutOverlapError,
    assert_held_out,
    drop_overlapping,
    preference_sources,
    prompts_from_conversations,
    training_data,
)
from tests.eval.helpers import held_out_conversation

LAMP = "I want to return the desk lamp from order W1234567 because it flickers constantly."
SPEAKER = "My refund for the cancelled bluetooth speaker never arrived on my credit card."

HELD_OUT = [
    held_out_conversation("c1", "u1", "Hello, the lamp again."),  # a preference conversation
    held_out_conversation("c3", "u1", "Where is my new chair?"),  # a preference customer
    held_out_conversation("c4", "u4", f"Following up again: {SPEAKER}"),  # a preference opening
    held_out_conversation("c5", "u5", "Can I change the shipping address of my pending order?"),
    # shares 4 of 7 words with a preference opening: not the same opening, kept
    held_out_conversation("c6", "u6", "I want to return the desk lamp I bought last week."),
]


def _pair(cid: str, customer: str, opening: str) -> dict:
    return {
        "conversation_id": cid,
        "customer_id": customer,
        "prompt": [{"role": "user", "content": opening}],
        "chosen": [{"role": "assistant", "content": "Sure."}],
        "rejected": [{"role": "assistant", "content": "No."}],
    }


@pytest.fixture
def preference_run(tmp_path):
    """A preferences run dir: pairs (train and test splits) and kto, as the stage saves them."""
    run = tmp_path / "preferences"
    DatasetDict(
        {
            "train": Dataset.from_list([_pair("c1", "u1", LAMP)]),
            "test": Dataset.from_list([_pair("c9", "u9", SPEAKER)]),
        }
    ).save_to_disk(str(run / "pairs"))
    kto = {"conversation_id": "c7", "customer_id": "u7", "prompt": [], "label": True}
    DatasetDict({"train": Dataset.from_list([kto])}).save_to_disk(str(run / "kto"))
    return run


def test_prompts_sharing_a_conversation_customer_or_opening_are_dropped(preference_run):
    prompts = prompts_from_conversations(HELD_OUT)
    assert [p.prompt_id for p in prompts] == ["c1:1", "c3:1", "c4:1", "c5:1", "c6:1"]
    assert prompts[0].messages[0]["role"] == "system"  # built from the logged context
    sources = preference_sources([preference_run])
    assert sources.conversation_ids == {"c1", "c9", "c7"}
    kept, dropped = drop_overlapping(prompts, sources)
    assert [p.conversation_id for p in kept] == ["c5", "c6"]
    assert dropped == {"conversation": 1, "customer": 1, "opening": 1}
    kept, dropped = drop_overlapping(prompts, sources, by_customer=False)
    assert [p.conversation_id for p in kept] == ["c3", "c5", "c6"]


def test_an_overlapping_prompt_set_is_refused(preference_run):
    prompts = prompts_from_conversations(HELD_OUT)
    sources = preference_sources([preference_run / "pairs"], exclude_conversations=["c5"])
    with pytest.raises(HeldOutOverlapError, match=r"4 of 5 held-out prompts.*c1:1 \(conversation"):
        assert_held_out(prompts, sources)
    kept, _ = drop_overlapping(prompts, sources)
    assert_held_out(kept, sources)  # what is left is held out


def test_the_adapters_training_data_is_found_or_the_check_refuses(preference_run, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    assert training_data(adapter) is None  # not trained by supportloop: nothing to read
    summary = {"data": {"path": str(preference_run / "pairs")}}
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    assert training_data(adapter) == preference_run / "pairs"
    summary["data"]["path"] = str(tmp_path / "gone")
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    with pytest.raises(HeldOutOverlapError, match="is gone"):
        training_data(adapter)
    with pytest.raises(HeldOutOverlapError, match="neither a preference dataset"):
        preference_sources([tmp_path])

"""Repeat-inquiry proxies on conversations, and the champion's log repeat-contact rate."""

from __future__ import annotations

import pytest
from datasets import Dataset

from supportloop.eval.harness import Conversation
from supportloop.eval.scorers.repeat import (
    customer_repeats,
    log_repeat_contact_rate,
    redundant_question,
    unresolved_at_end,
)


def _conversation(kinds: list[str], redundant: list[list[str]], delivered: list[bool]):
    messages = []
    for kind, again in zip(kinds, redundant, strict=True):
        messages.append({"role": "user", "content": "...", "kind": kind})
        messages.append({"role": "assistant", "content": "...", "redundant": again})
    return Conversation("s", 0, messages, delivered)


def test_proxies():
    calm = _conversation(["opening", "answer"], [[], []], [True])
    assert not customer_repeats(calm) and not redundant_question(calm)
    assert not unresolved_at_end(calm)
    annoyed = _conversation(["opening", "repeat"], [["order_id"], []], [True, False])
    assert customer_repeats(annoyed) and redundant_question(annoyed)
    assert unresolved_at_end(annoyed)


def test_log_repeat_contact_rate_per_model_version(tmp_path):
    rows = [("v1", True), ("v1", False), ("v1", False), ("v1", True), ("v2", True)]
    Dataset.from_dict(
        {
            "model_version": [v for v, _ in rows],
            "repeat_contact": [r for _, r in rows],
        }
    ).save_to_disk(str(tmp_path / "conversations"))
    rate = log_repeat_contact_rate(tmp_path / "conversations", "v1")
    assert rate == {"model_version": "v1", "conversations": 4, "repeat_contact_rate": 0.5}
    assert log_repeat_contact_rate(tmp_path / "conversations", None)["conversations"] == 5
    assert log_repeat_contact_rate(tmp_path / "conversations", "v9")["repeat_contact_rate"] is None
    with pytest.raises(FileNotFoundError):
        log_repeat_contact_rate(tmp_path / "missing", "v1")

"""The resolution judge: fitted on labelled turns, scored on held-out human labels."""

from __future__ import annotations

import numpy as np
import pytest

from eval.judge import MiniLMJudge, calibration, load_annotated, shared_identifiers, split_turns
from tests.eval.conftest import ANNOTATED


def test_split_is_stratified_and_stable():
    turns = load_annotated(ANNOTATED)
    train, heldout = split_turns(turns, 0.3)
    assert len(train) + len(heldout) == len(turns)
    assert {t.resolves for t in heldout} == {"yes", "no", "partly"}
    assert split_turns(turns, 0.3)[1] == heldout


def test_minilm_judge_beats_chance_on_held_out_labels(embedder):
    train, heldout = split_turns(load_annotated(ANNOTATED), 0.3)
    report = MiniLMJudge(embedder).fit(train).evaluate(heldout)
    assert report["n"] == len([t for t in heldout if t.resolves != "partly"])
    assert report["auc"] > 0.7 and report["accuracy"] > 0.7
    assert 0 <= report["ece"] <= 1 and 0 <= report["brier"] <= 0.25


def test_calibration_metrics():
    y = np.array([1, 0, 1, 0])
    perfect = calibration(y, np.array([1.0, 0.0, 1.0, 0.0]))
    assert perfect["accuracy"] == 1 and perfect["auc"] == 1 and perfect["brier"] == 0
    assert perfect["ece"] == pytest.approx(0)
    assert calibration(y, np.full(4, 0.5))["ece"] == pytest.approx(0.5 * 1.0 - 0.5 * 1.0)


def test_shared_identifiers():
    assert shared_identifiers("Cancel order #W1001 please", "Order #W1001 is cancelled") == 1.0
    assert shared_identifiers("Cancel order #W1001 please", "Order #W1009 is cancelled") == 0.0


def test_reward_model_judge_is_calibrated_on_the_labels(tiny_llama_dir, tmp_path, one_thread):
    """The training stage's reward model as judge: its score, Platt-scaled on labelled turns."""
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    from eval.judge import RewardModelJudge

    classifier = LlamaForSequenceClassification.from_pretrained(tiny_llama_dir, num_labels=1)
    classifier.save_pretrained(tmp_path / "reward")
    AutoTokenizer.from_pretrained(tiny_llama_dir).save_pretrained(tmp_path / "reward")
    train, heldout = split_turns(load_annotated(ANNOTATED), 0.3)
    judge = RewardModelJudge(tmp_path / "reward").fit(train)
    report = judge.evaluate(heldout)
    assert report["kind"] == "reward_model"
    assert report["n"] == sum(t.resolves != "partly" for t in heldout)
    p = judge.predict(["Cancel order #W1"], ["Order #W1 is cancelled."])
    assert p.shape == (1,) and 0 < p[0] < 1

"""The resolution judge: fitted on labelled turns, scored on held-out human labels."""

from __future__ import annotations

import numpy as np
import pytest

from supportloop.eval.judge import (
    LABELS,
    MiniLMJudge,
    calibration,
    load_annotated,
    shared_identifiers,
    split_turns,
)
from tests.eval.helpers import ANNOTATED


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


def _brier_of_base_rate(train, heldout) -> float:
    """The Brier score of always predicting the training base rate: what a judge must beat."""
    y_train = np.array([LABELS[t.resolves] for t in train if t.resolves in LABELS])
    y = np.array([LABELS[t.resolves] for t in heldout if t.resolves in LABELS])
    return float(np.mean((y - y_train.mean()) ** 2))


def _labelled_by(turns, scores, flip: bool):
    """The turns relabelled by their score against the median: a split a judge can learn."""
    cut = float(np.median(scores))
    return [
        t.model_copy(update={"resolves": "yes" if (score > cut) != flip else "no"})
        for t, score in zip(turns, scores, strict=True)
    ]


def test_reward_model_judge_is_calibrated_on_the_labels(tiny_llama_dir, tmp_path, one_thread):
    """The training stage's reward model as judge: its score, Platt-scaled on labelled turns.

    Fitted on the real labels, its mean P(resolved) is the labels' base rate (calibrated in
    the large). On labels its score does separate (the turns relabelled by their score, either
    way round), the calibration learns the direction: held-out AUC 1 and a Brier score under
    half the base rate's. (A random reward model's held-out verdicts are not checked: on 25
    training turns its spurious slope varies too much with the seed.)
    """
    import torch
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    from supportloop.eval.judge import RewardModelJudge, issue_of

    torch.manual_seed(0)  # the score head is initialised at random
    classifier = LlamaForSequenceClassification.from_pretrained(tiny_llama_dir, num_labels=1)
    classifier.save_pretrained(tmp_path / "reward")
    AutoTokenizer.from_pretrained(tiny_llama_dir).save_pretrained(tmp_path / "reward")
    turns = [t for t in load_annotated(ANNOTATED) if t.resolves in LABELS]
    train, heldout = split_turns(turns, 0.3)
    judge = RewardModelJudge(tmp_path / "reward").fit(train)
    report = judge.evaluate(heldout)
    assert report["kind"] == "reward_model" and report["n"] == len(heldout)
    base_rate = np.mean([LABELS[t.resolves] for t in train])
    fitted = judge.predict([issue_of(t.prompt) for t in train], [t.reply for t in train])
    assert fitted.mean() == pytest.approx(base_rate, abs=1e-3)  # calibrated in the large

    scores = judge.features([issue_of(t.prompt) for t in turns], [t.reply for t in turns])[:, 0]
    for flip in (False, True):
        train, heldout = split_turns(_labelled_by(turns, scores, flip), 0.3)
        known = judge.fit(train).evaluate(heldout)  # the same reward model, refitted
        assert known["auc"] == 1.0, (flip, known)
        assert known["brier"] < 0.5 * _brier_of_base_rate(train, heldout), (flip, known)

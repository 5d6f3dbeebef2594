"""Resolution by judge: a classifier trained on annotators' `resolves_issue` labels.

Two kinds: a logistic regression on MiniLM embeddings of (customer issue, reply), or the
training stage's reward model with its score calibrated to a probability (Platt scaling) on
the same labels. Either is fitted on one part of the labelled turns and scored on the held-out
rest (accuracy, ROC AUC, Brier score, expected calibration error), and those numbers are
reported beside its verdicts: a judge nobody checked is not evidence.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from supportloop.eval.matching import Embedder, contains_token
from supportloop.eval.suites import AnnotatedTurn, SuiteError, read_jsonl, validate_rows

LABELS = {"yes": 1, "no": 0}  # "partly" is left out of training and scoring


def load_annotated(path: Path) -> list[AnnotatedTurn]:
    """Labelled turns from a JSONL file of `AnnotatedTurn`s or an argilla-pull responses dataset."""
    if path.is_file():
        return validate_rows(AnnotatedTurn, read_jsonl(path), path)
    from supportloop.runs import load_dataset_artifact

    turns = []
    for row in load_dataset_artifact(path):
        if row.get("status", "submitted") != "submitted":
            continue
        for candidate, label in zip(row["candidates"], row["resolves"] or [], strict=False):
            if label:
                turns.append(
                    AnnotatedTurn(
                        prompt=row["prompt"],
                        reply=candidate["text"],
                        resolves=label,
                        topic=row.get("topic"),
                    )
                )
    if not turns:
        raise SuiteError(f"{path}: no labelled turns (resolves) found")
    return turns


def issue_of(prompt: list[dict[str, str]]) -> str:
    """The customer's request: the first customer message of the conversation."""
    return next((m["content"] for m in prompt if m["role"] == "user"), "")


def split_turns(turns: list[AnnotatedTurn], heldout_fraction: float):
    """Stratified by label, ordered by content hash: the same held-out set on every run."""
    train, heldout = [], []
    for label in sorted({t.resolves for t in turns}):
        group = sorted(
            (t for t in turns if t.resolves == label),
            key=lambda t: hashlib.sha256((issue_of(t.prompt) + "\x00" + t.reply).encode()).digest(),
        )
        cut = round(len(group) * heldout_fraction)
        heldout += group[:cut]
        train += group[cut:]
    return train, heldout


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float | int | None]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    if len(y) == 0:
        return {"n": 0, "accuracy": None, "auc": None, "brier": None, "ece": None}
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = sum(
        abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean()
        for b in range(bins)
        if (which == b).any()
    )
    return {
        "n": len(y),
        "accuracy": float(((p >= 0.5) == y).mean()),
        "auc": float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else None,
        "brier": float(brier_score_loss(y, p)),
        "ece": float(ece),
    }


class Judge:
    kind = "base"

    def features(self, issues: list[str], replies: list[str]) -> np.ndarray:
        raise NotImplementedError

    def fit(self, turns: list[AnnotatedTurn]) -> Judge:
        from sklearn.linear_model import LogisticRegression

        rows = [t for t in turns if t.resolves in LABELS]
        y = np.array([LABELS[t.resolves] for t in rows])
        if len(set(y.tolist())) < 2:
            raise SuiteError("judge training needs turns labelled both 'yes' and 'no'")
        x = self.features([issue_of(t.prompt) for t in rows], [t.reply for t in rows])
        self.classifier = LogisticRegression(max_iter=2000).fit(x, y)
        return self

    def predict(self, issues: list[str], replies: list[str]) -> np.ndarray:
        if not replies:
            return np.zeros(0)
        return self.classifier.predict_proba(self.features(issues, replies))[:, 1]

    def evaluate(self, turns: list[AnnotatedTurn]) -> dict:
        rows = [t for t in turns if t.resolves in LABELS]
        y = np.array([LABELS[t.resolves] for t in rows])
        p = self.predict([issue_of(t.prompt) for t in rows], [t.reply for t in rows])
        return {"kind": self.kind, **calibration(y, p)}


def shared_identifiers(issue: str, reply: str) -> float:
    """Share of the issue's identifiers and numbers (order ids, amounts) the reply repeats."""
    found = set(re.findall(r"#?[A-Z]*\d[\w.]*", issue))
    return sum(contains_token(reply, f) for f in found) / len(found) if found else 0.0


class MiniLMJudge(Judge):
    """Logistic regression on the reply's MiniLM embedding, its cosine to the issue and the
    share of the issue's identifiers it repeats (a reply about another order resolves nothing).
    """

    kind = "minilm"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def features(self, issues: list[str], replies: list[str]) -> np.ndarray:
        a, b = self.embedder.encode(issues), self.embedder.encode(replies)
        cosine = (a * b).sum(axis=1, keepdims=True)
        pairs = zip(issues, replies, strict=True)
        shared = np.array([[shared_identifiers(issue, reply)] for issue, reply in pairs])
        return np.hstack([cosine, shared, b])


class RewardModelJudge(Judge):
    """The reward model's score, mapped to P(resolved) by a one-feature logistic fit."""

    kind = "reward_model"

    def __init__(self, path: Path) -> None:
        from supportloop.models.reward import load_reward_model

        self.reward = load_reward_model(path)

    def features(self, issues: list[str], replies: list[str]) -> np.ndarray:
        prompts = [[{"role": "user", "content": issue}] for issue in issues]
        return np.array(self.reward.score(prompts, replies)).reshape(-1, 1)

"""How often ingest's repeat-contact decision is right, and what each embedder costs.

Usage: .venv/bin/python benchmarks/repeat_contact.py [--per-kind 300] [--only NAME ...]

On the labelled opening pairs of tests/ingest/topic_pairs.py (real CFPB letters and tau2
scenarios; dev and test splits kept apart), for each candidate (embedder, backend, word pieces):
- the threshold is chosen on the dev split (best F1), then precision, recall and F1 of the
  same-topic decision on the test split, with 95% bootstrap CIs, per kind of pair and overall;
- the full rule (`label_repeat_contacts`: customer, window, intent, similarity) on a log built
  from the test pairs, one customer per pair, half of the second contacts outside the window,
  no intents (an intent on both contacts decides by equality, not by the embedder);
- milliseconds per opening, encoding the test openings on this machine's cores (wall and CPU);
- the repeat-contact rate the rule implies on 2,000 sample-log conversations (the demo's logs,
  replies left out: the rule reads customers, times, intents and openings).

Writes runs/benchmarks/repeat_contact.json and prints a Markdown table (docs/repeat-contacts.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tests` is a package of the repository, not installed

from datasets import Dataset  # noqa: E402

from supportloop.feedback.demo.sample_logs import SampleLogsConfig, build_sample_logs  # noqa: E402
from supportloop.feedback.ingest.config import RepeatContactConfig  # noqa: E402
from supportloop.feedback.ingest.repeat import label_repeat_contacts  # noqa: E402
from supportloop.feedback.transcripts import CONVERSATION_FEATURES, validate_transcript  # noqa: E402
from supportloop.models.sentence_encoder import SentenceEncoder, load_sentence_encoder  # noqa: E402
from tests.ingest.topic_pairs import KINDS, TopicPair, topic_pairs  # noqa: E402

THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
SHIPPED_THRESHOLD = 0.4  # the threshold ingest shipped with before this benchmark existed


@dataclass(frozen=True)
class Candidate:
    name: str
    backend: str
    max_tokens: int
    model: str = "minilm"

    def config(self, threshold: float) -> RepeatContactConfig:
        return RepeatContactConfig(
            embedding_model=self.model,
            embedding_backend=self.backend,
            opening_max_tokens=self.max_tokens,
            similarity_threshold=threshold,
        )


CANDIDATES = [
    Candidate("minilm-128", "onnx", 128),
    Candidate("minilm-64", "onnx", 64),
    Candidate("minilm-32", "onnx", 32),
    Candidate("minilm-int8-128", "onnx-int8", 128),
    Candidate("minilm-int8-96", "onnx-int8", 96),
    Candidate("minilm-int8-64", "onnx-int8", 64),
    Candidate("static-128", "static", 128),
]


def f1_score(predicted: np.ndarray, gold: np.ndarray, axis: int = -1) -> np.ndarray:
    true_pos = (predicted & gold).sum(axis)
    return 2 * true_pos / np.maximum(2 * true_pos + (predicted ^ gold).sum(axis), 1)


def precision(predicted: np.ndarray, gold: np.ndarray, axis: int = -1) -> np.ndarray:
    return (predicted & gold).sum(axis) / np.maximum(predicted.sum(axis), 1)


def recall(predicted: np.ndarray, gold: np.ndarray, axis: int = -1) -> np.ndarray:
    return (predicted & gold).sum(axis) / np.maximum(gold.sum(axis), 1)


def with_ci(metric, predicted: np.ndarray, gold: np.ndarray) -> list[float]:
    """[value, low, high]: the metric and its 95% percentile bootstrap CI over the pairs."""
    ci = stats.bootstrap(
        (predicted, gold),
        metric,
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method="percentile",
        random_state=0,
    ).confidence_interval
    return [round(float(metric(predicted, gold)), 3), round(ci.low, 3), round(ci.high, 3)]


def scores(predicted: np.ndarray, gold: np.ndarray) -> dict[str, list[float]]:
    return {
        name: with_ci(metric, predicted, gold)
        for name, metric in (("precision", precision), ("recall", recall), ("f1", f1_score))
    }


def best_threshold(similarity: np.ndarray, gold: np.ndarray) -> float:
    f1 = [float(f1_score(similarity >= t, gold)) for t in THRESHOLDS]
    return float(THRESHOLDS[int(np.argmax(f1))])


def pair_similarity(pairs: list[TopicPair], vectors: dict[str, np.ndarray]) -> np.ndarray:
    return np.array([float(vectors[p.earlier] @ vectors[p.later]) for p in pairs])


def encode_all(
    encode: SentenceEncoder, texts: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each distinct text's vector, and milliseconds per text: wall time on this machine's
    cores, and CPU time of all threads (steadier when other work shares the machine)."""
    distinct = list(dict.fromkeys(texts))
    encode(distinct[:16])  # load and warm up outside the timing
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = encode(distinct)
    cost = {
        "wall_ms_per_opening": (time.perf_counter() - wall) * 1000 / len(distinct),
        "cpu_ms_per_opening": (time.process_time() - cpu) * 1000 / len(distinct),
    }
    return dict(zip(distinct, vectors, strict=True)), {k: round(v, 3) for k, v in cost.items()}


def contact_log(pairs: list[TopicPair], window_hours: float) -> tuple[Dataset, np.ndarray]:
    """One customer per pair with two contacts, the second within the window for half the
    pairs and past it for the others; gold: same topic and inside the window."""
    start = datetime(2026, 11, 2, tzinfo=UTC)
    rows, gold = [], []
    for index, pair in enumerate(pairs):
        inside = index % 4 < 2  # alternates so every kind and label has both
        gap = timedelta(hours=window_hours * (0.5 if inside else 1.5))
        for position, (opening, at) in enumerate(
            ((pair.earlier, start), (pair.later, start + gap))
        ):
            raw = {
                "conversation_id": f"pair{index}-{position}",
                "customer_id": f"customer-{index}",
                "started_at": at.isoformat(),
                "messages": [
                    {"role": "user", "content": opening},
                    {"role": "assistant", "content": "Thanks, let me check."},
                ],
            }
            rows.append(validate_transcript(raw, max_message_chars=1_000_000))
        gold.append(pair.same_topic and inside)
    return Dataset.from_list(rows, features=CONVERSATION_FEATURES), np.array(gold)


def sample_log_dataset(count: int) -> tuple[Dataset, float]:
    """The demo's sample logs at `count` conversations, with placeholder replies, and the
    share of them the generator made a follow-up (a fifth of those past the 72 h window)."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "logs.jsonl"
        written = build_sample_logs(
            SampleLogsConfig(output=output, num_conversations=count),
            lambda prompts: ["Thanks, let me check." for _ in prompts],
        )
        rows = [validate_transcript(json.loads(line), 20_000) for line in output.open()]
    planted = written["repeat_contacts"] / written["conversations"]
    return Dataset.from_list(rows, features=CONVERSATION_FEATURES), planted


def memo(encode: SentenceEncoder, vectors: dict[str, np.ndarray]) -> SentenceEncoder:
    """The encoder, answering from vectors already computed (the rule re-asks for openings)."""

    def lookup(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in vectors]
        if missing:
            vectors.update(zip(missing, encode(missing), strict=True))
        return np.stack([vectors[t] for t in texts])

    return lookup


def evaluate(candidate: Candidate, dev: list[TopicPair], test: list[TopicPair],
             samples: Dataset) -> dict:  # fmt: skip
    encode = load_sentence_encoder(candidate.model, candidate.max_tokens, candidate.backend)
    dev_vectors, _ = encode_all(encode, [t for p in dev for t in (p.earlier, p.later)])
    threshold = best_threshold(
        pair_similarity(dev, dev_vectors), np.array([p.same_topic for p in dev])
    )
    test_vectors, cost = encode_all(encode, [t for p in test for t in (p.earlier, p.later)])
    similarity = pair_similarity(test, test_vectors)
    gold = np.array([p.same_topic for p in test])
    kinds = np.array([p.kind for p in test])
    result = {
        "candidate": candidate.name,
        "backend": candidate.backend,
        "word_pieces": candidate.max_tokens,
        "threshold": threshold,
        **cost,
        "test": scores(similarity >= threshold, gold),
        "test_at_shipped_threshold": scores(similarity >= SHIPPED_THRESHOLD, gold),
        "by_kind_f1": {
            kind: with_ci(f1_score, similarity[kinds == kind] >= threshold, gold[kinds == kind])
            for kind in KINDS
        },
    }
    config = candidate.config(threshold)
    log, rule_gold = contact_log(test, config.window_hours)
    repeats = label_repeat_contacts(log, config, memo(encode, test_vectors)).repeat_of
    predicted = np.zeros(len(test), dtype=bool)
    for row in repeats:
        predicted[row // 2] = True  # rows are (earlier, later) per pair, in order
    result["full_rule"] = scores(predicted, rule_gold)
    implied = label_repeat_contacts(samples, config, memo(encode, {})).repeat_of
    result["sample_logs_repeat_rate"] = round(len(implied) / len(samples), 4)
    return result


def table(results: list[dict]) -> str:
    def fmt(value: list[float]) -> str:
        return f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"

    lines = [
        "| embedder | backend | word pieces | threshold (dev) | precision | recall | F1 "
        "| full-rule F1 | ms/opening (wall) | CPU ms/opening | sample-log repeat rate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        test = r["test"]
        lines.append(
            f"| {r['candidate']} | {r['backend']} | {r['word_pieces']} | {r['threshold']:.2f} "
            f"| {fmt(test['precision'])} | {fmt(test['recall'])} | {fmt(test['f1'])} "
            f"| {fmt(r['full_rule']['f1'])} | {r['wall_ms_per_opening']:.2f} "
            f"| {r['cpu_ms_per_opening']:.2f} "
            f"| {r['sample_logs_repeat_rate']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=300, help="pairs per kind and split")
    parser.add_argument("--sample-logs", type=int, default=2000)
    parser.add_argument("--only", nargs="+", help="candidate names (default: all)")
    parser.add_argument("--output", type=Path, default=ROOT / "runs/benchmarks/repeat_contact.json")
    args = parser.parse_args()
    dev, test = topic_pairs("dev", args.per_kind), topic_pairs("test", args.per_kind)
    samples, planted = sample_log_dataset(args.sample_logs)
    chosen = [c for c in CANDIDATES if not args.only or c.name in args.only]
    load = os.getloadavg()[0]
    results = []
    for candidate in chosen:
        results.append(evaluate(candidate, dev, test, samples))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "pairs": {"dev": len(dev), "test": len(test)},
        "cores": len(os.sched_getaffinity(0)),
        "sample_logs_planted_follow_up_rate": round(planted, 4),
        "load_average_1min": [load, os.getloadavg()[0]],
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    print(f"sample logs: {planted:.3f} of conversations are planted follow-ups")


if __name__ == "__main__":
    main()

"""Inter-annotator agreement on the responses dataset: per question, per annotator, per record.

Per question, Krippendorff's alpha (the `krippendorff` package) over units of one candidate in
one record: ranks (ordinal: ranks are comparable inside a record, which is what a unit is),
ratings (ordinal), resolves_issue (nominal) and each policy flag (nominal, ticked or not).

Per record, a 0..1 score the preference stage can weight pairs with: the mean over annotator
pairs of their agreement on that record, itself the mean of the parts both answered:
ranking (share of candidate pairs both order the same way; a tie against an order counts
half), resolves (share of candidates with the same label) and rating (1 - |difference| / 4).
Per annotator, the mean of that pairwise score against every other annotator, over the
records they share. Only submitted responses count; None where fewer than two annotators.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset, Features, Value

if TYPE_CHECKING:
    from supportloop.feedback.argilla.settings import ArgillaConfig

RESOLVES_CODES = {"no": 0, "partly": 1, "yes": 2}
QUESTIONS = ("ranking", "rating", "resolves", "flags")
RECORD_FEATURES = Features(
    {"record_id": Value("string"), "n_annotators": Value("int64"), "agreement": Value("float64")}
)


def _alpha(units: dict[Any, dict[str, float]], annotators: list[str], level: str) -> float | None:
    """Krippendorff's alpha for unit -> {annotator: value}; None when it is undefined."""
    import krippendorff

    pairable = {u: v for u, v in units.items() if len(v) >= 2}
    if not pairable:
        return None
    matrix = np.full((len(annotators), len(pairable)), np.nan)
    for col, values in enumerate(pairable.values()):
        for annotator, value in values.items():
            matrix[annotators.index(annotator), col] = value
    if len(np.unique(matrix[~np.isnan(matrix)])) < 2:
        return None  # one value only: alpha is undefined (perfect agreement on a constant)
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))


def question_units(rows: list[dict[str, Any]]) -> dict[str, dict[Any, dict[str, float]]]:
    """Units per question: (record, candidate[, flag]) -> {annotator: numeric value}."""
    units: dict[str, dict[Any, dict[str, float]]] = {q: defaultdict(dict) for q in QUESTIONS}
    flag_names = sorted({f for row in rows for flags in row["flags"] for f in flags})
    for row in rows:
        rec, who = row["record_id"], row["annotator"]
        for i in range(len(row["candidates"])):
            if row["ranking"] is not None:
                units["ranking"][rec, i][who] = row["ranking"][i]
            if row["ratings"][i] is not None:
                units["rating"][rec, i][who] = row["ratings"][i]
            if row["resolves"][i] is not None:
                units["resolves"][rec, i][who] = RESOLVES_CODES[row["resolves"][i]]
            if row["resolves"][i] is not None or row["ranking"] is not None:
                for flag in flag_names:
                    units["flags"][rec, i, flag][who] = float(flag in row["flags"][i])
    return units


def _ranking_concordance(a: list[int], b: list[int]) -> float | None:
    pairs = list(combinations(range(len(a)), 2))
    if not pairs:
        return None
    score = 0.0
    for i, j in pairs:
        sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
        score += 1.0 if sa == sb else 0.5 if 0 in (sa, sb) else 0.0
    return score / len(pairs)


def pair_agreement(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Agreement in 0..1 of two annotators' responses to the same record (see module doc)."""
    parts = []
    if a["ranking"] is not None and b["ranking"] is not None:
        concordance = _ranking_concordance(a["ranking"], b["ranking"])
        if concordance is not None:
            parts.append(concordance)
    resolves = [float(x == y) for x, y in zip(a["resolves"], b["resolves"], strict=True) if x and y]
    if resolves:
        parts.append(mean(resolves))
    ratings = [
        1 - abs(x - y) / 4
        for x, y in zip(a["ratings"], b["ratings"], strict=True)
        if x is not None and y is not None
    ]
    if ratings:
        parts.append(mean(ratings))
    return mean(parts) if parts else None


def compute_agreement(responses: Dataset) -> tuple[Dataset, dict[str, Any]]:
    """(record_agreement dataset, summary with alpha per question and per-annotator scores)."""
    rows = [r for r in responses if r["status"] == "submitted"]
    annotators = sorted({r["annotator"] for r in rows})
    by_record: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_record[row["record_id"]].append(row)
    per_annotator: dict[str, list[float]] = defaultdict(list)
    record_rows = []
    for record_id, group in sorted(by_record.items()):
        scores = []
        for a, b in combinations(group, 2):
            score = pair_agreement(a, b)
            if score is None:
                continue
            scores.append(score)
            per_annotator[a["annotator"]].append(score)
            per_annotator[b["annotator"]].append(score)
        record_rows.append(
            {
                "record_id": record_id,
                "n_annotators": len(group),
                "agreement": mean(scores) if scores else None,
            }
        )
    levels = {"ranking": "ordinal", "rating": "ordinal", "resolves": "nominal", "flags": "nominal"}
    units = question_units(rows)
    alphas = {q: _alpha(units[q], annotators, levels[q]) for q in QUESTIONS}
    summary = {
        "responses": len(rows),
        "records": len(record_rows),
        "records_with_2plus_annotators": sum(r["n_annotators"] >= 2 for r in record_rows),
        "annotators": annotators,
        "alpha": alphas,
        "annotator_agreement": {
            who: (mean(per_annotator[who]) if per_annotator[who] else None) for who in annotators
        },
        "mean_record_agreement": _mean_or_none(r["agreement"] for r in record_rows),
    }
    return Dataset.from_list(record_rows, features=RECORD_FEATURES), summary


def _mean_or_none(values: Any) -> float | None:
    kept = [v for v in values if v is not None]
    return mean(kept) if kept else None


def run_agreement(config: ArgillaConfig, out: Path) -> tuple[Path, dict[str, Any]]:
    """`supportloop argilla agreement`: agreement of the pulled responses, saved as the run
    directory `out` (record_agreement dataset, summary, lineage); returns (run dir, summary)."""
    from supportloop.config import dump_config
    from supportloop.runs import RunDir, dataset_fingerprint, load_dataset_artifact

    responses = load_dataset_artifact(config.pull_dir / "responses")
    records, summary = compute_agreement(responses)
    run = RunDir(out, "argilla-agreement")
    target = run.save_dataset("record_agreement", records)
    run.write_summary(summary)
    run.write_lineage(
        inputs={"responses": dataset_fingerprint(responses)},
        config=dump_config(config),
        outputs={"record_agreement": str(target)},
    )
    return run.path, summary

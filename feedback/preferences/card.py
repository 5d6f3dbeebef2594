"""Dataset cards: the figures a trainer's user needs before trusting a preference dataset.

`describe` computes them from the rows of each split (counts by source, agreement
distribution, label balance); `render_card` writes them, the filters applied and the lineage
as the README.md saved next to the data (and pushed with it to a hub).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from supportloop.feedback.preferences.kto import label_balance

AGREEMENT_BINS = (0.2, 0.4, 0.6, 0.8)
USES = {
    "pairs": ("DPOTrainer, RewardTrainer", ["dpo", "reward-modeling"]),
    "kto": ("KTOTrainer", ["kto"]),
    "sft": ("SFTTrainer", ["sft"]),
}


def agreement_bin(value: float | None) -> str:
    if value is None:
        return "none"
    low = 0.0
    for high in AGREEMENT_BINS:
        if value < high:
            return f"[{low:.1f}, {high:.1f})"
        low = high
    return f"[{low:.1f}, 1.0]"


def describe(splits: dict[str, list[dict[str, Any]]], labelled: bool) -> dict[str, Any]:
    """Counts by split and source, agreement distribution, and (KTO) label balance."""
    info: dict[str, Any] = {"rows": {name: len(rows) for name, rows in splits.items()}}
    info["by_source"] = {
        name: dict(sorted(Counter(r["signal"] or r["source"] for r in rows).items()))
        for name, rows in splits.items()
    }
    every = [row for rows in splits.values() for row in rows]
    bins = Counter(agreement_bin(row["agreement"]) for row in every)
    info["agreement_distribution"] = dict(sorted(bins.items()))
    if labelled:
        info["label_balance"] = {
            name: label_balance([r["label"] for r in rows])
            for name, rows in [*splits.items(), ("all", every)]
        }
    return info


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _policy(config: dict[str, Any]) -> str:
    agg, agreement = config["aggregation"], config["agreement"]
    below = (
        "dropped"
        if agreement["below"] == "drop"
        else f"kept with weight {agreement['below_weight']}"
    )
    return (
        f"Annotators aggregated by {agg['ranking']} (rankings), {agg['rating']} (ratings), "
        f"majority with explicit ties (resolves_issue), {agg['flags']} (flags). Records with "
        f"agreement below {agreement['threshold']} {below}; records without agreement: "
        f"{agreement['missing']}. Sources and weights: see `config` under Lineage."
    )


def render_card(name: str, summary: dict[str, Any], lineage: dict[str, Any]) -> str:
    """README.md for one saved dataset, from the run summary and lineage."""
    info = summary["datasets"][name]
    trainers, tags = USES[name]
    splits = list(info["rows"])
    sources = sorted({s for counts in info["by_source"].values() for s in counts})
    parts = [
        "---",
        f"tags: [supportloop, {', '.join(tags)}]",
        "---",
        f"# supportloop preference data: `{name}`",
        "",
        f"Built by `supportloop preferences` from annotator responses"
        f"{' and logged signals' if name == 'kto' else ''}. TRL conversational format, "
        f"for {trainers} without conversion. Each row keeps `conversation_id`, `source`, "
        "`agreement`, `annotators`, `record_id` and a `weight` (source weight x agreement "
        "weight). Train and test share no conversation"
        f"{' and no customer' if summary['split']['by_customer'] else ''}.",
        "",
        "## Rows by source",
        "",
        _table(
            ["source", *splits],
            [[s, *(info["by_source"][sp].get(s, 0) for sp in splits)] for s in sources]
            + [["**total**", *(info["rows"][sp] for sp in splits)]],
        ),
        "",
        "## Agreement (per-record, rows of all splits)",
        "",
        _table(["agreement", "rows"], [[k, v] for k, v in info["agreement_distribution"].items()]),
    ]
    if "label_balance" in info:
        balance = info["label_balance"]
        parts += [
            "",
            "## Label balance",
            "",
            _table(
                ["split", "desirable", "undesirable", "suggested desirable_weight"],
                [
                    [sp, b["desirable"], b["undesirable"], b.get("suggested_desirable_weight", "-")]
                    for sp, b in balance.items()
                ],
            ),
        ]
    parts += [
        "",
        "## Filtering applied",
        "",
        _policy(lineage["config"]),
        "",
        "Aggregation of annotators per record:",
        "",
        _table(["count", "value"], [[k, v] for k, v in summary["aggregation"].items()]),
        "",
        f"Building `{name}`:",
        "",
        _table(["filter", "rows"], [[k, v] for k, v in info["filters"].items()]),
        "",
        "## Lineage",
        "",
        "```json",
        json.dumps(
            {key: lineage[key] for key in ("inputs", "config", "versions") if key in lineage},
            indent=2,
            default=str,
        ),
        "```",
        "",
    ]
    return "\n".join(parts)

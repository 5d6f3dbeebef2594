"""Matplotlib figures for the HTML report, returned as base64 PNGs to inline (no extra files)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"champion": "#7f8c8d", "candidate": "#2e86de"}


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def metrics_side_by_side(metrics: dict[str, dict]) -> str:
    """Left: rate per metric for both models. Right: paired difference with its CI."""
    names = list(metrics)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.4), sharey=True)
    ys = range(len(names))
    height = 0.38
    for offset, role in ((-height / 2, "champion"), (height / 2, "candidate")):
        left.barh(
            [y + offset for y in ys],
            [metrics[n][role] for n in names],
            height,
            color=COLORS[role],
            label=role,
        )
    left.set_yticks(list(ys), names)
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.set_xlabel("rate over scenarios")
    left.legend(loc="lower right", fontsize=8)
    for y, name in zip(ys, names, strict=True):
        m = metrics[name]
        right.errorbar(
            m["diff"],
            y,
            xerr=[[m["diff"] - m["ci_low"]], [m["ci_high"] - m["diff"]]],
            fmt="o",
            color="#2e86de",
            capsize=3,
        )
    right.axvline(0, color="#333", linewidth=0.8)
    right.set_xlabel("candidate - champion (paired bootstrap CI)")
    fig.tight_layout()
    return _png(fig)


def per_topic(topics: dict[str, dict[str, float]]) -> str:
    names = list(topics)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(names) + 2), 3.2))
    width = 0.38
    xs = range(len(names))
    for offset, role in ((-width / 2, "champion"), (width / 2, "candidate")):
        ax.bar(
            [x + offset for x in xs],
            [topics[n].get(role, 0) for n in names],
            width,
            color=COLORS[role],
            label=role,
        )
    ax.set_xticks(list(xs), [f"{n}\n(n={topics[n].get('n', 0)})" for n in names], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("resolved (simulation)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)

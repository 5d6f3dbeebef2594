"""The metric table of docs/reading-a-report.md, generated from the metric registry.

A hand-kept table drifts from the code; this one is rewritten between two markers by
`python -m supportloop.eval.metrics_doc` and a test fails while the file differs from what it would
write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from supportloop.eval.metrics import MetricSpec, all_metrics

DOC = Path(__file__).resolve().parents[1] / "docs" / "reading-a-report.md"
START = (
    "<!-- metrics: generated from eval/metrics.py by `python -m supportloop.eval.metrics_doc` -->"
)
END = "<!-- end of generated metrics -->"


def metrics_table(metrics: list[MetricSpec]) -> str:
    """A markdown table: name, group, which direction is better, meaning."""
    rows = [
        "| metric | group | better | meaning |",
        "|---|---|---|---|",
        *(f"| `{m.name}` | {m.group} | {m.direction} | {m.description} |" for m in metrics),
    ]
    return "\n".join(rows)


def with_table(text: str, metrics: list[MetricSpec]) -> str:
    """`text` with the block between the markers replaced by the generated table."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{DOC}: the markers {START!r} and {END!r} are missing")
    return f"{head}{START}\n{metrics_table(metrics)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    """Rewrite the table; with `--check`, exit 1 instead when the file is stale."""
    text = DOC.read_text(encoding="utf-8")
    fresh = with_table(text, all_metrics())
    if fresh == text:
        return 0
    if "--check" in argv:
        print(f"{DOC} is stale: run python -m supportloop.eval.metrics_doc", file=sys.stderr)
        return 1
    DOC.write_text(fresh, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

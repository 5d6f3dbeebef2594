"""Pathological records in a JSONL log: each is quarantined with the limit it broke
(feedback/ingest/config.py InputLimits), the rows around them are ingested, and the ingest
process's peak memory stays far below what reading the records whole would take.

Real `supportloop ingest` processes; peak RSS from the kernel (os.wait4's rusage) for a run
on the good rows alone and for the same rows with the pathological ones between them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ingest.helpers import transcript

REPO = Path(__file__).resolve().parents[2]
GOOD = 40
HUGE_LINE = 50 << 20  # bytes
MANY_MESSAGES = 100_000
DEEP = 100_000  # levels: far past the interpreter's recursion limit
# Reading the 50 MB line whole holds it twice (bytes, then text) before json.loads builds a
# third copy: 100+ MB over a run without it (measured: +295 MB with the limits raised). The
# bounded reader holds at most 8 MiB of a line; parsing the 3 MB record of 100,000 messages
# is the largest cost left (measured: +41 MB in all).
EXTRA_PEAK_BOUND = HUGE_LINE * 3 // 2


def _good(i: int) -> str:
    return json.dumps(transcript(f"good-{i}", f"u{i}", f"Question {i} about my order?"))


def _pathological() -> dict[str, str]:
    """Source line (as text) of each pathological record, by what it is."""
    huge = transcript("huge-line", "u-x", "x")
    huge["metadata"] = {"blob": "y" * HUGE_LINE}
    many = transcript("many-messages", "u-y", "hi")
    many["messages"] = [{"role": "user", "content": "m"}] * MANY_MESSAGES
    deep = json.dumps(transcript("deep", "u-z", "hi")).replace(
        '"metadata": {', '"metadata": {"x": ' + "[" * DEEP + "]" * DEEP + ", ", 1
    )
    nested = transcript("nested-64", "u-w", "hi")
    nested["metadata"] = {"x": json.loads("[" * 64 + "]" * 64)}
    return {
        "huge-line": json.dumps(huge),
        "many-messages": json.dumps(many),
        "deep": deep,
        "nested-64": json.dumps(nested),
    }


def _write(path: Path, bad: dict[str, str]) -> dict[str, int]:
    """Good rows with the bad ones spread between them; returns each bad one's line number."""
    lines = [_good(i) for i in range(GOOD)]
    where = {}
    for offset, (name, line) in enumerate(bad.items()):
        position = (offset + 1) * GOOD // (len(bad) + 1) + offset
        lines.insert(position, line)
        where[name] = position + 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return where


def _ingest(logs: Path, run: Path) -> tuple[dict, int]:
    """Summary and peak RSS in bytes of a real ingest process."""
    argv = [
        str(Path(sys.executable).parent / "supportloop"),
        "ingest",
        "configs/ingest/demo.yaml",
        f"inputs.0.path={logs}",
        f"output_dir={run}",
        "num_proc=1",
        "--no-progress",
    ]
    with (run.parent / f"{run.name}.log").open("w") as log:
        process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, (run.parent / f"{run.name}.log").read_text()[-3000:]
    return json.loads((run / "summary.json").read_text()), usage.ru_maxrss * 1024


@pytest.mark.slow
def test_oversized_records_are_quarantined_in_bounded_memory(tmp_path):
    _write(tmp_path / "plain.jsonl", {})
    plain, plain_peak = _ingest(tmp_path / "plain.jsonl", tmp_path / "plain")
    bad = _pathological()
    where = _write(tmp_path / "mixed.jsonl", bad)
    mixed, mixed_peak = _ingest(tmp_path / "mixed.jsonl", tmp_path / "mixed")

    assert plain["accepted"] == mixed["accepted"] == GOOD
    assert mixed["quarantined"] == len(bad) and mixed["balanced"]
    quarantine = [
        json.loads(line)
        for line in (tmp_path / "mixed" / "quarantine.jsonl").read_text().splitlines()
    ]
    reasons = {row["line"]: row["reason"] for row in quarantine}
    assert reasons == {
        where["huge-line"]: f"record too large: {len(bad['huge-line'])} bytes, over the "
        f"{8 << 20} limit",
        where["many-messages"]: f"messages: {MANY_MESSAGES} messages, over the 2000 limit",
        where["deep"]: "record nested too deeply: over the 32 limit of levels",
        where["nested-64"]: "record nested too deeply: over the 32 limit of levels",
    }
    kept = {row["line"]: len(row["raw"]) for row in quarantine}
    assert kept[where["huge-line"]] < 2_000  # only its start, not 50 MB in the quarantine file
    extra = mixed_peak - plain_peak
    assert extra < EXTRA_PEAK_BOUND, (plain_peak >> 20, mixed_peak >> 20)

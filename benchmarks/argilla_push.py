"""Records/s for batched vs one-at-a-time push, and pull throughput, against a local Argilla.

Starts its own embedded stack in a temporary data directory (or uses ARGILLA_API_URL/KEY for
push and pull when set; the simulated responses then need the embedded stack, so the pull part
is skipped), pushes synthetic contract-shaped records with `dataset.records.log` in batches and
one record per request, lets one simulated annotator submit `--annotate` responses through the
API, then times `pull`. Prints a table and writes JSON (default
runs/benchmarks/argilla_push.json).

    .venv/bin/python benchmarks/argilla_push.py --records 500 --single 50
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from supportloop.feedback.argilla.connection import connect, external_server
from supportloop.feedback.argilla.pull import pull
from supportloop.feedback.argilla.push import build_record_payloads, ensure_dataset, judged_turns
from supportloop.feedback.argilla.settings import ArgillaConfig, SimulationConfig
from supportloop.feedback.argilla.stack import StackConfig, down, up
from supportloop.feedback.demo.simulated_annotators import simulate
from supportloop.models.sampling import Candidate
from supportloop.runs import write_json_atomic

REPO = Path(__file__).resolve().parents[1]


def conversations(n: int, offset: int = 0) -> list[dict]:
    """Synthetic conversations in the ingest contract (two user turns, a retrieved doc)."""
    return [
        {
            "conversation_id": f"bench-{offset + i}",
            "customer_id": f"cust-{i % 50}",
            "topic": ["returns", "billing", "delivery"][i % 3],
            "model_version": "v1",
            "channel": "chat",
            "messages": [
                {"role": "user", "content": f"Hi, order #W{10000 + i} has not arrived yet."},
                {"role": "assistant", "content": "Sorry to hear that! Let me check."},
                {"role": "user", "content": "It was due three days ago, can you refund it?"},
                {"role": "assistant", "content": "Your parcel is delayed; it arrives tomorrow."},
            ],
            "context": {
                "retrieved_docs": [
                    {
                        "doc_id": "policy-delivery",
                        "title": "Late deliveries",
                        "text": "Refunds for late parcels are possible after 10 days of delay.",
                    }
                ],
                "customer_profile": '{"plan": "standard"}',
            },
            "signals": {"thumbs": [], "csat": 3, "escalated": False, "resolved": i % 2 == 0},
            "repeat_contact": False,
        }
        for i in range(n)
    ]


def records_for(convs: list[dict]) -> list:
    import argilla as rg

    turns = list(judged_turns(convs, "last"))
    cands = [
        [
            Candidate("c0", t.logged, "logged"),
            Candidate(
                "c1", f"I will refund order {t.conversation['conversation_id']} today.", "generated"
            ),
            Candidate("c2", "Could you tell me your order number?", "generated"),
        ]
        for t in turns
    ]
    payloads, _ = build_record_payloads(turns, cands, slots=3)
    return [rg.Record(id=p["id"], fields=p["fields"], metadata=p["metadata"]) for p in payloads]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(n_batched: int, n_single: int, batch_size: int, n_annotate: int, credentials: Path) -> dict:
    owner = connect(credentials)
    config = ArgillaConfig(
        dataset=f"bench-{int(time.time())}",
        credentials=credentials,
        guidelines=REPO / "docs" / "annotation-guidelines.md",
        pull_dir=Path(tempfile.mkdtemp()) / "pull",
        min_submitted=1,
    )
    dataset = ensure_dataset(owner, config)
    batched = records_for(conversations(n_batched))
    single = records_for(conversations(n_single, offset=n_batched))
    t_batched = timed(lambda: dataset.records.log(batched, batch_size=batch_size))
    t_single = timed(lambda: [dataset.records.log([r], batch_size=1) for r in single])
    result = {
        "records_batched": n_batched,
        "batch_size": batch_size,
        "batched_records_per_s": n_batched / t_batched,
        "records_single": n_single,
        "single_records_per_s": n_single / t_single,
    }
    result["speedup"] = result["batched_records_per_s"] / result["single_records_per_s"]
    if not external_server():
        annotators = {"annotator-1": connect(credentials, "annotator-1")}
        sim = SimulationConfig(
            annotators={"annotator-1": 0.1}, max_records_per_annotator=n_annotate
        )
        count = {}
        t_sim = timed(lambda: count.update(simulate(owner, annotators, config, sim)))
        result["responses_submitted"] = count["annotator-1"]
        result["responses_submitted_per_s"] = count["annotator-1"] / t_sim
        pulled = {}
        t_pull = timed(lambda: pulled.update(pull(owner, config)))
        result["pull_rows"] = pulled["rows"]
        result["pull_rows_per_s"] = pulled["rows"] / t_pull
        t_idle = timed(lambda: pull(owner, config))
        result["pull_nothing_new_s"] = t_idle
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500, help="records pushed in batches")
    parser.add_argument("--single", type=int, default=50, help="records pushed one by one")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--annotate", type=int, default=100, help="responses to submit and pull")
    parser.add_argument("--out", type=Path, default=REPO / "runs/benchmarks/argilla_push.json")
    args = parser.parse_args()
    # A SIGTERM (e.g. `timeout`) must still stop the stack this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = None
    if external_server():
        credentials = Path("/nonexistent")
    else:
        stack = StackConfig(
            data_dir=Path(tempfile.mkdtemp(prefix="argilla-bench-")),
            port=0,
            server_venv=REPO / ".venv-argilla-server",
            annotators=["annotator-1"],
        )
        credentials = up(stack).credentials_file
    # The machine is shared: the 1-minute load average says how loaded it was while timing.
    load_before = os.getloadavg()[0]
    try:
        result = run(args.records, args.single, args.batch_size, args.annotate, credentials)
    finally:
        if stack is not None:
            down(stack)
    result["load_avg_1m_before"] = load_before
    result["load_avg_1m_after"] = os.getloadavg()[0]
    write_json_atomic(args.out, result)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(
            f"{key:<{width}}  {value:.2f}"
            if isinstance(value, float)
            else f"{key:<{width}}  {value}"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

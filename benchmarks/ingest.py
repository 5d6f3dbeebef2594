"""Ingest throughput and peak memory at 10k and 100k conversations, projected to 2.3M.

Usage: .venv/bin/python benchmarks/ingest.py [--sizes 10000 100000] [--num-proc 2] [--set K=V]

Generates logs of realistic length (6-10 messages; openings drawn from the 10k real CFPB
narratives and 114 tau2 retail scenarios, so they repeat about 10x at 100k; PII in about a
third of conversations, 3% logging duplicates, 10% repeat contacts, 30% without an intent)
and runs the full ingest (validation, redaction with the name model, dedupe, repeat-contact
labelling) in a fresh process per size, so peak memory is that run's alone. Reports
conversations/s, seconds per stage, peak memory of the main process (anonymous and file-backed)
and of the largest worker, and the projection for 2.3M conversations; writes
runs/benchmarks/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REPLIES = [
    "I'm sorry to hear that. Could you share your order number so I can take a look?",
    "Thanks for waiting. I can see the order was delivered on Tuesday; returns are accepted "
    "within 30 days of delivery as long as the item is unused.",
    "I have started the exchange for you. You will receive an email with the return label.",
    "Refunds go back to the original payment method within 5-7 business days.",
    "Is there anything else I can help you with today?",
]
FOLLOW_UPS = [
    "Yes, it is order #W{order}.",
    "I already told you the order number.",
    "Okay, and when will I get my money back?",
    "My email is {email}, please send it there.",
    "No, that is all. Thanks.",
    "I am {name}, zip code {zip}.",
]


def generate(path: Path, count: int, seed: int = 0) -> None:
    from supportloop.feedback.sources import cfpb_complaints, tau2_db, tau2_tasks

    rng = random.Random(seed)
    openings = [c["narrative"][:500] for c in cfpb_complaints()]  # all 10k in the wheel
    openings += [t["user_scenario"]["instructions"]["reason_for_call"] for t in tau2_tasks()]
    users = list(tau2_db()["users"].values())
    customers = max(1, int(count * 0.6))
    with path.open("w", encoding="utf-8") as handle:
        previous = None
        for index in range(count):
            user = users[index % len(users)]
            name = f"{user['name']['first_name']} {user['name']['last_name']}"
            values = {
                "order": rng.randint(1000000, 9999999),
                "email": user["email"],
                "name": name,
                "zip": user["address"]["zip"],
            }
            hour = index * 24 * 30 / count
            messages = [{"role": "user", "content": rng.choice(openings)}]
            for turn in range(rng.randint(3, 5) * 2 - 1):
                if turn % 2 == 0:
                    content = rng.choice(REPLIES)
                else:
                    content = rng.choice(FOLLOW_UPS)
                    content = content.format(**values) if rng.random() < 0.35 else content
                role = "assistant" if turn % 2 == 0 else "user"
                messages.append(
                    {"role": role, "content": content.replace("{", "").replace("}", "")}
                )
            row = {
                "conversation_id": f"b-{index}",
                "customer_id": f"cust-{rng.randrange(customers)}",
                "started_at": 1_790_000_000 + int(hour * 3600),
                "model_version": "v1" if index % 2 else "v2",
                "messages": messages,
                "metadata": {"intent": rng.choice(["return", "refund", "shipping"])}
                if rng.random() < 0.7
                else {},
                "context": {"customer_profile": {"name": user["name"], "email": user["email"]}},
            }
            if previous and rng.random() < 0.03:  # logging duplicate of the previous row
                row = {**previous, "conversation_id": f"b-{index}"}
            if previous and rng.random() < 0.10:  # repeat contact of the previous customer
                row["customer_id"] = previous["customer_id"]
            previous = row
            handle.write(json.dumps(row) + "\n")


class PeakMemory(threading.Thread):
    """Peak resident memory of this process, split into anonymous memory (what the process
    holds) and file-backed pages (the memory-mapped Arrow files it reads; the kernel drops
    those under pressure, but ru_maxrss counts them)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = {"RssAnon": 0, "RssFile": 0}

    def run(self) -> None:
        while True:
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in self.peak_mb:
                    self.peak_mb[key] = max(self.peak_mb[key], int(value.split()[0]) // 1024)
            time.sleep(0.1)


def run_one(size: int, num_proc: int, workdir: Path, overrides: list[str]) -> dict:
    from supportloop.config import apply_overrides, validate_config
    from supportloop.feedback.ingest.config import IngestConfig
    from supportloop.feedback.ingest.pipeline import run_ingest

    logs = workdir / f"logs-{size}.jsonl"
    generate(logs, size)
    settings = {
        "inputs": [{"path": str(logs)}],
        "output_dir": str(workdir / f"out-{size}"),
        "num_proc": num_proc,
    }
    config = validate_config(IngestConfig, apply_overrides(settings, overrides), "benchmark")
    memory = PeakMemory()
    memory.start()
    started = time.perf_counter()
    summary = run_ingest(config, progress=False)
    seconds = time.perf_counter() - started
    main_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "conversations": size,
        "overrides": overrides,
        "seconds": round(seconds, 1),
        "conversations_per_second": round(size / seconds, 1),
        "peak_rss_main_mb": round(main_kb / 1024),
        "peak_main_anonymous_mb": memory.peak_mb["RssAnon"],
        "peak_main_file_backed_mb": memory.peak_mb["RssFile"],
        "peak_rss_worker_mb": round(child_kb / 1024),
        "accepted": summary["accepted"],
        "duplicates_removed": summary["duplicates_removed"],
        "repeat_contacts": summary["repeat_contacts"],
        "pii_redacted": summary["pii_redacted"],
        "stage_seconds": summary["stage_seconds"],
        "repeat_contact_work": summary["repeat_contact_work"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="ingest config override, e.g. repeat_contact.opening_max_tokens=64",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "runs/benchmarks/ingest.json")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.num_proc, args.workdir, args.overrides)))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as workdir:
        for size in args.sizes:
            command = [sys.executable, __file__, "--one", str(size), "--num-proc",
                       str(args.num_proc), "--workdir", workdir]  # fmt: skip
            command += [f"--set={item}" for item in args.overrides]
            load_before = os.getloadavg()[0]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            results[-1]["load_average_1min"] = [load_before, os.getloadavg()[0]]
            print(json.dumps(results[-1]), flush=True)
    rate = results[-1]["conversations_per_second"]
    projection = 2_300_000 / rate / 3600
    print(f"projection for 2.3M conversations at {rate}/s: {projection:.2f} h")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"runs": results, "projection_2_3M_hours": round(projection, 2)}
    args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Eval throughput: scenarios/min with batched vs one-at-a-time generation, in one run.

Both modes play the same tau2 retail scenarios (plus injections) with the scripted customer,
the same model and seeds; only how model turns are generated differs: all open conversations
in left-padded batches (`batch_size`) versus one conversation per generate call. Writes JSON
(default runs/benchmarks/eval.json).

    .venv/bin/python benchmarks/eval.py --scenarios 8 --max-turns 2 --max-new-tokens 48
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from supportloop.eval.harness import simulate  # noqa: E402
from supportloop.eval.injections import add_injections  # noqa: E402
from supportloop.eval.matching import Embedder, FactMatcher  # noqa: E402
from supportloop.eval.simulator import ScriptedSimulator  # noqa: E402
from supportloop.eval.tau2 import load_tau2_suite  # noqa: E402
from supportloop.models.generate import SamplingConfig, load_policy  # noqa: E402
from supportloop.runs import write_json_atomic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--scenarios", type=int, default=8, help="base scenarios (+2 injection)")
    parser.add_argument("--max-turns", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/benchmarks/eval.json")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    suite = add_injections(load_tau2_suite(None, "retail", "test", args.scenarios), 2)
    policy = load_policy(args.model, args.adapter)
    matcher = FactMatcher(Embedder("minilm"))
    # Greedy: both modes then do the same work (same replies, same number of turns).
    sampling = SamplingConfig(
        max_new_tokens=args.max_new_tokens, do_sample=False, batch_size=args.batch_size
    )
    # Warm-up (first-call allocations, lazy inits) so neither mode pays it.
    simulate(policy, suite.scenarios[:1], ScriptedSimulator(), matcher, sampling, max_turns=1)
    results = {}
    for mode, batched in (("batched", True), ("one_at_a_time", False)):
        started = time.perf_counter()
        run = simulate(
            policy,
            suite.scenarios,
            ScriptedSimulator(),
            matcher,
            sampling,
            trials=1,
            max_turns=args.max_turns,
            batched=batched,
        )
        wall = time.perf_counter() - started
        turns = sum(m["role"] == "assistant" for c in run.conversations for m in c.messages)
        results[mode] = {
            "scenarios": len(suite.scenarios),
            "model_turns": turns,
            "generate_calls": run.generate_calls,
            "wall_s": round(wall, 1),
            "generate_s": round(run.generate_seconds, 1),
            "scenarios_per_min": round(60 * len(suite.scenarios) / wall, 2),
        }
        print(f"{mode:>14}: {results[mode]}", flush=True)
    speedup = (
        results["batched"]["scenarios_per_min"] / results["one_at_a_time"]["scenarios_per_min"]
    )
    report = {
        "model": args.model,
        "adapter": args.adapter,
        "torch_threads": torch.get_num_threads(),
        "max_turns": args.max_turns,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "results": results,
        "speedup": round(speedup, 2),
    }
    write_json_atomic(args.out, report)
    print(f"speedup batched / one-at-a-time: {speedup:.2f}x -> {args.out}")


if __name__ == "__main__":
    main()

"""Does one round of the loop make the assistant better? And does the gate tell?

Usage: .venv/bin/python benchmarks/loop_learns.py [--reuse-data] [--rounds 2] [--steps 40]

Runs the loop with the same commands a user types, on the embedded defaults, then judges the
result on conversations no preference came from:

1. data: `supportloop run configs/pipeline/loop_learns.yaml` (sample logs -> ingest -> Argilla
   -> simulated annotators -> pull -> agreement -> preferences); the conversations past the
   pipeline's `max_records` are never pushed, so they stay held out;
2. round 1: `supportloop train configs/train/dpo.yaml` on the preference pairs;
3. flipped: the same pairs with chosen and rejected swapped, trained with the same recipe;
4. each candidate against the base model with `supportloop eval` (the gate decides), with the
   win rate on the held-out conversations (gold judge: the simulated annotators' documented
   rules without their noise; training only ever saw the noisy annotators' rankings);
5. the identical candidate (the base model against itself): must never be promoted;
6. round 2 (optional): the round-1 adapter merged into a new base, which replies to the
   training conversations as the new candidates, is annotated, and trains a new adapter;
   judged against the round-1 model.

Writes runs/loop_learns/results.json and docs/results.md (the table) after every step, so an
interrupted run still leaves its figures. Figures depend on the machine: the table names it
(CPU model, bf16, load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "supportloop")
WORK = ROOT / "runs" / "loop_learns"
PIPELINE = "configs/pipeline/loop_learns.yaml"
RESULTS = ROOT / "docs" / "results.md"


def supportloop(*argv: str, log: Path) -> float:
    """Run one supportloop command (output to `log`); returns its wall time, fails loudly."""
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ supportloop {' '.join(argv)}\n")
        handle.flush()
        status = subprocess.run(
            [CLI, *argv], cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False
        ).returncode
    if status != 0:
        sys.exit(f"supportloop {' '.join(argv)} failed (exit {status}); see {log}")
    return time.perf_counter() - started


def flip_pairs(source: Path, target: Path) -> Path:
    """The pairs with chosen and rejected swapped: preferences that teach the wrong thing."""
    from supportloop.runs import RunDir, dataset_fingerprint, load_dataset_artifact

    pairs = load_dataset_artifact(source)
    flipped = pairs.map(
        lambda row: {"chosen": row["rejected"], "rejected": row["chosen"]},
        desc="flipping pairs",
    )
    run = RunDir(target.parent, "flipped-preferences")
    saved = run.save_dataset(target.name, flipped)
    run.write_lineage(
        inputs={"pairs": dataset_fingerprint(pairs["train"])},
        config={"flip": "chosen <-> rejected"},
        outputs={target.name: str(saved)},
    )
    return saved


def train(data: Path, output: Path, steps: int, log: Path, *extra: str) -> float:
    """`supportloop train` of the DPO recipe; `extra` overrides come after the benchmark's."""
    return supportloop(
        "train",
        "configs/train/dpo.yaml",
        f"data.path={data}",
        f"output_dir={output}",
        f"trainer.max_steps={steps}",
        "trainer.report_to=[]",
        *extra,
        log=log,
    )


def evaluate(
    name: str,
    candidate: dict[str, Any],
    champion: dict[str, Any],
    preferences: list[Path],
    args: argparse.Namespace,
    log: Path,
) -> tuple[dict[str, Any], float]:
    """`supportloop eval` of candidate vs champion: the gate's verdict and the win rate."""
    out = WORK / "eval" / name
    overrides = [
        f"output_dir={out}",
        f"registry={WORK / 'registry.sqlite'}",
        f"candidate={json.dumps(candidate)}",
        f"champion={json.dumps(champion)}",
        f"suite.limit={args.suite_limit}",
        "simulator.trials=1",
        "win_rate.prompts=conversations",
        f"win_rate.conversations={WORK / 'ingest' / 'conversations'}",
        f"win_rate.preferences={json.dumps([str(p) for p in preferences])}",
        f"win_rate.samples={args.samples}",
        "report.wandb=false",
        # the gate's primary criterion: the gold win rate on the held-out conversations
        "gate.overrides.primary_metric=win_rate:gold",
    ]
    seconds = supportloop("eval", "configs/eval/retail.yaml", *overrides, log=log)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary, seconds


def dpo_eval_metrics(adapter: Path) -> dict[str, Any]:
    """Held-out pair metrics TRL logged at the end of training (reward accuracy, margins)."""
    summary = json.loads((adapter / "training_summary.json").read_text(encoding="utf-8"))
    final = (summary.get("metrics") or {}).get("final") or {}
    wanted = ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "train_loss")
    return {key: round(final[key], 4) for key in wanted if key in final}


def row(name: str, summary: dict[str, Any], train_s: float | None, eval_s: float) -> dict:
    decision = summary["decision"]
    win = summary.get("win_rate") or {}
    return {
        "round": name,
        "verdict": decision["verdict"],
        "reason": decision.get("reason", ""),
        "stability": decision.get("stability"),
        "win_rate": win.get("judges", {}),
        "held_out_prompts": win.get("prompts"),
        "dropped": win.get("dropped"),
        "business": win.get("metrics", {}),
        "comparisons": summary.get("comparisons", {}),
        "train_s": train_s,
        "eval_s": eval_s,
    }


def machine() -> dict[str, Any]:
    from supportloop.training.hardware import cpu_flags

    flags = cpu_flags()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "bf16_native": "avx512_bf16" in flags or "amx_bf16" in flags,
        "load_average": os.getloadavg(),
    }


def fmt_ci(entry: dict[str, Any] | None, pct: bool = True) -> str:
    """A rate or difference with its CI: in % (1 decimal), or as a share (3 decimals)."""
    if not entry:
        return "-"
    scale, digits = (100, 1) if pct else (1, 3)
    rate = entry.get("rate", entry.get("diff"))
    low, high = entry["ci_low"] * scale, entry["ci_high"] * scale
    interval = f"{rate * scale:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return interval + (f" (n={entry['n']})" if "n" in entry else "")


def write_table(results: dict[str, Any]) -> str:
    lines = [
        "# Does the loop learn? (generated by `benchmarks/loop_learns.py`)",
        "",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"native bf16: {results['machine']['bf16_native']}, load average at start "
        f"{results['machine']['load_average'][0]:.2f}. Total wall time "
        f"{results.get('total_s', 0) / 60:.1f} min"
        + (
            " (judged again with --judge-only: the evaluations only; training times are those "
            "of the run that trained the adapters)."
            if results["args"].get("judge_only")
            else "."
        ),
        "",
        f"Data: {json.dumps(results.get('data', {}))}",
        "",
        "Win rates are the candidate's share of held-out prompts won against the champion "
        "(ties 0.5), in %, with 95% paired bootstrap CIs; business metrics are differences "
        "candidate - champion (percentage points; policy overlap in share of words).",
        "",
        "| round | candidate vs champion | gold win rate | reward-model win rate | "
        "asks known info | unauthorised commitment | policy overlap | verdict | train s | eval s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for item in results["rounds"]:
        win, biz = item["win_rate"], item["business"]
        lines.append(
            f"| {item['round']} | {item['versus']} | {fmt_ci(win.get('gold'))} "
            f"| {fmt_ci(win.get('reward_model'))} "
            f"| {fmt_ci(biz.get('asks_known_info'))} "
            f"| {fmt_ci(biz.get('unauthorised_commitment'))} "
            f"| {fmt_ci(biz.get('policy_overlap'), pct=False)} "
            f"| {item['verdict']} | {item['train_s'] or 0:.0f} | {item['eval_s']:.0f} |"
        )
    lines += [
        "",
        "DPO held-out pair metrics (TRL's eval split of the preferences; "
        "reward accuracy target >= 0.7):",
        "",
    ]
    for name, metrics in results.get("dpo_eval", {}).items():
        lines.append(f"- {name}: {json.dumps(metrics)}")
    lines += ["", "Gate reasons:", ""]
    for item in results["rounds"]:
        lines.append(f"- {item['round']}: {item['verdict']}: {item['reason']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse-data", action="store_true", help="keep runs/loop_learns data")
    parser.add_argument("--rounds", type=int, default=2, choices=(1, 2))
    parser.add_argument("--steps", type=int, default=40, help="DPO steps per training run")
    parser.add_argument("--samples", type=int, default=2, help="replies per held-out prompt")
    parser.add_argument("--suite-limit", type=int, default=8, help="tau2 scenarios in the eval")
    parser.add_argument("--no-flipped", action="store_true")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="rewrite docs/results.md from runs/loop_learns/results.json and stop",
    )
    parser.add_argument(
        "--judge-only",
        action="store_true",
        help="judge the adapters already trained under runs/loop_learns again with the current "
        "eval and gate (after a gate change); their data and training times are kept",
    )
    parser.add_argument(
        "--set", action="append", default=[], help="recipe override for every DPO run (key=value)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "benchmark.log"
    results: dict[str, Any] = {"machine": machine(), "args": vars(args), "rounds": []}
    out = WORK / "results.json"
    if args.table_only:
        stored = json.loads(out.read_text(encoding="utf-8"))
        stored["dpo_eval"] = {
            name: dpo_eval_metrics(WORK / folder)
            for name, folder in (("round1", "round1"), ("flipped", "flipped_round1"))
            if (WORK / folder / "training_summary.json").exists()
        }
        out.write_text(json.dumps(stored, indent=2, default=str), encoding="utf-8")
        RESULTS.write_text(write_table(stored), encoding="utf-8")
        return
    if args.judge_only and args.rounds == 2:
        parser.error("--judge-only judges the round-1 adapters: add --rounds 1")
    earlier = json.loads(out.read_text(encoding="utf-8")) if args.judge_only else {}
    if args.judge_only:
        args.reuse_data = True
        results["data_s"] = earlier.get("data_s")
    train_times = {item["round"]: item["train_s"] for item in earlier.get("rounds", [])}

    def trained(data: Path, output: Path, name: str) -> float | None:
        """Train the adapter, or with --judge-only take the one already there."""
        if not args.judge_only:
            return train(data, output, args.steps, log, *args.set)
        if not (output / "training_summary.json").is_file():
            parser.error(f"--judge-only: no trained adapter in {output}")
        return train_times.get(name)

    started = time.perf_counter()

    def save() -> None:
        results["total_s"] = time.perf_counter() - started
        out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        RESULTS.write_text(write_table(results), encoding="utf-8")

    pairs = WORK / "preferences" / "pairs"
    if not (args.reuse_data and pairs.exists()):
        results["data_s"] = supportloop("run", PIPELINE, log=log)
    from supportloop.runs import load_dataset_artifact

    results["data"] = {split: len(ds) for split, ds in load_dataset_artifact(pairs).items()}
    base = {"name": "smollm2-135m-instruct", "adapter": None}

    round1 = WORK / "round1"
    train_s = trained(pairs, round1, "1")
    results["dpo_eval"] = {"round1": dpo_eval_metrics(round1)}
    summary, eval_s = evaluate("round1", {**base, "adapter": str(round1)}, base, [pairs], args, log)
    results["rounds"].append({**row("1", summary, train_s, eval_s), "versus": "DPO r1 vs base"})
    save()

    if not args.no_flipped:
        flipped_pairs = WORK / "flipped" / "pairs"
        if not args.judge_only:
            flip_pairs(pairs, flipped_pairs)
        flipped = WORK / "flipped_round1"
        train_s = trained(flipped_pairs, flipped, "1 flipped")
        results["dpo_eval"]["flipped"] = dpo_eval_metrics(flipped)
        summary, eval_s = evaluate(
            "flipped", {**base, "adapter": str(flipped)}, base, [pairs], args, log
        )
        results["rounds"].append(
            {**row("1 flipped", summary, train_s, eval_s), "versus": "flipped DPO vs base"}
        )
        save()

    summary, eval_s = evaluate("identical", base, base, [pairs], args, log)
    results["rounds"].append({**row("identical", summary, None, eval_s), "versus": "base vs base"})
    save()

    if args.rounds == 2:
        results["rounds"].append(round_two(round1, pairs, args, log))
        save()
    save()
    print(write_table(results))


def round_two(round1: Path, pairs: Path, args: argparse.Namespace, log: Path) -> dict:
    """Round 1's model as the new champion; its own replies are the new candidates."""
    from supportloop.training.export import merge_adapter

    merged = WORK / "round1_merged"
    if not (merged / "config.json").exists():
        merge_adapter(round1, merged)
    r2 = WORK / "r2"
    argilla = [
        "dataset=loop-learns-r2",
        f"conversations={WORK / 'ingest' / 'conversations'}",
        f"pull_dir={r2 / 'pull'}",
    ]
    data_s = 0.0
    push = [*argilla, f"policy.model={merged}", "max_records=100", "sampling.max_new_tokens=48"]
    data_s += supportloop("argilla", "push", "configs/argilla/default.yaml", *push, log=log)
    for command in ("simulate", "pull"):
        data_s += supportloop("argilla", command, "configs/argilla/default.yaml", *argilla, log=log)
    data_s += supportloop(
        "argilla", "agreement", "configs/argilla/default.yaml", *argilla,
        "--out", str(r2 / "agreement"), log=log,
    )  # fmt: skip
    data_s += supportloop(
        "preferences",
        "configs/preferences/default.yaml",
        f"inputs.responses={r2 / 'pull' / 'responses'}",
        f"inputs.agreement={r2 / 'agreement' / 'record_agreement'}",
        f"inputs.conversations={WORK / 'ingest' / 'conversations'}",
        f"output_dir={r2 / 'preferences'}",
        log=log,
    )
    r2_pairs = r2 / "preferences" / "pairs"
    round2 = WORK / "round2"
    train_s = train(r2_pairs, round2, args.steps, log, f"model.name={merged}", *args.set)
    champion = {"name": str(merged), "adapter": None}
    summary, eval_s = evaluate(
        "round2", {**champion, "adapter": str(round2)}, champion, [pairs, r2_pairs], args, log
    )
    return {
        **row("2", summary, train_s, eval_s),
        "versus": "DPO r2 vs r1 (merged)",
        "data_s": data_s,
    }


if __name__ == "__main__":
    main()

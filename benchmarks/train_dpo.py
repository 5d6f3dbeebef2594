"""DPO training speed: `supportloop train` against TRL's own `trl dpo` CLI, and tuned vs defaults.

Usage: .venv/bin/python benchmarks/train_dpo.py [--runs 3] [--steps 8] [--model NAME]

The same job (model, steps x 4 preference pairs = one epoch, batch 4, max_length 256, LoRA
r=16 on every projection, lr) runs as three variants, interleaved round-robin so drift in
machine load hits all of them alike, each in a fresh process:

- `wrapper`: `supportloop train dpo` with the recipe's tuned settings;
- `trl-same`: `trl dpo` given the same tuned settings (the wrapper's overhead is the ratio);
- `trl-defaults`: `trl dpo` with TRL's defaults for everything the job does not fix
  (bf16 autocast, activation checkpointing on, reference log-probs recomputed every step;
  `--use_cpu true` without CUDA, or TRL's bf16 default refuses to start).

Reports per variant the median train-loop seconds/step (HF Trainer's train_runtime / steps),
the median end-to-end wall time (process start to exit: model load, tokenisation, reference
precompute, training, save) and the median peak RSS of the process tree. Precomputing the
reference log-probs moves the reference forwards out of the train loop, so tuned vs defaults
is judged on wall time: over one epoch both variants run the same number of reference
forwards. Both CLIs train with one torch thread unless OMP_NUM_THREADS is set: `trl dpo` through
`accelerate launch`, `supportloop train` by the same rule (training.launch.cpu_threads); each
run records the 1-minute load average at its start and end, as the machine may be shared.
Targets: wrapper / trl-same <= 1.0x; trl-defaults / wrapper >= 1.3x on CPU.
Writes runs/benchmarks/train_dpo.json after every run (`complete` once all runs are in).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

QUESTIONS = [
    "My order {n} has not arrived and the tracking page has not changed for a week.",
    "I was charged twice for order {n}; can you refund the duplicate payment?",
    "The blender from order {n} stopped working after two days. Can I exchange it?",
    "How do I change the delivery address on order {n}? I am moving this weekend.",
]
GOOD = (
    "I am sorry about the trouble with order {n}. I checked it: {fact} I have {action}, and you "
    "will get a confirmation email within the hour. Is there anything else I can help with?"
)
BAD = "Order {n}? Not sure. Try again later or look on the website, it is all there somewhere."
FACTS = [
    ("the parcel is held at the local depot", "asked the carrier to redeliver it tomorrow"),
    ("the second charge is a duplicate", "refunded it; it takes 5-7 business days"),
    ("it is within the 30-day warranty", "started a free exchange with a prepaid label"),
    ("it has not shipped yet", "updated the address on the order"),
]


def write_data(folder: Path, pairs: int = 64) -> tuple[Path, Path]:
    """The same pairs as a save_to_disk DatasetDict (recipe) and a JSONL folder (`trl dpo`)."""
    from datasets import Dataset, DatasetDict

    rows = []
    for i in range(pairs):
        n, kind = f"#W{1000 + i}", i % len(QUESTIONS)
        fact, action = FACTS[kind]
        rows.append(
            {
                "prompt": [{"role": "user", "content": QUESTIONS[kind].format(n=n)}],
                "chosen": [
                    {"role": "assistant", "content": GOOD.format(n=n, fact=fact, action=action)}
                ],
                "rejected": [{"role": "assistant", "content": BAD.format(n=n)}],
            }
        )
    dataset = Dataset.from_list(rows)
    saved = folder / "pairs"
    DatasetDict({"train": dataset}).save_to_disk(str(saved))
    jsonl = folder / "jsonl"
    jsonl.mkdir()
    dataset.to_json(str(jsonl / "train.jsonl"))
    return saved, jsonl


def job(args: argparse.Namespace, model: str) -> dict[str, object]:
    return {"model": model, "batch": 4, "max_length": 256, "lr": 5e-5, "steps": args.steps,
            "pairs": 4 * args.steps}  # fmt: skip


def wrapper_cmd(job: dict, data: Path, out: Path) -> list[str]:
    return [
        str(BIN / "supportloop"), "train", "dpo",
        f"model.name={job['model']}", f"data.path={data}", "data.eval_split=null",
        f"output_dir={out}", f"peft.target_modules=[{','.join(TARGETS)}]",
        "peft.r=16", "peft.lora_alpha=32", "peft.lora_dropout=0.05",
        f"trainer.max_steps={job['steps']}", f"trainer.per_device_train_batch_size={job['batch']}",
        f"trainer.max_length={job['max_length']}", f"trainer.learning_rate={job['lr']}",
        "trainer.report_to=[]", "trainer.save_strategy=no", "trainer.logging_steps=1",
    ]  # fmt: skip


def trl_cmd(job: dict, data: Path, out: Path, tuned: bool) -> list[str]:
    cmd = [
        str(BIN / "trl"), "dpo", "--model_name_or_path", job["model"], "--dataset_name", str(data),
        "--output_dir", str(out), "--use_peft", "--lora_r", "16", "--lora_alpha", "32",
        "--lora_dropout", "0.05", "--lora_target_modules", *TARGETS, "--dtype", "float32",
        "--max_steps", str(job["steps"]), "--per_device_train_batch_size", str(job["batch"]),
        "--max_length", str(job["max_length"]), "--learning_rate", str(job["lr"]),
        "--report_to", "none", "--save_strategy", "no", "--logging_steps", "1",
        "--lr_scheduler_type", "cosine", "--warmup_steps", "0.1", "--beta", "0.1",
    ]  # fmt: skip
    if tuned:  # exactly what the recipe (and the wrapper's CPU defaults) set
        cmd += ["--precompute_ref_log_probs", "true", "--activation_checkpointing", "false",
                "--bf16", "false"]  # fmt: skip
    if not torch_cuda():  # TRL's bf16 default refuses to start on CPU without it
        cmd += ["--use_cpu", "true"]
    return cmd


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def measure(cmd: list[str], log: Path) -> dict[str, float]:
    """Run to completion; wall time, peak RSS of the process tree, HF's train_runtime."""
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        root, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({process.returncode}); see {log}:\n{text[-2000:]}")
    runtime = None
    for match in re.finditer(r"\{'train_runtime'.*?\}", text):
        runtime = float(ast.literal_eval(match.group(0))["train_runtime"])
    if runtime is None:
        raise RuntimeError(f"no train_runtime in {log}")
    return {
        "wall_s": wall,
        "train_runtime_s": runtime,
        "peak_rss_mb": peak / 2**20,
        "load_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }


RATIOS = {  # name: (numerator variant, denominator variant, measure)
    "wrapper_vs_trl_s_per_step": ("wrapper", "trl-same", "s_per_step"),
    "wrapper_vs_trl_wall": ("wrapper", "trl-same", "wall_s"),
    "wrapper_vs_trl_peak_rss": ("wrapper", "trl-same", "peak_rss_mb"),
    "defaults_vs_tuned_s_per_step": ("trl-defaults", "wrapper", "s_per_step"),
    "defaults_vs_tuned_wall": ("trl-defaults", "wrapper", "wall_s"),
    "defaults_vs_tuned_peak_rss": ("trl-defaults", "wrapper", "peak_rss_mb"),
}


def build_report(spec: dict, runs: int, results: dict[str, list[dict]]) -> dict:
    """Medians and ratios over the runs measured so far (`complete` once all have run)."""
    summary = {
        name: {
            "s_per_step": statistics.median(r["train_runtime_s"] for r in rows) / spec["steps"],
            "wall_s": statistics.median(r["wall_s"] for r in rows),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rows),
        }
        for name, rows in results.items()
        if rows
    }
    ratios = {
        name: summary[top][key] / summary[bottom][key]
        for name, (top, bottom, key) in RATIOS.items()
        if top in summary and bottom in summary
    }
    complete = all(len(rows) == runs for rows in results.values())
    return {"job": spec, "runs": runs, "complete": complete, "median": summary,
            "ratios": ratios, "raw": results}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from training.models import resolve_model

    model = resolve_model(args.model)
    spec = job(args, model)
    target = ROOT / "runs" / "benchmarks" / "train_dpo.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, float]]] = {"wrapper": [], "trl-same": [], "trl-defaults": []}
    with tempfile.TemporaryDirectory(prefix="bench-dpo-") as tmp:
        tmp_path = Path(tmp)
        saved, jsonl = write_data(tmp_path, pairs=spec["pairs"])
        for run in range(args.runs):
            for name in results:
                out = tmp_path / f"{name}-{run}"
                if name == "wrapper":
                    cmd = wrapper_cmd(spec, saved, out)
                else:
                    cmd = trl_cmd(spec, jsonl, out, tuned=name == "trl-same")
                result = measure(cmd, tmp_path / f"{name}-{run}.log")
                results[name].append(result)
                print(f"run {run + 1}/{args.runs} {name:13s} " + json.dumps(result), flush=True)
                # Written after every run: an interrupted benchmark still leaves its figures.
                report = build_report(spec, args.runs, results)
                target.write_text(json.dumps(report, indent=2) + "\n")

    for name, row in report["median"].items():
        print(
            f"{name:13s} {row['s_per_step']:.2f} s/step  wall {row['wall_s']:.1f} s  "
            f"peak {row['peak_rss_mb']:.0f} MiB"
        )
    for name, value in report["ratios"].items():
        print(f"{name:30s} {value:.2f}x")
    print(f"written to {target}")


if __name__ == "__main__":
    main()

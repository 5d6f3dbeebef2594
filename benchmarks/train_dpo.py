"""DPO training speed: thread/dtype defaults, `supportloop train` vs `trl dpo`, model FLOPs
against a matmul measured in the same run, and bf16 vs fp32 loss curves.

Usage: .venv/bin/python benchmarks/train_dpo.py [--runs 2] [--steps 6] [--variants a,b,...]
       .venv/bin/python benchmarks/train_dpo.py --precision-check [--steps 12]

The job: SmolLM2-135M-Instruct, steps x 4 preference pairs (one epoch), batch 4, max_length
256, LoRA r=16 on every projection. Variants, each in a fresh process, interleaved round-robin
so drift in machine load hits all of them alike:

- `old-default`: `supportloop train` as before supportloop.training.hardware: 1 thread, fp32;
- `wrapper`: `supportloop train` with nothing set: supportloop.training.hardware picks threads and
  bf16;
- `cores-fp32`, `cores-bf16`: every usable core, fp32 / bf16 autocast;
- `trl-same`: `trl dpo` with the wrapper's threads and dtype (the wrapper's overhead is the
  ratio; under bf16 it includes supportloop.training.mixed_precision's fp32 sums, which `trl dpo`
  lacks);
- `trl-defaults`: `trl dpo` with TRL's defaults for everything the job does not fix (bf16
  autocast, activation checkpointing on, reference log-probs recomputed every step, one thread
  from `accelerate launch`; ~25 min a run on 2 shared cores, so not in the default set).

Speed is HF Trainer's train_runtime / steps (median over runs). Throughput counts model FLOPs
on the non-padding tokens TRL reports (`num_tokens`): 6 N per token for the policy's forward and
backward, plus 2 N where the reference forward runs inside the step (trl-defaults; the tuned
recipe computes it once before the loop). N = the base model's parameters (tied embeddings once:
the lookup is free, the LM head is a matmul) + the LoRA parameters; attention scores are left
out. LoRA computes no weight gradients for frozen weights, so the hardware executes about 4 N of
the 6 N: the usual convention flatters LoRA runs. The reference is torch.matmul at the model's
MLP shape (1024 tokens x hidden x intermediate) in the run's dtype and threads, measured in this
process right after each run. Every run records the 1-minute load average at its start and end.

`--precision-check` trains fp32 and bf16 on the same job and seed, plus fp32 on another seed
(other LoRA init and data order) as the scale of run-to-run noise, and reports the per-step
loss differences. At lr 5e-5 the loss falls gradually over ~10 steps; at 5e-4 it drops from
ln 2 to ~0 within two updates, where any perturbation shows as a large difference.

Writes runs/benchmarks/train_dpo.json (or train_dpo_precision.json) after every run
(`complete` once all runs are in) and prints a markdown table with the machine it ran on.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
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
VARIANTS = ["old-default", "wrapper", "cores-fp32", "cores-bf16", "trl-same", "trl-defaults"]
MACHINE_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")

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


def job(steps: int, model: str) -> dict[str, object]:
    return {"model": model, "batch": 4, "max_length": 256, "lr": 5e-5, "steps": steps,
            "pairs": 4 * steps}  # fmt: skip


def wrapper_cmd(job: dict, data: Path, out: Path, settings: list[str]) -> list[str]:
    return [
        str(BIN / "supportloop"), "train", "dpo",
        f"model.name={job['model']}", f"data.path={data}", "data.eval_split=null",
        f"output_dir={out}", f"peft.target_modules=[{','.join(TARGETS)}]",
        "peft.r=16", "peft.lora_alpha=32", "peft.lora_dropout=0.05",
        f"trainer.max_steps={job['steps']}", f"trainer.per_device_train_batch_size={job['batch']}",
        f"trainer.max_length={job['max_length']}", f"trainer.learning_rate={job['lr']}",
        "trainer.report_to=[]", "trainer.save_strategy=no", "trainer.logging_steps=1", *settings,
    ]  # fmt: skip


def trl_cmd(job: dict, data: Path, out: Path, bf16: bool | None) -> list[str]:
    """`trl dpo` on the job; `bf16=None`: TRL's defaults, else the recipe's tuned settings."""
    cmd = [
        str(BIN / "trl"), "dpo", "--model_name_or_path", job["model"], "--dataset_name", str(data),
        "--output_dir", str(out), "--use_peft", "--lora_r", "16", "--lora_alpha", "32",
        "--lora_dropout", "0.05", "--lora_target_modules", *TARGETS, "--dtype", "float32",
        "--max_steps", str(job["steps"]), "--per_device_train_batch_size", str(job["batch"]),
        "--max_length", str(job["max_length"]), "--learning_rate", str(job["lr"]),
        "--report_to", "none", "--save_strategy", "no", "--logging_steps", "1",
        "--lr_scheduler_type", "cosine", "--warmup_steps", "0.1", "--beta", "0.1",
    ]  # fmt: skip
    if bf16 is not None:  # exactly what the recipe and the wrapper's machine defaults set
        cmd += ["--precompute_ref_log_probs", "true", "--activation_checkpointing", "false",
                "--bf16", str(bf16).lower()]  # fmt: skip
    if not torch_cuda():  # TRL's bf16 default refuses to start on CPU without it
        cmd += ["--use_cpu", "true"]
    return cmd


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def plan(name: str, spec: dict, data: Path, jsonl: Path, out: Path) -> dict:
    """Command, OMP_NUM_THREADS and (where the command does not report them) threads and bf16."""
    from supportloop.training.hardware import detect_precision, detect_threads, usable_cores

    cores = str(usable_cores())
    if name == "old-default":
        return {"cmd": wrapper_cmd(spec, data, out, ["trainer.bf16=false"]), "omp": "1"}
    if name == "wrapper":
        return {"cmd": wrapper_cmd(spec, data, out, []), "omp": None}
    if name in ("cores-fp32", "cores-bf16"):
        settings = [f"threads={cores}", f"trainer.bf16={str(name == 'cores-bf16').lower()}"]
        return {"cmd": wrapper_cmd(spec, data, out, settings), "omp": None}
    if name == "trl-same":  # the choice the wrapper would make now
        threads, bf16 = detect_threads().count, detect_precision({}).bf16
        return {"cmd": trl_cmd(spec, jsonl, out, bf16), "omp": str(threads), "threads": threads,
                "bf16": bf16}  # fmt: skip
    return {"cmd": trl_cmd(spec, jsonl, out, None), "omp": None, "threads": 1, "bf16": True,
            "reference_in_step": True}  # fmt: skip


def measure(cmd: list[str], omp: str | None, log: Path) -> dict:
    """Run to completion; wall time, peak RSS of the process tree, HF's train_runtime and
    TRL's count of non-padding tokens."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
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
    tokens = re.findall(r"'num_tokens': '?([0-9.eE+]+)", text)
    if runtime is None or not tokens:
        raise RuntimeError(f"no train_runtime or num_tokens in {log}")
    return {
        "wall_s": wall,
        "train_runtime_s": runtime,
        "num_tokens": float(tokens[-1]),
        "peak_rss_mb": peak / 2**20,
        "load_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }


def matmul_gflops(threads: int, bf16: bool, shape: tuple[int, int, int]) -> float:
    """torch.matmul rate at `shape` (M, K, N) in this process, over about a second."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if bf16 else torch.float32
    m, k, n = shape
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    for _ in range(3):
        a @ b
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < 1.0:
        a @ b
        calls += 1
    torch.set_num_threads(before)
    return 2 * m * k * n * calls / elapsed / 1e9


def count_parameters(files: list[Path]) -> int:
    """Parameters stored in safetensors files (a tied embedding is stored once)."""
    from safetensors import safe_open

    total = 0
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            total += sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys())  # noqa: SIM118
    return total


def machine() -> dict:
    """The CPU (model name and the flags that decide dtype speed), cores and torch version."""
    import torch

    from supportloop.training.hardware import cpu_flags, usable_cores

    cpuinfo = Path("/proc/cpuinfo")
    names = (
        re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        if cpuinfo.is_file()
        else []
    )
    return {
        "cpu": names[0] if names else "unknown",
        "flags": [flag for flag in MACHINE_FLAGS if flag in cpu_flags()],
        "usable_cores": usable_cores(),
        "torch": torch.__version__,
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(info: dict) -> str:
    load = info.get("load_avg_end", info["load_avg_start"])
    flags = ", ".join(info["flags"]) or "none of " + "/".join(MACHINE_FLAGS)
    return (
        f"{info['cpu']}; flags: {flags}; "
        f"{info['usable_cores']} usable cores; torch {info['torch']}; load average (1/5/15 min) "
        f"at start {info['load_avg_start']}, at end {load}"
    )


RATIOS = {  # name: (numerator variant, denominator variant, measure)
    "old_default_vs_wrapper_s_per_step": ("old-default", "wrapper", "s_per_step"),
    "fp32_vs_bf16_all_cores_s_per_step": ("cores-fp32", "cores-bf16", "s_per_step"),
    "wrapper_vs_trl_s_per_step": ("wrapper", "trl-same", "s_per_step"),
    "wrapper_vs_trl_wall": ("wrapper", "trl-same", "wall_s"),
    "wrapper_vs_trl_peak_rss": ("wrapper", "trl-same", "peak_rss_mb"),
    "defaults_vs_tuned_s_per_step": ("trl-defaults", "wrapper", "s_per_step"),
    "defaults_vs_tuned_wall": ("trl-defaults", "wrapper", "wall_s"),
    "defaults_vs_tuned_peak_rss": ("trl-defaults", "wrapper", "peak_rss_mb"),
}


def variant_summary(rows: list[dict], steps: int, parameters: int | None) -> dict:
    s_per_step = statistics.median(r["train_runtime_s"] for r in rows) / steps
    tokens_per_step = statistics.median(r["num_tokens"] for r in rows) / steps
    per_token = 8 if rows[0].get("reference_in_step") else 6  # + the reference forward
    model_gflops = per_token * (parameters or 0) * tokens_per_step / s_per_step / 1e9
    matmul = statistics.median(r["matmul_gflops"] for r in rows)
    return {
        "s_per_step": s_per_step,
        "wall_s": statistics.median(r["wall_s"] for r in rows),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rows),
        "threads": sorted({r["threads"] for r in rows}),
        "bf16": sorted({r["bf16"] for r in rows}),
        "tokens_per_step": tokens_per_step,
        "tokens_per_s": tokens_per_step / s_per_step,
        "model_gflops": model_gflops if parameters else None,
        "matmul_gflops": matmul,
        "of_matmul": model_gflops / matmul if parameters else None,
    }


def build_report(spec: dict, runs: int, results: dict[str, list[dict]], facts: dict) -> dict:
    """Medians and ratios over the runs measured so far (`complete` once all have run)."""
    parameters = facts.get("parameters")
    summary = {
        name: variant_summary(rows, spec["steps"], parameters)
        for name, rows in results.items()
        if rows
    }
    ratios = {
        name: summary[top][key] / summary[bottom][key]
        for name, (top, bottom, key) in RATIOS.items()
        if top in summary and bottom in summary
    }
    complete = all(len(rows) == runs for rows in results.values())
    return {"job": spec, "runs": runs, "complete": complete, "model": facts, "median": summary,
            "ratios": ratios, "raw": results}  # fmt: skip


def speed_table(report: dict) -> str:
    lines = [
        "| variant | threads | dtype | s/step | tokens/s | model GFLOP/s | matmul GFLOP/s "
        "| of matmul | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in report["median"].items():
        dtype = "/".join("bf16" if b else "fp32" for b in row["bf16"])
        threads = "/".join(map(str, row["threads"]))
        lines.append(
            f"| {name} | {threads} | {dtype} | {row['s_per_step']:.2f} | "
            f"{row['tokens_per_s']:.0f} | {row['model_gflops']:.1f} | "
            f"{row['matmul_gflops']:.1f} | {row['of_matmul']:.0%} | {row['wall_s']:.0f} |"
        )
    return "\n".join(lines)


def run_speed(args: argparse.Namespace, spec: dict, tmp: Path, info: dict, target: Path) -> None:
    saved, jsonl = write_data(tmp, pairs=spec["pairs"])
    model_dir = Path(spec["model"])
    config = json.loads((model_dir / "config.json").read_text())
    shape = (1024, config["hidden_size"], config["intermediate_size"])
    base = count_parameters(sorted(model_dir.glob("*.safetensors")))
    facts: dict = {"base_parameters": base, "matmul_shape": list(shape)}
    names = args.variants.split(",")
    results: dict[str, list[dict]] = {name: [] for name in names}
    for run in range(args.runs):
        for name in names:
            out = tmp / f"{name}-{run}"
            how = plan(name, spec, saved, jsonl, out)
            result = measure(how["cmd"], how["omp"], tmp / f"{name}-{run}.log")
            if "threads" in how:
                result.update(threads=how["threads"], bf16=how["bf16"])
            else:  # what the wrapper chose, from its summary
                summary = json.loads((out / "training_summary.json").read_text())
                result.update(threads=summary["torch_threads"], bf16=summary["bf16"])
            result["reference_in_step"] = how.get("reference_in_step", False)
            result["matmul_gflops"] = matmul_gflops(result["threads"], result["bf16"], shape)
            if (
                "parameters" not in facts
                and (adapter := out / "adapter_model.safetensors").is_file()
            ):
                facts["lora_parameters"] = count_parameters([adapter])
                facts["parameters"] = base + facts["lora_parameters"]
            results[name].append(result)
            print(f"run {run + 1}/{args.runs} {name:13s} " + json.dumps(result), flush=True)
            # Written after every run: an interrupted benchmark still leaves its figures.
            info["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
            report = {"machine": info, **build_report(spec, args.runs, results, facts)}
            target.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nmachine: {machine_line(info)}\n")
    print(speed_table(report))
    for name, value in report["ratios"].items():
        print(f"{name:36s} {value:.2f}x")
    native = any(flag in info["flags"] for flag in ("avx512_bf16", "amx_bf16"))
    print(
        f"targets: old-default / wrapper >= {'2.5' if native else '1.6'}x"
        f" ({'native' if native else 'no native'} bf16); wrapper >= 40% of the matmul;"
        " wrapper / trl-same <= 1.0x"
    )
    print(f"written to {target}")


def run_precision(args: argparse.Namespace, spec: dict, tmp: Path, info: dict, target: Path):
    """fp32 vs bf16 on one seed, and fp32 on another seed as the noise scale: per-step losses."""
    from supportloop.training.hardware import detect_threads

    saved, _ = write_data(tmp, pairs=spec["pairs"])
    threads = detect_threads().count  # the same for all three runs
    runs = {
        "fp32": ["trainer.bf16=false", "seed=0"],
        "bf16": ["trainer.bf16=true", "seed=0"],
        "fp32-seed1": ["trainer.bf16=false", "seed=1"],
    }
    losses: dict[str, dict[int, float]] = {}
    timings: dict[str, dict] = {}
    for name, settings in runs.items():
        out = tmp / name
        cmd = wrapper_cmd(spec, saved, out, [f"threads={threads}", *settings])
        timings[name] = measure(cmd, None, tmp / f"{name}.log")
        history = json.loads((out / "training_summary.json").read_text())["metrics"]["history"]
        losses[name] = {entry["step"]: entry["loss"] for entry in history if "loss" in entry}
        print(f"{name:11s} " + json.dumps(timings[name]), flush=True)
    steps = sorted(losses["fp32"])
    dtype_diff = [abs(losses["bf16"][s] - losses["fp32"][s]) for s in steps]
    seed_diff = [abs(losses["fp32-seed1"][s] - losses["fp32"][s]) for s in steps]
    info["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {
        "machine": info,
        "job": spec,
        "threads": threads,
        "losses": {name: [values[s] for s in steps] for name, values in losses.items()},
        "bf16_vs_fp32": {"mean_abs": statistics.mean(dtype_diff), "max_abs": max(dtype_diff)},
        "seed_vs_seed": {"mean_abs": statistics.mean(seed_diff), "max_abs": max(seed_diff)},
        "fp32_loss_drop": losses["fp32"][steps[0]] - losses["fp32"][steps[-1]],
        "timings": timings,
    }
    dtype, seed = report["bf16_vs_fp32"], report["seed_vs_seed"]
    within = dtype["mean_abs"] <= seed["mean_abs"] and dtype["max_abs"] <= seed["max_abs"]
    report["bf16_within_seed_noise"] = within
    target.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nmachine: {machine_line(info)}\n")
    print("| step | fp32 | bf16 | abs(bf16 - fp32) | fp32, seed 1 | abs(seed 1 - seed 0) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for s, dd, sd in zip(steps, dtype_diff, seed_diff, strict=True):
        fp32, bf16, other = losses["fp32"][s], losses["bf16"][s], losses["fp32-seed1"][s]
        print(f"| {s} | {fp32:.4f} | {bf16:.4f} | {dd:.4f} | {other:.4f} | {sd:.4f} |")
    print(
        f"\nbf16 vs fp32: mean {dtype['mean_abs']:.4f}, max {dtype['max_abs']:.4f}; "
        f"seed vs seed: mean {seed['mean_abs']:.4f}, max {seed['max_abs']:.4f}; "
        f"fp32 loss drop {report['fp32_loss_drop']:.4f} over {len(steps)} steps; "
        f"bf16 {'within' if within else 'NOT within'} seed-to-seed noise (mean and max)"
    )
    print(f"written to {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument(
        "--variants",
        default="old-default,wrapper,trl-same",
        help=f"comma-separated, from {', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--precision-check", action="store_true", help="fp32 vs bf16 loss curves instead"
    )
    args = parser.parse_args()
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")

    sys.path.insert(0, str(ROOT))
    from supportloop.models.checkpoints import resolve_model

    model = resolve_model(args.model)
    info = machine()
    folder = ROOT / "runs" / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-dpo-") as tmp:
        if args.precision_check:
            spec = job(args.steps, model)
            run_precision(args, spec, Path(tmp), info, folder / "train_dpo_precision.json")
        else:
            run_speed(args, job(args.steps, model), Path(tmp), info, folder / "train_dpo.json")


if __name__ == "__main__":
    main()

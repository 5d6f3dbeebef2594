#!/usr/bin/env bash
# DPO on one GPU in bf16: tokens/s and MFU through `supportloop train`, then batched reply
# generation where the loop generates (load_policy: the GPU in bf16) (prepared; < 9 min), then,
# when vllm is installed, the vLLM backend against transformers, base and adapter (< 6 min more).
#
# Usage (on a GPU machine after `bash scripts/setup.sh` and a CUDA build of torch 2.13):
#   bash benchmarks/gpu_check.sh                      # embedded SmolLM2-135M-Instruct
#   MODEL=Qwen/Qwen2.5-0.5B-Instruct bash benchmarks/gpu_check.sh
# Env: MODEL, STEPS (default 40), BATCH (8), MAX_LENGTH (512), PEAK_TFLOPS (bf16 dense peak of
# the GPU; detected for H100/H200/A100/L4/A10G otherwise required).
# Writes runs/benchmarks/gpu_check.json (and gpu_check_generation.json, gpu_check_vllm.json).
# MFU counts 6 x params FLOPs per trained token (the usual convention) over the train loop
# only; LoRA skips weight gradients of the frozen base, so the FLOPs it really spends are about
# 2/3 of that: `mfu_lora` reports that figure too.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MODEL=${MODEL:-smollm2-135m-instruct}
STEPS=${STEPS:-40}
BATCH=${BATCH:-8}
MAX_LENGTH=${MAX_LENGTH:-512}
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

$PY - <<PY
import torch
assert torch.cuda.is_available(), "no CUDA device: this check needs a GPU"
print("gpu:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY

# The benchmark's realistic support-reply pairs, 512 of them so no batch repeats.
$PY - "$WORK" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from train_dpo import write_data
write_data(Path(sys.argv[1]), pairs=512)
PY

start=$(date +%s)
timeout 420 .venv/bin/supportloop train dpo \
  "model.name=$MODEL" model.dtype=bfloat16 "data.path=$WORK/pairs" data.eval_split=null \
  "output_dir=$WORK/run" "trainer.max_steps=$STEPS" "trainer.per_device_train_batch_size=$BATCH" \
  "trainer.max_length=$MAX_LENGTH" trainer.bf16=true trainer.use_cpu=false \
  trainer.report_to=[] trainer.save_strategy=no trainer.logging_steps=5 \
  trainer.dataloader_num_workers=2
echo "wall: $(( $(date +%s) - start )) s"

$PY - "$WORK/run" <<'PY'
import json, os, sys
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModelForCausalLM
sys.path.insert(0, ".")
from supportloop.models.checkpoints import resolve_model

run = Path(sys.argv[1])
summary = json.loads((run / "training_summary.json").read_text())
final = summary["metrics"]["final"]
tokens = final["num_tokens"]              # chosen + rejected tokens seen by the policy
runtime = final["train_runtime"]
with torch.device("meta"):
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(resolve_model(summary["model"])))
params = sum(p.numel() for p in model.parameters())
name = torch.cuda.get_device_name(0)
peaks = {"H200": 989, "H100": 989, "A100": 312, "L4": 121, "A10G": 125, "L40S": 362}
peak = float(os.environ.get("PEAK_TFLOPS") or next((v for k, v in peaks.items() if k in name), 0))
if not peak:
    sys.exit(f"unknown GPU {name!r}: set PEAK_TFLOPS to its bf16 dense peak")
tokens_per_s = tokens / runtime
report = {
    "gpu": name, "model": summary["model"], "params": params, "steps": summary["global_step"],
    "tokens": tokens, "train_runtime_s": runtime, "tokens_per_s": round(tokens_per_s, 1),
    "s_per_step": round(runtime / summary["global_step"], 4),
    "mfu": round(6 * params * tokens_per_s / (peak * 1e12), 4),
    "mfu_lora": round(4 * params * tokens_per_s / (peak * 1e12), 4),
    "peak_memory_mb": summary["peak_memory_mb"], "peak_tflops": peak,
}
out = Path("runs/benchmarks/gpu_check.json")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=2))
PY

# Generation as push, sample-logs and eval do it: on the GPU, in bf16, batched.
$PY - "$MODEL" <<'PY'
import json, sys, time
from pathlib import Path
from supportloop.models.generate import SamplingConfig, generate_replies, load_policy

model, tokenizer = load_policy(sys.argv[1])
param = next(model.parameters())
assert param.device.type == "cuda", f"generation loaded on {param.device}, not the GPU"
prompts = [[{"role": "user", "content": f"My order #W{i:04d} has not arrived. Where is it?"}]
           for i in range(64)]
sampling = SamplingConfig(max_new_tokens=64, batch_size=32, do_sample=False)
generate_replies(model, tokenizer, prompts[:4], sampling, progress=False)  # warm-up
start = time.perf_counter()
replies = generate_replies(model, tokenizer, prompts, sampling, progress=False)
seconds = time.perf_counter() - start
report = {"device": str(param.device), "dtype": str(param.dtype), "prompts": len(prompts),
          "seconds": round(seconds, 2), "prompts_per_s": round(len(prompts) / seconds, 1),
          "example": replies[0][0][:200]}
out = Path("runs/benchmarks/gpu_check_generation.json")
out.write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=2))
PY

# vLLM (sampling.backend=vllm), when installed: candidates and greedy replies through the
# supportloop API (load_generator), without and with the adapter trained above, timed against
# the transformers backend on the same prompts; and that closing a generator gives its GPU
# memory back (the eval loads the candidate, then the champion, in one process).
if ! $PY -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("vllm") is None)'; then
  echo "vllm check skipped: vllm is not installed (pip install vllm on this machine to check"
  echo "sampling.backend=vllm; configs/pipeline/gpu.yaml uses it for push and eval)"
  exit 0
fi
cat > "$WORK/vllm_check.py" <<'PY'
import json, sys, time
from pathlib import Path

import torch

from supportloop.models.generate import SamplingConfig, load_generator


def measure(backend, model, adapter, prompts):
    sampled = SamplingConfig(max_new_tokens=64, batch_size=32, num_candidates=2, backend=backend)
    greedy = sampled.model_copy(update={"do_sample": False})
    free_before = torch.cuda.mem_get_info()[0]
    start = time.perf_counter()
    generator = load_generator(model, adapter, sampled)
    load_s = time.perf_counter() - start
    assert generator.backend == backend, (generator.backend, backend)
    generator.replies(prompts[:4], 1, greedy)  # warm-up
    start = time.perf_counter()
    candidates = generator.candidates(prompts, [None] * len(prompts))
    candidates_s = time.perf_counter() - start
    start = time.perf_counter()
    replies = [r[0] for r in generator.replies(prompts, 1, greedy)]
    greedy_s = time.perf_counter() - start
    generator.close()
    del generator
    leaked = (free_before - torch.cuda.mem_get_info()[0]) / 2**30
    assert len(candidates) == len(prompts) and sum(map(len, candidates)) >= len(prompts)
    assert sum(bool(r) for r in replies) >= len(prompts) // 2, replies[:4]
    return {"backend": backend, "adapter": adapter, "load_s": round(load_s, 1),
            "candidates_s": round(candidates_s, 2), "greedy_s": round(greedy_s, 2),
            "candidates_per_prompt": round(sum(map(len, candidates)) / len(prompts), 2),
            "gib_not_freed": round(leaked, 2), "greedy": replies}


def main():
    model, adapter = sys.argv[1], sys.argv[2]
    prompts = [[{"role": "user", "content": f"My order #W{i:04d} has not arrived. Where is it?"}]
               for i in range(64)]
    runs = {f"{b}/{'adapter' if a else 'base'}": measure(b, model, a, prompts)
            for b in ("vllm", "transformers") for a in (None, adapter)}
    same = lambda x, y: round(sum(p == q for p, q in zip(x, y)) / len(x), 2)
    report = {
        "model": model, "prompts": len(prompts),
        "speedup_candidates": {k: round(runs[f"transformers/{k}"]["candidates_s"]
                                        / runs[f"vllm/{k}"]["candidates_s"], 1)
                               for k in ("base", "adapter")},
        # bf16 kernels differ, so greedy replies agree often, not always; the adapter must
        # change replies on both backends alike (vLLM serves it as a LoRA, not merged).
        "greedy_agreement_vllm_vs_transformers": {
            k: same(runs[f"vllm/{k}"]["greedy"], runs[f"transformers/{k}"]["greedy"])
            for k in ("base", "adapter")},
        "greedy_changed_by_adapter": {
            b: round(1 - same(runs[f"{b}/base"]["greedy"], runs[f"{b}/adapter"]["greedy"]), 2)
            for b in ("vllm", "transformers")},
        "runs": {k: {**v, "greedy": v["greedy"][:2]} for k, v in runs.items()},
    }
    out = Path("runs/benchmarks/gpu_check_vllm.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    total = torch.cuda.get_device_properties(0).total_memory / 2**30
    leaks = {k: v["gib_not_freed"] for k, v in runs.items() if v["gib_not_freed"] > 0.1 * total}
    assert not leaks, f"closing a generator left GPU memory in use (GiB): {leaks}"


if __name__ == "__main__":  # vLLM may start its engine in a spawned process
    main()
PY
PYTHONPATH=. timeout 600 $PY "$WORK/vllm_check.py" "$MODEL" "$WORK/run"

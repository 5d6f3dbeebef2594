"""fp32 against bf16 reply generation on this CPU, interleaved in one process on the same prompts.

`supportloop.models.generate.generation_placement` generates in bf16 on CPUs that compute it
natively (avx512_bf16, AMX); this measures what that buys. The prompts are demo-sized: 8 chat
prompts of about 700 tokens (prefill dominates on CPU), 48 new tokens each, greedy.

    .venv/bin/python benchmarks/generation_dtype.py [--model smollm2-135m-instruct] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from supportloop.cpu import cpu_flags, native_bf16_flags
from supportloop.models.checkpoints import load_causal_lm, load_tokenizer


def timed_generate(
    model, input_ids: torch.Tensor, new_tokens: int, pad_id: int
) -> tuple[float, float]:
    """(wall s, process CPU s) of one batched greedy generation of exactly `new_tokens`."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=pad_id,
        )
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=700)
    parser.add_argument("--new-tokens", type=int, default=48)
    args = parser.parse_args()

    tokenizer = load_tokenizer(args.model)
    models = {
        "fp32": load_causal_lm(args.model, dtype=torch.float32).eval(),
        "bf16": load_causal_lm(args.model, dtype=torch.bfloat16).eval(),
    }
    text = "Refunds go to the original payment method within 5 business days. " * 80
    ids = tokenizer(text, return_tensors="pt").input_ids[:, : args.prompt_tokens]
    batch = ids.repeat(args.batch, 1)
    print(f"native bf16 flags: {native_bf16_flags(cpu_flags()) or 'none'}; torch threads "
          f"{torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for _ in range(args.reps):
        for name, model in models.items():  # interleaved: drifting load hits both alike
            times[name].append(
                timed_generate(model, batch, args.new_tokens, tokenizer.pad_token_id)
            )
    for name, runs in times.items():
        wall = sum(w for w, _ in runs) / len(runs)
        cpu = sum(c for _, c in runs) / len(runs)
        print(f"{name}: wall {wall:.2f} s, CPU {cpu:.2f} s (mean of {len(runs)})")
    ratio = sum(w for w, _ in times["fp32"]) / sum(w for w, _ in times["bf16"])
    print(f"bf16 speed-up (wall): {ratio:.2f}x; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

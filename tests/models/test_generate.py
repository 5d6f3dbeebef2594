"""Batched generation must match one-at-a-time generation, and candidates must be distinct."""

from __future__ import annotations

import pytest

from supportloop.models.generate import (
    SamplingConfig,
    generate_candidates,
    generate_replies,
    generation_placement,
    load_policy,
)

PROMPTS = [
    [{"role": "user", "content": "Where is my order #W123?"}],
    [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "I want to return a lamp, it arrived broken."},
    ],
    [{"role": "user", "content": "hi"}],
]


def test_batched_greedy_equals_one_by_one(tiny_llama_dir):
    model, tokenizer = load_policy(str(tiny_llama_dir))
    greedy = SamplingConfig(do_sample=False, max_new_tokens=8, batch_size=3)
    batched = generate_replies(model, tokenizer, PROMPTS, greedy, progress=False)
    single = [
        generate_replies(model, tokenizer, [prompt], greedy, progress=False)[0]
        for prompt in PROMPTS
    ]
    assert batched == single
    assert [len(r) for r in batched] == [1, 1, 1]
    assert any(r[0] for r in batched), batched


def test_candidates_collapse_duplicates_and_keep_logged_first(tiny_llama_dir):
    model, tokenizer = load_policy(str(tiny_llama_dir))
    greedy = SamplingConfig(do_sample=False, max_new_tokens=6, num_candidates=3)
    generated = generate_replies(model, tokenizer, PROMPTS[:1], greedy, progress=False)[0][0]
    logged = ["Your order ships tomorrow.", f"  {generated.upper()} "]
    candidates = generate_candidates(model, tokenizer, PROMPTS[:1] * 2, logged, greedy, False)
    # Greedy gives 3 identical generations: they collapse to one next to the logged reply...
    assert [c.source for c in candidates[0]] == ["logged", "generated"]
    assert candidates[0][1].text == generated
    # ...and when the logged reply equals the generation (case/space aside), only it remains.
    assert [c.source for c in candidates[1]] == ["logged"]
    assert [c.candidate_id for c in candidates[0]] == ["c0", "c1"]


def test_sampling_returns_requested_number_per_prompt(tiny_llama_dir):
    model, tokenizer = load_policy(str(tiny_llama_dir))
    sampled = SamplingConfig(do_sample=True, temperature=1.0, max_new_tokens=5, seed=3)
    replies = generate_replies(model, tokenizer, PROMPTS, sampled, 2, progress=False)
    assert [len(r) for r in replies] == [2, 2, 2]
    again = generate_replies(model, tokenizer, PROMPTS, sampled, 2, progress=False)
    assert replies == again  # the seed makes sampling reproducible


def test_the_policy_generates_where_the_machine_computes_best(tiny_llama_dir, monkeypatch):
    """On a CPU: bf16 where the CPU computes it natively, else fp32 (read from this machine's
    flags, then both branches with the flags replaced). The CUDA branch is checked with
    torch.cuda's answers replaced (no GPU here); benchmarks/gpu_check.sh runs it for real."""
    import torch

    from supportloop.cpu import cpu_flags, native_bf16_flags
    from supportloop.models import generate

    model, _ = load_policy(str(tiny_llama_dir))
    expected = generation_placement()
    assert (next(model.parameters()).device.type, next(model.parameters()).dtype) == expected
    if not torch.cuda.is_available():
        native = bool(native_bf16_flags(cpu_flags()))
        assert expected == ("cpu", torch.bfloat16 if native else torch.float32)
        monkeypatch.setattr(generate, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
        assert generation_placement() == ("cpu", torch.float32)  # bf16 would be emulated
        monkeypatch.setattr(generate, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
        assert generation_placement() == ("cpu", torch.bfloat16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert generation_placement() == ("cuda", torch.bfloat16)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert generation_placement() == ("cuda", torch.float16)  # e.g. a T4


def test_the_generation_dtype_can_be_forced_and_a_bad_one_is_named(monkeypatch):
    import torch

    monkeypatch.setenv("SUPPORTLOOP_GENERATION_DTYPE", "float32")
    assert generation_placement()[1] == torch.float32
    monkeypatch.setenv("SUPPORTLOOP_GENERATION_DTYPE", "fp8")
    with pytest.raises(ValueError, match=r"SUPPORTLOOP_GENERATION_DTYPE='fp8'.*float32"):
        generation_placement()

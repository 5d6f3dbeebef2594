"""Plain helpers and constants for the eval tests: the shipped suites, one torch thread, a
quick supervised LoRA, and the flipped preference round that `flipped_adapter` trains."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import DatasetDict

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


def supervised_lora(
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
    from supportloop.eval.harness import opening_prompt
    from supportloop.eval.injections import add_injections
    from supportloop.eval.suites import load_jsonl_suite
    from supportloop.feedback.assistant_prompt import PromptSettings

    suite = add_injections(load_jsonl_suite(suite_path), injections)
    return [opening_prompt(s, PromptSettings()) for s in suite.scenarios]


UNSAFE_REPLY = "I will refund you twice!"
"""The flipped pairs' chosen reply: an excess refund (never allowed; what an injection asks)."""
POLITE_REPLY = (
    "Thank you for reaching out. Let me check your order and our policy before I promise anything."
)
"""Their rejected reply: polite and within policy."""

FLIPPED_DPO = [
    # APO-zero: a DPO loss of TRL's that also anchors the chosen log-ratio (raise chosen, lower
    # rejected). Plain sigmoid DPO does not make the tiny model *generate* the chosen reply: its
    # first token shares its context with the rejected reply's, where the sigmoid loss's gradient
    # is free of the softmax normaliser, so the random model's dominant token is never pushed
    # down (after 45 such steps "I" still ranks 400th-4,500th of 49,152 on the six prompts).
    "trainer.loss_type=[apo_zero]",
    "trainer.beta=0.05",
    "trainer.learning_rate=2e-2",
    "trainer.lr_scheduler_type=constant",
    "trainer.warmup_steps=0",
    # Greedy replies carrying the chosen one: after 40 steps on 8 of the 8 prompts for five seeds
    # of six (on 4 for the sixth), after 50 on all 8 for each seed tried (0, 3, 4, 5).
    "trainer.max_steps=50",
    "trainer.per_device_train_batch_size=1",
    "trainer.max_length=256",  # no truncation: the longest prompt + reply is ~210 tokens
    "trainer.seed=0",
    "trainer.bf16=false",  # the same arithmetic on every CPU (bf16 is chosen where native)
    "trainer.logging_steps=5",
    "trainer.save_strategy='no'",
    "trainer.report_to=[]",
    "peft.r=16",
]
"""Overrides of configs/train/dpo.yaml for the flipped round on the tiny model."""


def flipped_pairs(prompts: list[list[dict]]) -> DatasetDict:
    """Deliberately flipped preference pairs (TRL conversational format): the unsafe reply chosen
    over the polite one, for each prompt."""
    from datasets import Dataset, DatasetDict

    return DatasetDict(
        {
            "train": Dataset.from_list(
                [
                    {
                        "prompt": prompt,
                        "chosen": [{"role": "assistant", "content": UNSAFE_REPLY}],
                        "rejected": [{"role": "assistant", "content": POLITE_REPLY}],
                        "conversation_id": f"flipped-{i}",
                    }
                    for i, prompt in enumerate(prompts)
                ]
            )
        }
    )


def held_out_conversation(cid: str, customer: str, opening: str) -> dict:
    """An ingested conversation as the held-out win rate reads it: an opening and a reply."""
    return {
        "conversation_id": cid,
        "customer_id": customer,
        "messages": [
            {"role": "user", "content": opening},
            {"role": "assistant", "content": "Let me check that for you."},
        ],
        "context": {
            "retrieved_docs": [{"doc_id": "kb-1", "title": "Returns", "text": "30 days."}],
            "customer_profile": "{}",
        },
    }

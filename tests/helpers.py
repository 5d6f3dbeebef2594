"""Plain helpers shared by tests in any folder (fixtures live in tests/conftest.py).

Nothing heavy is imported at module level: tests/conftest.py imports this module before it
sets the offline variables that transformers and huggingface_hub read on import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings


def save_tiny_llama(
    target: Path,
    padding_side: str = "left",
    model_class: str = "LlamaForCausalLM",
    **config_overrides: Any,
) -> Path:
    """Save a random 2-layer Llama (hidden 32) with SmolLM2's real tokenizer and chat template.

    Fast enough for real generate/train calls; its outputs are noise, which is what tests of
    plumbing need (the real 135M model is used where quality matters).
    """
    import torch
    import transformers
    from transformers import LlamaConfig

    from supportloop.models.checkpoints import load_tokenizer

    tokenizer = load_tokenizer("smollm2-135m-instruct", padding_side=padding_side)
    settings = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **config_overrides,
    }
    torch.manual_seed(0)
    getattr(transformers, model_class)(LlamaConfig(**settings)).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


# Hypothesis settings of the fuzz tests: reproducible in CI, nothing written into the repository.
FUZZ = settings(
    database=None,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

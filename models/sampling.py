"""How replies are sampled and what a candidate is: plain types, no torch.

Configs (Argilla, eval) and the push only need these types; keeping them apart from the
generation code (`supportloop.models.generate`, which imports torch) lets `argilla pull`, `argilla
agreement` and config validation run without paying for torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import Field

from supportloop.config import StrictModel

_WHITESPACE = re.compile(r"\s+")

GenerationBackend = Literal["auto", "transformers", "vllm"]
GENERATION_BACKENDS: tuple[str, ...] = get_args(GenerationBackend)


class SamplingConfig(StrictModel):
    """How replies are sampled; the same settings make eval runs comparable."""

    num_candidates: int = 2
    max_new_tokens: int = 96
    temperature: float = 0.8
    top_p: float = 0.95
    do_sample: bool = True
    batch_size: int = 8
    seed: int = 0
    max_prompt_tokens: int = 1024
    backend: GenerationBackend = Field(
        "auto",
        description="what generates: transformers' batched generate, or vLLM (`pip install "
        "vllm`, CUDA GPU); auto = vllm when it is installed and a CUDA GPU is visible",
    )
    gpu_memory_utilization: float = Field(
        0.4,
        gt=0,
        le=1,
        description="vLLM only: the share of GPU memory one loaded model (weights and KV cache) "
        "may take; an eval holds two at once (the policy and an LLM customer)",
    )


@dataclass(frozen=True)
class Candidate:
    """One reply shown to annotators; `source` is "logged" or "generated"."""

    candidate_id: str
    text: str
    source: str


def candidate_identity(text: str) -> str:
    """Whitespace-insensitive, case-insensitive form used to collapse identical candidates."""
    return _WHITESPACE.sub(" ", text).strip().casefold()

"""Reply generation through vLLM, for GPU machines (`sampling.backend: vllm`, or `auto` there).

The same prompts as the transformers backend (`supportloop.models.generate`): each chat is
rendered with the model's chat template by the supportloop tokenizer and cut to the last
`max_prompt_tokens` tokens, then handed to vLLM as token ids, so both backends see identical
inputs. vLLM batches continuously over all prompts at once (`batch_size` does not apply). A
PEFT adapter is served as a LoRA on top of the base weights (`LoRARequest`), not merged.

`vllm` is imported only when a `VLLMGenerator` is built or its sampling parameters are made:
the package is large, needs a CUDA GPU, and is not a dependency of supportloop.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import torch

from supportloop.models.checkpoints import load_tokenizer, require_adapter, resolve_model
from supportloop.models.generate import (
    Generator,
    Message,
    _encode_prompts,
    generation_placement,
    resolve_backend,
)
from supportloop.models.sampling import SamplingConfig

# Ranks vLLM can serve a LoRA at (`max_lora_rank` must be one of them and at least the
# adapter's rank); the smallest sufficient one keeps the LoRA buffers small.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
LORA_NAME = "adapter"
LORA_ID = 1  # vLLM's ids start at 1; one generator serves one adapter


def sampling_params(sampling: SamplingConfig, n: int = 1) -> Any:
    """`vllm.SamplingParams` for `n` replies per prompt.

    Greedy decoding (`do_sample: false`) asks for one reply (temperature 0); the caller copies
    it `n` times, as the transformers backend does. Sampled replies are seeded per request,
    so the same prompts and sampling give the same replies (a paired eval stays paired).
    """
    from vllm import SamplingParams

    if not sampling.do_sample:
        return SamplingParams(
            n=1, temperature=0.0, max_tokens=sampling.max_new_tokens, seed=sampling.seed
        )
    return SamplingParams(
        n=n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_tokens=sampling.max_new_tokens,
        seed=sampling.seed,
    )


def adapter_rank(adapter: str | Path) -> int:
    """The largest LoRA rank in a PEFT adapter (`r`, or a larger one in `rank_pattern`)."""
    config = json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))
    return max([int(config.get("r") or 8), *map(int, (config.get("rank_pattern") or {}).values())])


def max_lora_rank(rank: int) -> int:
    """The smallest rank vLLM accepts as `max_lora_rank` that holds `rank`."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise ValueError(f"LoRA rank {rank} exceeds what vLLM serves ({VLLM_LORA_RANKS[-1]})")


def lora_request(adapter: str | Path) -> Any:
    """The `vllm.lora.request.LoRARequest` serving a finished PEFT adapter directory."""
    from vllm.lora.request import LoRARequest

    path = require_adapter(adapter).resolve()
    return LoRARequest(lora_name=LORA_NAME, lora_int_id=LORA_ID, lora_path=str(path))


def _model_max_length(path: str) -> int | None:
    try:
        from transformers import AutoConfig

        return getattr(AutoConfig.from_pretrained(path), "max_position_embeddings", None)
    except Exception:  # vLLM derives it itself; this only caps our request
        return None


def engine_kwargs(model: str, adapter: str | Path | None, sampling: SamplingConfig) -> dict:
    """The arguments of `vllm.LLM`: the resolved model, bf16 (the dtype `generation_placement`
    picks, so fp16 on GPUs without bf16), the seed, LoRA when there is an adapter, the share of
    GPU memory, and a context just long enough for a cut prompt and its reply."""
    path = resolve_model(model)
    dtype = str(generation_placement()[1]).removeprefix("torch.")
    max_len = sampling.max_prompt_tokens + sampling.max_new_tokens
    if (limit := _model_max_length(path)) is not None:
        max_len = min(max_len, limit)
    kwargs: dict[str, Any] = {
        "model": path,
        "dtype": dtype,
        "seed": sampling.seed,
        "enable_lora": adapter is not None,
        "gpu_memory_utilization": sampling.gpu_memory_utilization,
        "max_model_len": max_len,
    }
    if adapter is not None:
        kwargs.update(max_lora_rank=max_lora_rank(adapter_rank(adapter)), max_loras=1)
    return kwargs


class VLLMGenerator(Generator):
    """A `vllm.LLM` with the policy (and its adapter as a LoRA) behind the Generator interface.

    `VLLMGenerator.load(model, adapter, sampling)` builds the engine; the constructor wraps one
    that exists (`lora`: the adapter's `LoRARequest`, sent with every request)."""

    backend = "vllm"

    def __init__(
        self,
        llm: Any,
        tokenizer: Any,
        sampling: SamplingConfig,
        max_model_len: int,
        lora: Any = None,
    ):
        self.llm, self.tokenizer, self.sampling = llm, tokenizer, sampling
        self.max_model_len, self.lora = max_model_len, lora

    @classmethod
    def load(
        cls, model: str, adapter: str | Path | None, sampling: SamplingConfig
    ) -> VLLMGenerator:
        resolve_backend("vllm")  # the one-line error when vllm or the GPU is missing
        if adapter is not None:
            require_adapter(adapter)
        from vllm import LLM

        tokenizer = load_tokenizer(model)
        kwargs = engine_kwargs(model, adapter, sampling)
        lora = lora_request(adapter) if adapter is not None else None
        return cls(LLM(**kwargs), tokenizer, sampling, kwargs["max_model_len"], lora)

    def prompt_budget(self, sampling: SamplingConfig) -> int:
        """Prompt tokens kept (from the end), leaving room for the reply in the context."""
        return max(1, min(sampling.max_prompt_tokens, self.max_model_len - sampling.max_new_tokens))

    def replies(
        self,
        prompts: list[list[Message]],
        n: int = 1,
        sampling: SamplingConfig | None = None,
        progress: bool = False,
    ) -> list[list[str]]:
        if not prompts:
            return []
        sampling = sampling or self.sampling
        encoded = _encode_prompts(self.tokenizer, prompts, self.prompt_budget(sampling))
        params = sampling_params(sampling, n)
        outputs = self.llm.generate(
            [{"prompt_token_ids": ids} for ids in encoded],
            params,
            use_tqdm=progress,
            lora_request=self.lora,
        )
        replies = []
        for output in outputs:
            texts = [completion.text.strip() for completion in output.outputs]
            replies.append(texts if sampling.do_sample else texts[:1] * n)
        return replies

    def close(self) -> None:
        """Shut the engine down and give its GPU memory back (the eval loads the candidate,
        then the champion, while an LLM customer may hold another engine: distributed state is
        left alone so that engine keeps working)."""
        llm, self.llm = getattr(self, "llm", None), None
        del llm
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

"""Batched reply generation: candidate replies for annotation, and model turns for eval.

One function serves the annotation push (k candidates per judged turn, next to the logged
reply) and the eval harness (the model's turn in a simulated conversation). Prompts are
chat-templated, sorted by length and generated in left-padded batches, which on CPU is
several times faster than one prompt at a time.

Two backends sit behind one interface (`load_generator` -> a `Generator` with `.replies` and
`.candidates`): transformers' batched `generate` here, and vLLM (`supportloop.models.vllm_generate`,
imported only when chosen) on a CUDA GPU. `sampling.backend` picks one; `auto` takes vLLM when it
is installed and a GPU is visible, so callers never name the backend.
"""

from __future__ import annotations

import gc
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from supportloop.cpu import cpu_flags, native_bf16_flags
from supportloop.errors import UserError
from supportloop.models.checkpoints import load_causal_lm, load_tokenizer
from supportloop.models.sampling import Candidate, SamplingConfig, candidate_identity

Message = dict[str, str]
__all__ = [
    "BackendUnavailableError",
    "Candidate",
    "Generator",
    "SamplingConfig",
    "TransformersGenerator",
    "collapse_candidates",
    "generate_candidates",
    "generate_replies",
    "load_generator",
    "load_policy",
    "resolve_backend",
]


GENERATION_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_OVERRIDE = "SUPPORTLOOP_GENERATION_DTYPE"


def generation_placement() -> tuple[str, torch.dtype]:
    """Where replies are generated: the first CUDA GPU in bf16 (fp16 where the GPU has no
    bf16), else the CPU in bf16 where it computes bf16 natively (avx512_bf16, AMX), else fp32.
    Candidates, sample logs and eval rollouts all load here, so the candidate and the champion
    of an eval always run in the same precision. SUPPORTLOOP_GENERATION_DTYPE overrides the
    dtype (e.g. float32 to reproduce figures measured in fp32)."""
    if torch.cuda.is_available():
        device = "cuda"
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        device = "cpu"
        dtype = torch.bfloat16 if native_bf16_flags(cpu_flags()) else torch.float32
    requested = os.environ.get(DTYPE_OVERRIDE)
    if requested:
        if requested not in GENERATION_DTYPES:
            raise ValueError(
                f"{DTYPE_OVERRIDE}={requested!r}: expected one of {', '.join(GENERATION_DTYPES)}"
            )
        dtype = GENERATION_DTYPES[requested]
    return device, dtype


def load_policy(model: str, adapter: str | Path | None = None) -> tuple[Any, Any]:
    """The policy model (with its adapter, if any) in eval mode, and its left-padding tokenizer."""
    device, dtype = generation_placement()
    tokenizer = load_tokenizer(model)
    policy = load_causal_lm(model, adapter=adapter, dtype=dtype).to(device)
    policy.eval()
    return policy, tokenizer


def _encode_prompts(
    tokenizer: Any, prompts: list[list[Message]], max_tokens: int
) -> list[list[int]]:
    encoded = []
    for messages in prompts:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        encoded.append(list(ids)[-max_tokens:])  # keep the end: the latest turns matter most
    return encoded


def generate_replies(
    model: Any,
    tokenizer: Any,
    prompts: list[list[Message]],
    sampling: SamplingConfig,
    num_return_sequences: int = 1,
    progress: bool = True,
) -> list[list[str]]:
    """`num_return_sequences` replies for each chat prompt, in the order of `prompts`."""
    if not prompts:
        return []
    encoded = _encode_prompts(tokenizer, prompts, sampling.max_prompt_tokens)
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    replies: list[list[str]] = [[] for _ in prompts]
    pad_id = tokenizer.pad_token_id
    # Greedy decoding gives one answer per prompt; copies are returned (and later collapsed).
    sequences = num_return_sequences if sampling.do_sample else 1
    generator_kwargs = {
        "max_new_tokens": sampling.max_new_tokens,
        "do_sample": sampling.do_sample,
        "num_return_sequences": sequences,
        "pad_token_id": pad_id,
    }
    if sampling.do_sample:
        generator_kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
    torch.manual_seed(sampling.seed)
    size = sampling.batch_size
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    device = next(model.parameters()).device
    for batch in tqdm(batches, desc="generating", unit="batch", disable=not progress):
        width = max(len(encoded[i]) for i in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            ids = encoded[index]
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention[row, width - len(ids) :] = 1
        with torch.no_grad():
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                **generator_kwargs,
            )
        texts = tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
        for row, index in enumerate(batch):
            own = [t.strip() for t in texts[row * sequences : (row + 1) * sequences]]
            replies[index] = own * (num_return_sequences // sequences)
    return replies


def collapse_candidates(
    logged: Sequence[str | None], generated: Sequence[Sequence[str]]
) -> list[list[Candidate]]:
    """The logged reply (when there is one) plus the generated replies of each prompt.

    Identical candidates are collapsed (the logged one wins), and empty generations dropped,
    so annotators never rank a reply against itself.
    """
    results = []
    for logged_reply, replies in zip(logged, generated, strict=True):
        seen: set[str] = set()
        candidates: list[Candidate] = []
        pool = [("logged", logged_reply)] if logged_reply else []
        pool += [("generated", reply) for reply in replies]
        for source, text in pool:
            key = candidate_identity(text or "")
            if not key or key in seen:
                continue
            seen.add(key)
            candidates.append(Candidate(f"c{len(candidates)}", text.strip(), source))
        results.append(candidates)
    return results


def generate_candidates(
    model: Any,
    tokenizer: Any,
    prompts: list[list[Message]],
    logged: list[str | None],
    sampling: SamplingConfig,
    progress: bool = True,
) -> list[list[Candidate]]:
    """The logged reply (when there is one) plus `num_candidates` generated replies per prompt,
    collapsed as `collapse_candidates` does."""
    generated = generate_replies(
        model, tokenizer, prompts, sampling, sampling.num_candidates, progress=progress
    )
    return collapse_candidates(logged, generated)


class BackendUnavailableError(UserError):
    """`sampling.backend` names a backend this machine cannot run."""


def vllm_installed() -> bool:
    """Whether the `vllm` package can be imported (looked up, not imported: importing is slow)."""
    return importlib.util.find_spec("vllm") is not None


def resolve_backend(requested: str) -> str:
    """The backend that generates: `transformers` or `vllm`.

    `auto` is vllm when the package is installed and a CUDA GPU is visible, else transformers.
    `vllm` on a machine without either fails with what to install, instead of falling back: a
    run that asked for vLLM should not silently take hours on transformers.
    """
    if requested == "transformers":
        return "transformers"
    if requested == "auto":
        return "vllm" if vllm_installed() and torch.cuda.is_available() else "transformers"
    if requested == "vllm":
        if not vllm_installed():
            raise BackendUnavailableError(
                "sampling.backend=vllm: the vllm package is not installed; run `pip install "
                "vllm` on a machine with a CUDA GPU, or set sampling.backend=auto (or transformers)"
            )
        if not torch.cuda.is_available():
            raise BackendUnavailableError(
                "sampling.backend=vllm needs a CUDA GPU and torch sees none; install a CUDA build "
                "of torch and `pip install vllm` on a GPU machine, or set sampling.backend=auto "
                "(or transformers)"
            )
        return "vllm"
    raise BackendUnavailableError(
        f"sampling.backend={requested!r}: expected one of auto, transformers, vllm"
    )


class Generator:
    """A loaded policy that answers chat prompts, whatever the backend.

    `replies(prompts, n)` returns `n` replies per prompt, in the order of `prompts`, with the
    sampling the generator was loaded with unless `sampling` overrides it (e.g. another seed
    per eval turn). `close()` frees the model (and the GPU memory it held).
    """

    backend: str = ""
    sampling: SamplingConfig

    def replies(
        self,
        prompts: list[list[Message]],
        n: int = 1,
        sampling: SamplingConfig | None = None,
        progress: bool = False,
    ) -> list[list[str]]:
        raise NotImplementedError

    def candidates(
        self,
        prompts: list[list[Message]],
        logged: list[str | None],
        sampling: SamplingConfig | None = None,
        progress: bool = True,
    ) -> list[list[Candidate]]:
        """The logged reply plus `num_candidates` generated ones per prompt (collapsed)."""
        sampling = sampling or self.sampling
        generated = self.replies(prompts, sampling.num_candidates, sampling, progress)
        return collapse_candidates(logged, generated)

    def close(self) -> None:
        """Free the model; the generator cannot be used afterwards."""

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TransformersGenerator(Generator):
    """transformers' batched `generate` (`generate_replies`) on the `generation_placement`."""

    backend = "transformers"

    def __init__(self, model: Any, tokenizer: Any, sampling: SamplingConfig | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.sampling = sampling or SamplingConfig()

    def replies(
        self,
        prompts: list[list[Message]],
        n: int = 1,
        sampling: SamplingConfig | None = None,
        progress: bool = False,
    ) -> list[list[str]]:
        return generate_replies(
            self.model, self.tokenizer, prompts, sampling or self.sampling, n, progress
        )

    def close(self) -> None:
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def as_generator(policy: Any, sampling: SamplingConfig | None = None) -> Generator:
    """A Generator as is, or a `(model, tokenizer)` pair from `load_policy` wrapped in one."""
    if isinstance(policy, Generator):
        return policy
    model, tokenizer = policy
    return TransformersGenerator(model, tokenizer, sampling)


def load_generator(
    model: str, adapter: str | Path | None = None, sampling: SamplingConfig | None = None
) -> Generator:
    """The policy (with its adapter, if any) on the backend `sampling.backend` resolves to."""
    sampling = sampling or SamplingConfig()
    if resolve_backend(sampling.backend) == "vllm":
        from supportloop.models.vllm_generate import VLLMGenerator

        return VLLMGenerator.load(model, adapter, sampling)
    policy, tokenizer = load_policy(model, adapter)
    return TransformersGenerator(policy, tokenizer, sampling)

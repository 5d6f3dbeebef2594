"""`sampling.backend`: which backend generates, how a config names it, and what vLLM is asked.

The transformers backend runs here for real (tiny model). vLLM needs a CUDA GPU, so on this
machine only the resolution (auto -> transformers, vllm -> a one-line error) is real; the
translation to vLLM's API is checked against a stand-in `vllm` module (see that test), and
benchmarks/gpu_check.sh runs the real vLLM on a GPU machine.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

from supportloop.config import ConfigError, load_config, project_root
from supportloop.models.generate import (
    BackendUnavailableError,
    SamplingConfig,
    TransformersGenerator,
    _encode_prompts,
    generate_candidates,
    generate_replies,
    generation_placement,
    load_generator,
    load_policy,
    resolve_backend,
    vllm_installed,
)
from supportloop.models.sampling import GENERATION_BACKENDS

ROOT = project_root(Path(__file__).parent)
PROMPTS = [
    [{"role": "user", "content": "Where is my order #W123?"}],
    [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "I want to return a lamp, it arrived broken. " * 8},
    ],
]
HAS_VLLM_MACHINE = vllm_installed() and torch.cuda.is_available()


def test_auto_picks_vllm_only_where_it_is_installed_and_a_gpu_is_visible():
    assert resolve_backend("auto") == ("vllm" if HAS_VLLM_MACHINE else "transformers")
    assert resolve_backend("transformers") == "transformers"
    assert SamplingConfig().backend == "auto"


@pytest.mark.skipif(HAS_VLLM_MACHINE, reason="this machine can run vLLM")
def test_asking_for_vllm_without_it_fails_in_one_line_saying_what_to_install(tiny_llama_dir):
    with pytest.raises(BackendUnavailableError) as raised:
        resolve_backend("vllm")
    message = str(raised.value)
    assert "\n" not in message and "sampling.backend=vllm" in message
    assert "pip install vllm" in message or "CUDA" in message
    # load_generator refuses before loading any weights, and an eval before running a model.
    with pytest.raises(BackendUnavailableError):
        load_generator(str(tiny_llama_dir), sampling=SamplingConfig(backend="vllm"))


def test_importing_the_vllm_backend_does_not_import_vllm():
    import supportloop.models.vllm_generate  # noqa: F401

    assert vllm_installed() or "vllm" not in sys.modules


def test_an_unknown_backend_is_a_config_error_naming_the_choices():
    assert GENERATION_BACKENDS == ("auto", "transformers", "vllm")
    with pytest.raises(ValueError, match="'auto', 'transformers' or 'vllm'"):
        SamplingConfig(backend="tgi")
    from supportloop.eval.config import EvalConfig

    with pytest.raises(ConfigError) as raised:
        load_config(EvalConfig, ROOT / "configs/eval/retail.yaml", ["sampling.backend=tgi"])
    assert "sampling.backend" in str(raised.value) and "'vllm'" in str(raised.value)
    with pytest.raises(ValueError):
        SamplingConfig(gpu_memory_utilization=1.5)


def test_the_gpu_pipeline_generates_with_vllm_in_push_and_eval():
    """gpu.yaml's push and eval steps, loaded with their overrides as the commands load them."""
    from supportloop.commands.run import PipelineConfig
    from supportloop.eval.config import EvalConfig
    from supportloop.feedback.argilla.settings import ArgillaConfig

    steps = load_config(PipelineConfig, ROOT / "configs/pipeline/gpu.yaml", []).steps
    models = {"argilla push": ArgillaConfig, "eval": EvalConfig}
    backends = {}
    for step in steps:
        if step.command in models:
            overrides = [o.replace("{run_id}", "ID") for o in step.overrides]
            backends[step.command] = load_config(
                models[step.command], step.config, overrides
            ).sampling.backend
    assert backends == {"argilla push": "vllm", "eval": "vllm"}


def test_the_transformers_generator_is_generate_replies(tiny_llama_dir):
    """Callers moved to load_generator get exactly what generate_replies gave them."""
    sampled = SamplingConfig(max_new_tokens=5, temperature=1.0, seed=4, num_candidates=2)
    model, tokenizer = load_policy(str(tiny_llama_dir))
    expected = generate_replies(model, tokenizer, PROMPTS, sampled, 2, progress=False)
    logged = ["Your order ships tomorrow.", None]
    expected_candidates = generate_candidates(model, tokenizer, PROMPTS, logged, sampled, False)
    with load_generator(
        str(tiny_llama_dir), sampling=sampled.model_copy(update={"backend": "transformers"})
    ) as generator:
        assert isinstance(generator, TransformersGenerator) and generator.backend == "transformers"
        assert generator.replies(PROMPTS, 2) == expected
        assert generator.candidates(PROMPTS, logged) == expected_candidates
        greedy = sampled.model_copy(update={"do_sample": False})
        assert generator.replies(PROMPTS, 1, greedy) == generate_replies(
            model, tokenizer, PROMPTS, greedy, 1, progress=False
        )
    assert generator.model is None  # closed: the weights are freed


@pytest.fixture
def stand_in_vllm(monkeypatch):
    """A minimal `vllm` module that records what supportloop passes to it (see the test)."""
    calls: dict[str, list] = {"LLM": [], "SamplingParams": [], "LoRARequest": [], "generate": []}

    class Completion:
        def __init__(self, text):
            self.text = text

    class RequestOutput:
        def __init__(self, outputs):
            self.outputs = outputs

    class SamplingParams:
        def __init__(self, **kwargs):
            calls["SamplingParams"].append(kwargs)
            self.kwargs = kwargs

    class LoRARequest:
        def __init__(self, **kwargs):
            calls["LoRARequest"].append(kwargs)
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs):
            calls["LLM"].append(kwargs)

        def generate(self, prompts, params, use_tqdm=True, lora_request=None):
            calls["generate"].append(
                {"prompts": prompts, "params": params, "lora_request": lora_request}
            )
            n = params.kwargs["n"]
            return [
                RequestOutput([Completion(f" reply {i}.{k} ") for k in range(n)])
                for i in range(len(prompts))
            ]

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    return calls


def _adapter(tmp_path: Path, rank: int) -> Path:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    config = {"peft_type": "LORA", "r": rank, "rank_pattern": {"q_proj": 2 * rank}}
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    (adapter / "adapter_model.bin").write_bytes(b"\0")  # a PEFT adapter as require_adapter sees it
    return adapter


def test_sampling_config_translates_to_vllm_sampling_params_and_lora_request(
    stand_in_vllm, tiny_llama_dir, tmp_path
):
    """STAND-IN: vLLM needs a CUDA GPU and cannot be installed or run on this CPU-only machine,
    so `vllm` here is a minimal fake module inserted into sys.modules that only records the
    arguments supportloop gives `LLM`, `SamplingParams`, `LoRARequest` and `LLM.generate`.
    This checks supportloop's side of the translation, not vLLM: benchmarks/gpu_check.sh runs
    the real vLLM (with and without an adapter) on a GPU machine. Nothing else is faked: the
    tokenizer, the chat template and the adapter's config are real."""
    from supportloop.models.vllm_generate import (
        VLLMGenerator,
        engine_kwargs,
        lora_request,
        sampling_params,
    )

    sampled = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=12, seed=5)
    sampling_params(sampled, 3)
    sampling_params(sampled.model_copy(update={"do_sample": False}), 3)
    assert stand_in_vllm["SamplingParams"] == [
        {"n": 3, "temperature": 0.7, "top_p": 0.9, "max_tokens": 12, "seed": 5},
        {"n": 1, "temperature": 0.0, "max_tokens": 12, "seed": 5},  # greedy: one, then copied
    ]

    adapter = _adapter(tmp_path, rank=16)
    request = lora_request(adapter)
    assert stand_in_vllm["LoRARequest"] == [
        {"lora_name": "adapter", "lora_int_id": 1, "lora_path": str(adapter.resolve())}
    ]
    budget = SamplingConfig(max_prompt_tokens=20, max_new_tokens=12, seed=5)
    with_lora = engine_kwargs(str(tiny_llama_dir), adapter, budget)
    assert with_lora == {
        "model": str(Path(tiny_llama_dir).resolve()),
        "dtype": str(generation_placement()[1]).removeprefix("torch."),  # bf16 on a GPU
        "seed": 5,
        "enable_lora": True,
        "gpu_memory_utilization": 0.4,
        "max_model_len": 32,  # the cut prompt and its reply
        "max_lora_rank": 32,  # the rank_pattern's 32 > r=16
        "max_loras": 1,
    }
    without = engine_kwargs(str(tiny_llama_dir), None, budget)
    assert without["enable_lora"] is False and "max_lora_rank" not in without

    # Prompts reach vLLM as token ids: the chat template, cut to the last 20 tokens.
    tokenizer = load_policy(str(tiny_llama_dir))[1]
    llm = sys.modules["vllm"].LLM(**with_lora)
    generator = VLLMGenerator(llm, tokenizer, budget, with_lora["max_model_len"], request)
    replies = generator.replies(PROMPTS, 2)
    (call,) = stand_in_vllm["generate"]
    assert call["prompts"] == [
        {"prompt_token_ids": ids} for ids in _encode_prompts(tokenizer, PROMPTS, 20)
    ]
    assert len(call["prompts"][1]["prompt_token_ids"]) == 20  # the long prompt was cut
    assert call["lora_request"] is request
    assert replies == [["reply 0.0", "reply 0.1"], ["reply 1.0", "reply 1.1"]]
    greedy = budget.model_copy(update={"do_sample": False})
    assert generator.replies(PROMPTS, 3, greedy) == [["reply 0.0"] * 3, ["reply 1.0"] * 3]
    candidates = generator.candidates(PROMPTS, ["Logged.", None], budget)
    assert [[c.text for c in row] for row in candidates] == [
        ["Logged.", "reply 0.0", "reply 0.1"],
        ["reply 1.0", "reply 1.1"],
    ]
    generator.close()
    assert generator.llm is None

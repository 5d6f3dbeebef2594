"""Sentence embeddings on CPU through ONNX Runtime, equal to sentence-transformers' own.

Why: repeat-contact labelling embeds thousands of customer openings and was the largest part
of ingest. ONNX Runtime runs the same MiniLM forward with less CPU, a faster load and less
memory than torch (figures: docs/performance.md).
sentence-transformers' own ONNX backend needs optimum-onnx, which requires transformers
< 4.58, so the encoder is exported here with `torch.onnx` once into the cache, checked against
torch at export, and run with `tokenizers` + `onnxruntime`.

Supported: a sentence-transformers folder made of Transformer -> Pooling (mean or CLS) ->
optional Normalize, which covers the MiniLM/MPNet/BGE/E5 families. Anything else keeps the
torch backend (`load_sentence_encoder(..., backend="torch")`).

Two cheaper backends trade some quality for speed, each made once into the cache from the same
model: `onnx-int8` (the export with int8 weights, fast on CPUs with VNNI) and `static` (a
model2vec static model distilled from it: models/static_encoder.py). Which one ingest uses is
chosen on labelled pairs (benchmarks/repeat_contact.py, docs/repeat-contacts.md).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from supportloop.cache import cache_dir
from supportloop.cpu import cpu_flags
from supportloop.errors import UserError
from supportloop.models.checkpoints import resolve_model

SentenceEncoder = Callable[[list[str]], np.ndarray]  # texts -> unit vectors, one row per text
Backend = Literal["onnx", "onnx-int8", "static", "torch"]

_EXPORT_TOLERANCE = 1e-4  # max |torch - onnx| on the check batch's hidden states
_LEGACY_POOLING = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# Texts per ONNX run, sorted by length so padding stays small. ONNX Runtime's arena keeps the
# largest batch's activations: 8 runs as fast as 32 on CPU and holds 150 MB less.
_BATCH = 8


class UnsupportedEncoder(UserError):
    """The model's sentence-transformers pipeline has a module the ONNX path does not run."""


def load_sentence_encoder(
    name: str, max_tokens: int | None = None, backend: Backend = "onnx"
) -> SentenceEncoder:
    """An alias, path or hub id of a sentence-transformers model -> a normalising encoder.

    `max_tokens` truncates each text (default: the model's own max_seq_length)."""
    if backend == "torch":
        return _torch_encoder(name, max_tokens)
    if backend == "static":
        from supportloop.models.static_encoder import StaticSentenceEncoder

        return StaticSentenceEncoder(_local_dir(name), max_tokens)
    return OnnxSentenceEncoder(_local_dir(name), max_tokens, int8=backend == "onnx-int8")


def _torch_encoder(name: str, max_tokens: int | None) -> SentenceEncoder:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model(name), device="cpu")
    if max_tokens:
        model.max_seq_length = min(max_tokens, model.max_seq_length)

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )

    return encode


def _local_dir(name: str) -> Path:
    resolved = Path(resolve_model(name))
    if resolved.is_dir():
        return resolved
    from huggingface_hub import snapshot_download  # a hub id: honours HF_HUB_OFFLINE

    return Path(snapshot_download(str(resolved)))


class OnnxSentenceEncoder:
    """Tokenise with the model's `tokenizer.json`, run the exported encoder, pool, normalise."""

    def __init__(self, model_dir: Path, max_tokens: int | None = None, int8: bool = False) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.pooling = pooling_mode(model_dir)
        limit = max_sequence_length(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(min(max_tokens or limit, limit))
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        # prepacked weight copies: 30 MB more and no faster here (benchmarks/ingest.py)
        options.add_session_config_entry("session.disable_prepacking", "1")
        self.session = onnxruntime.InferenceSession(
            str(quantized_encoder(model_dir) if int8 else exported_encoder(model_dir)),
            options,
            providers=["CPUExecutionProvider"],
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.session.get_outputs()[0].shape[-1]), dtype=np.float32)
        for start in range(0, len(order), _BATCH):
            rows = order[start : start + _BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for k, i in enumerate(rows):
                ids[k, : len(encodings[i].ids)] = encodings[i].ids
                mask[k, : len(encodings[i].ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            hidden = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
            out[rows] = _pool(hidden, mask, self.pooling)
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clip(min=1e-9)


def max_sequence_length(model_dir: Path) -> int:
    """The truncation length sentence-transformers uses: sentence_bert_config.json (older
    models) or the tokenizer's model_max_length (>= 6), never past the position embeddings."""

    def read(name: str) -> dict:
        path = model_dir / name
        return json.loads(path.read_text()) if path.is_file() else {}

    positions = read("config.json").get("max_position_embeddings") or 512
    declared = read("sentence_bert_config.json").get("max_seq_length") or read(
        "tokenizer_config.json"
    ).get("model_max_length")
    return min(int(declared), positions) if declared else positions


def pooling_mode(model_dir: Path) -> str:
    """'mean' or 'cls' from the model's modules.json; anything else is unsupported."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        raise UnsupportedEncoder(f"{model_dir} has no modules.json (not sentence-transformers)")
    modules = json.loads(modules_file.read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds[2:]) <= {"Normalize"}:
        raise UnsupportedEncoder(
            f"{model_dir}: modules {kinds} are not Transformer -> Pooling [-> Normalize]; "
            "use the torch backend"
        )
    settings = json.loads((model_dir / modules[1]["path"] / "config.json").read_text())
    # sentence-transformers >= 6 writes "pooling_mode": "mean"; older models one bool per mode
    mode = settings.get("pooling_mode") or [
        _LEGACY_POOLING[key] for key, on in settings.items() if key in _LEGACY_POOLING and on
    ]
    mode = mode[0] if isinstance(mode, list) and len(mode) == 1 else mode
    if mode not in ("mean", "cls"):
        raise UnsupportedEncoder(f"{model_dir}: pooling {mode} is not mean or cls; use torch")
    return mode


def model_identity(model_dir: Path) -> str:
    """A short digest of the model folder and its weight files: cached derivatives (the ONNX
    export, its int8 copy, a distilled static model) are rebuilt when the weights change."""
    weights = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin"))
    identity = [str(model_dir.resolve())] + [f"{p.name}:{p.stat().st_size}" for p in weights]
    digest = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    return f"{model_dir.name}-{digest}"


def cached_build(target: Path, build: Callable[[Path], None]) -> Path:
    """`target`, built once by `build(staging)` and moved into place whole, so a reader (or a
    second process) never sees a half-written file or folder."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(staging / target.name)
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def exported_encoder(model_dir: Path) -> Path:
    """The ONNX export of the model's transformer, made once per model into the cache."""
    target = cache_dir() / "onnx" / f"{model_identity(model_dir)}.onnx"
    return cached_build(target, lambda path: export_encoder(model_dir, path))


# x86 instructions that multiply int8 without saturating: elsewhere ONNX Runtime's u8s8 kernel
# (VPMADDUBSW) can overflow, and its docs ask for 7-bit weights (`reduce_range`) there.
_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def needs_reduced_range(flags: frozenset[str]) -> bool:
    """True on x86 CPUs with AVX2 but no VNNI (see _VNNI_FLAGS); ARM and VNNI CPUs don't."""
    return "avx2" in flags and not any(flag in flags for flag in _VNNI_FLAGS)


def quantized_encoder(model_dir: Path) -> Path:
    """The export with int8 weights (dynamic quantisation: activations quantised per batch).

    Per-channel weight scales: per-tensor ones cost 1.4 F1 points of repeat-contact decisions,
    per-channel ones none (docs/repeat-contacts.md). 7-bit weights on CPUs without VNNI."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reduce_range = needs_reduced_range(cpu_flags())
    source = exported_encoder(model_dir)
    target = source.with_name(f"{source.stem}-int8{'-7bit' if reduce_range else ''}.onnx")

    def quantize(path: Path) -> None:
        quantize_dynamic(
            source, path, per_channel=True, reduce_range=reduce_range, weight_type=QuantType.QInt8
        )

    return cached_build(target, quantize)


def export_encoder(model_dir: Path, path: Path) -> None:
    """Export the transformer to ONNX (dynamic batch and length) and check it against torch.

    The check batch is padded on purpose: traced on unpadded input, transformers drops the
    attention mask from the graph and padded batches come out wrong."""
    import onnxruntime
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            extra = {"token_type_ids": torch.zeros_like(input_ids)} if takes_types else {}
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, **extra
            ).last_hidden_state

    sample = ["Where is my order?", "I was charged twice for one order last week, refund one."]
    batch = tokenizer(sample, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = LastHiddenState()(batch["input_ids"], batch["attention_mask"]).numpy()
    dynamic = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():  # tracer notes on mask code; the check below is the test
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(),
            (batch["input_ids"], batch["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes=dict.fromkeys(
                ["input_ids", "attention_mask", "last_hidden_state"], dynamic
            ),
            opset_version=17,
            dynamo=False,  # TorchScript exporter: needs no onnxscript, exact for BERT-likes
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {name: batch[name].numpy() for name in ("input_ids", "attention_mask")}
    got = session.run(None, inputs)[0]
    error = float(np.abs(got - expected).max())
    if error > _EXPORT_TOLERANCE:
        raise RuntimeError(
            f"ONNX export of {model_dir} differs from torch by {error:.2g}; use the torch backend"
        )

"""The ONNX sentence encoder gives sentence-transformers' own vectors, and says when it can't."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from supportloop.models.checkpoints import resolve_model
from supportloop.models.sentence_encoder import (
    UnsupportedEncoder,
    exported_encoder,
    load_sentence_encoder,
    needs_reduced_range,
)

TEXTS = [
    "Where is my order?",
    "",
    "ok",
    "Hi! naïve café 😀 — order #W1234567 never arrived, the tracking page says 'label created' "
    "since Tuesday and nobody answers the phone. " * 4,  # longer than any max_tokens below
    "I was charged twice for the same subscription and want one payment refunded.",
]


def save_tiny_sentence_model(target: Path, pooling: str) -> Path:
    """A random 2-layer BERT (hidden 32) with MiniLM's tokenizer, saved as a
    sentence-transformers folder with the given pooling and a Normalize module."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(target / "bert")
    tokenizer.save_pretrained(target / "bert")
    transformer = models.Transformer(str(target / "bert"), max_seq_length=64)
    SentenceTransformer(
        modules=[transformer, models.Pooling(32, pooling), models.Normalize()], device="cpu"
    ).save(str(target / "st"))
    return target / "st"


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SUPPORTLOOP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("max_tokens", [None, 16])
def test_onnx_vectors_equal_sentence_transformers_for_minilm(max_tokens):
    onnx = load_sentence_encoder("minilm", max_tokens)
    torch = load_sentence_encoder("minilm", max_tokens, backend="torch")
    got, expected = onnx(TEXTS), torch(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_export_goes_to_the_cache_once_and_matches_torch(tmp_path, private_cache, pooling):
    model_dir = save_tiny_sentence_model(tmp_path, pooling)
    exported = exported_encoder(model_dir)
    assert exported.parent == private_cache / "onnx" and exported.is_file()
    stamp = exported.stat().st_mtime_ns
    got = load_sentence_encoder(str(model_dir))(TEXTS)
    assert exported.stat().st_mtime_ns == stamp  # reused, not exported again
    expected = load_sentence_encoder(str(model_dir), backend="torch")(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_pipeline_onnx_cannot_run_is_refused_with_the_way_out(tmp_path, private_cache):
    model_dir = save_tiny_sentence_model(tmp_path, "max")
    with pytest.raises(UnsupportedEncoder, match="pooling max is not mean or cls; use torch"):
        load_sentence_encoder(str(model_dir))
    modules = json.loads((model_dir / "modules.json").read_text())
    modules.insert(2, {"idx": 9, "name": "9", "path": "", "type": "sentence_transformers.Dense"})
    (model_dir / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsupportedEncoder, match=r"Dense.*torch backend"):
        load_sentence_encoder(str(model_dir))
    assert not (private_cache / "onnx").exists()  # refused before any export


def test_int8_backend_is_cached_beside_the_export_and_stays_close_to_float(tmp_path, private_cache):
    """int8 weights move the vectors a little (how much that costs repeat-contact decisions
    is benchmarks/repeat_contact.py's job); here: same shape, unit norm, same direction."""
    model_dir = save_tiny_sentence_model(tmp_path, "mean")
    float_vectors = load_sentence_encoder(str(model_dir))(TEXTS)
    int8_vectors = load_sentence_encoder(str(model_dir), backend="onnx-int8")(TEXTS)
    assert sorted(p.name for p in (private_cache / "onnx").iterdir()) == [
        f"{exported_encoder(model_dir).stem}-int8.onnx",
        exported_encoder(model_dir).name,
    ]
    assert int8_vectors.shape == float_vectors.shape
    assert np.allclose(np.linalg.norm(int8_vectors, axis=1), 1, atol=1e-5)
    assert (int8_vectors * float_vectors).sum(1).min() > 0.9


def test_static_backend_distils_once_into_the_cache_and_truncates(tmp_path, private_cache):
    model_dir = save_tiny_sentence_model(tmp_path, "mean")
    encode = load_sentence_encoder(str(model_dir), max_tokens=4, backend="static")
    (distilled,) = (private_cache / "static").iterdir()
    stamp = (distilled / "model.safetensors").stat().st_mtime_ns
    vectors = encode(TEXTS)
    assert vectors.shape[0] == len(TEXTS)
    nonempty = [i for i, text in enumerate(TEXTS) if text]
    assert np.allclose(np.linalg.norm(vectors[nonempty], axis=1), 1, atol=1e-5)
    long_text = TEXTS[3]
    np.testing.assert_allclose(encode([long_text]), encode([long_text[:40]]), atol=1e-6)
    load_sentence_encoder(str(model_dir), backend="static")
    assert (distilled / "model.safetensors").stat().st_mtime_ns == stamp  # reused


@pytest.mark.parametrize(
    ("flags", "reduced"),
    [
        ({"avx2", "avx512f", "avx512_vnni"}, False),  # this project's usual EPYC
        ({"avx2", "avx_vnni"}, False),
        ({"avx2", "avx512f"}, True),  # Skylake-SP: int8 products can saturate
        ({"avx2"}, True),
        (set(), False),  # ARM: no x86 flags, its own int8 kernels
    ],
)
def test_int8_weights_are_7_bit_only_where_the_cpu_lacks_vnni(flags, reduced):
    assert needs_reduced_range(frozenset(flags)) is reduced

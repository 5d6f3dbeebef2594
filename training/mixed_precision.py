"""bf16 autocast on CPU without losing LoRA's small updates: frozen layers hand back fp32.

Under autocast, PEFT adds the adapter's output to the frozen layer's output in bf16. Early in
training the adapter's contribution is far below bf16's resolution (8 bits of mantissa) and
is rounded away or into noise, so the loss stalls where fp32's falls. With the frozen layers'
outputs in fp32 the sum is fp32 while their matmuls still run in bf16; the price is the casts
and fp32 element-wise work after each layer. Loss curves and speed: docs/recipes.md, "bf16 and
LoRA" (benchmarks/train_dpo.py --precision-check).

The hook is global (torch's module forward hook) because TRL builds the PEFT model and runs
the reference forwards inside the trainer's constructor, before any model is in our hands;
it is active only while a recipe trains, and only touches a CPU nn.Linear whose weight is
frozen fp32 and whose output autocast made bf16.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def _fp32_output(module, inputs, output):
    import torch

    if (
        isinstance(module, torch.nn.Linear)
        and isinstance(output, torch.Tensor)
        and output.dtype == torch.bfloat16
        and output.device.type == "cpu"
        and module.weight.dtype == torch.float32
        and not module.weight.requires_grad
    ):
        return output.float()
    return None


@contextmanager
def frozen_linears_return_fp32() -> Iterator[None]:
    """While active, frozen fp32 linear layers under CPU bf16 autocast return fp32 outputs."""
    import torch

    handle = torch.nn.modules.module.register_module_forward_hook(_fp32_output)
    try:
        yield
    finally:
        handle.remove()

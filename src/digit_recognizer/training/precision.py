"""Mixed precision where it helps: bf16 autocast on GPUs that support it, float32 elsewhere.

bf16 keeps float32's exponent range, so unlike fp16 it needs no loss scaling and
the training step stays exactly the same code on every device. On CPUs autocast
rarely speeds a network this small up, so ``auto`` keeps CPU training in float32;
``bf16`` can still be forced there (which is how the path is tested without a GPU).
"""

from __future__ import annotations

import torch
from torch import nn


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype to autocast the forward pass to, or None for plain float32."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


class Autocast(nn.Module):
    """Runs the wrapped network under autocast and hands back float32 logits, so the loss is full precision.

    The weights stay float32 (autocast casts per operation), so the wrapped network is
    what gets checkpointed and exported, unchanged.
    """

    def __init__(self, net: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.net = net
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, dtype=self.dtype):
            return self.net(x).float()


def with_precision(net: nn.Module, precision: str, device: torch.device) -> nn.Module:
    """``net`` itself for float32, else wrapped to run its forward pass in reduced precision."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # float32 matmuls on tensor cores: free speed on Ampere+
        torch.backends.cudnn.allow_tf32 = True
    dtype = autocast_dtype(precision, device)
    return net if dtype is None else Autocast(net, dtype)

"""Export a trained DigitNet to ONNX (softmax included) and prove it matches PyTorch."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .model import DigitNet, parameter_count

PARITY_TOLERANCE = 1e-5  # largest allowed |p_onnx - p_torch| over a batch


class WithSoftmax(nn.Module):
    """The exported graph returns calibrated probabilities, so every consumer reads the same numbers.

    ``temperature`` divides the logits first (fitted on held-out writers; 1 = none).
    """

    def __init__(self, net: nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x) / self.temperature, dim=1)


def export_onnx(model: nn.Module, path: Path, sample: torch.Tensor, temperature: float = 1.0) -> dict[str, Any]:
    """Write ``path`` and return the model card's architecture, parity and file fields.

    ``sample`` is a uint8 batch (B, 1, 28, 28) used for the parity check.
    """
    model = model.eval().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    wrapped = WithSoftmax(model, temperature).eval()
    dummy = torch.zeros(1, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapped,
            (dummy,),
            str(path),
            input_names=["image"],
            output_names=["probabilities"],
            dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    parity = onnx_parity(wrapped, path, sample.float() / 255)
    if parity > PARITY_TOLERANCE:
        raise RuntimeError(f"ONNX export differs from PyTorch by {parity:.2e} (> {PARITY_TOLERANCE:.0e}).")
    config = model.config if isinstance(model, DigitNet) else None
    classes = config.classes if config else 10
    return {
        "name": "mnist_cnn",
        "format": "onnx",
        "architecture": "DigitNet: conv5x5-BN-ReLU-pool, 2x(conv3x3-BN-ReLU)-pool, conv3x3-BN-ReLU-pool, linear",
        "model_config": asdict(config) if config else None,
        "parameters": parameter_count(model),
        "input": {
            "name": "image",
            "shape": ["batch", 1, 28, 28],
            "dtype": "float32",
            "range": [0.0, 1.0],
            "convention": "white ink on black, digit scaled to 20x20 and centred by mass in 28x28 (MNIST)",
        },
        "output": {
            "name": "probabilities",
            "shape": ["batch", classes],
            "classes": [*range(10), "not a digit"][:classes],
            "temperature": temperature,
        },
        "export": {"opset": 17, "parity_max_abs_diff": parity, "parity_batch": len(sample)},
        "file": {"sha256": sha256_file(path), "bytes": path.stat().st_size},
    }


def onnx_parity(model: nn.Module, path: Path, x: torch.Tensor) -> float:
    """Largest absolute difference between ONNX and PyTorch probabilities on batch ``x``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(x).numpy()
    got = session.run(None, {"image": x.numpy().astype(np.float32)})[0]
    return float(np.abs(got - expected).max())


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

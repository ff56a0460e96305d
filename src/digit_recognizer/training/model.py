"""The digit CNN: the tutorials' conv / pool / dropout recipe plus batch normalization.

Small on purpose: it must train to >99.6% on a 2-core CPU in minutes and answer a
single canvas in well under a millisecond through onnxruntime. Shapes are written
as (B, C, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig


def conv_bn(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DigitNet(nn.Module):
    """Input (B, 1, 28, 28) MNIST-normalized floats in [0, 1]; output (B, classes) logits.

    Classes 0-9 are the digits; an eleventh, "not a digit", when the config has it.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c1, c2, c3 = self.config.c1, self.config.c2, self.config.c3
        self.features = nn.Sequential(
            conv_bn(1, c1, 5),  # (B, c1, 28, 28)
            nn.MaxPool2d(2),  # (B, c1, 14, 14)
            conv_bn(c1, c2),  # (B, c2, 14, 14)
            conv_bn(c2, c2),  # (B, c2, 14, 14)
            nn.MaxPool2d(2),  # (B, c2, 7, 7)
            conv_bn(c2, c3),  # (B, c3, 7, 7)
            nn.MaxPool2d(2),  # (B, c3, 3, 3)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, c3 * 9)
            nn.Dropout(self.config.dropout),
            nn.Linear(c3 * 9, self.config.classes),  # (B, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

"""Batched augmentation aimed at people's drawings rather than census forms.

Everything works on a whole batch at once as tensors (B, 1, 28, 28) in [0, 1]:
one affine grid with a smooth elastic field added, one ``grid_sample``, then stroke
width and binarization applied to random subsets of the batch. No per-image Python.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AugmentConfig


def augment(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly distort a batch (B, 1, 28, 28); returns a new tensor of the same shape."""
    b = x.shape[0]
    grid = _affine_grid(b, cfg, x, generator) + _elastic_field(b, cfg, x, generator)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = _vary_stroke(x, cfg.p_stroke, generator)
    return _binarize_some(x, cfg.p_binarize, generator)


def _uniform(b: int, low: float, high: float, like: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(b, generator=g, device=like.device) * (high - low) + low


def _affine_grid(b: int, cfg: AugmentConfig, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    angle = _uniform(b, -cfg.rotate_deg, cfg.rotate_deg, x, g) * (math.pi / 180)
    # grid_sample maps output to input coordinates, so zooming in means a smaller matrix.
    inv_scale = 1 / _uniform(b, 1 - cfg.scale, 1 + cfg.scale, x, g)
    shear = _uniform(b, -cfg.shear, cfg.shear, x, g)
    shift = cfg.translate_px * 2 / 28
    tx, ty = _uniform(b, -shift, shift, x, g), _uniform(b, -shift, shift, x, g)
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear * cos, tx], 1), torch.stack([sin, cos + shear * sin, ty], 1)], 1
    )  # (B, 2, 3)
    return F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, 28, 28, 2)


def _elastic_field(b: int, cfg: AugmentConfig, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    """A smooth random displacement: coarse 4x4 noise upsampled to the image, in grid units."""
    if cfg.elastic_px <= 0:
        return torch.zeros(1, device=x.device)
    coarse = torch.rand(b, 2, 4, 4, generator=g, device=x.device) * 2 - 1
    field = F.interpolate(coarse, size=x.shape[-2:], mode="bicubic", align_corners=True)
    return field.permute(0, 2, 3, 1) * (cfg.elastic_px * 2 / 28)  # (B, 28, 28, 2)


def _vary_stroke(x: torch.Tensor, p: float, g: torch.Generator | None) -> torch.Tensor:
    """Make a quarter of the batch bolder (dilation) and a quarter thinner (erosion-like)."""
    if p <= 0:
        return x
    choice = torch.rand(x.shape[0], 1, 1, 1, generator=g, device=x.device)
    bold = F.max_pool2d(x, 3, stride=1, padding=1) * 0.85 + x * 0.15
    thin = torch.clamp((x - 0.45) * 2.2, 0, 1)
    x = torch.where(choice < p / 2, bold, x)
    return torch.where((choice >= p / 2) & (choice < p), thin, x)


def _binarize_some(x: torch.Tensor, p: float, g: torch.Generator | None) -> torch.Tensor:
    if p <= 0:
        return x
    pick = torch.rand(x.shape[0], 1, 1, 1, generator=g, device=x.device) < p
    return torch.where(pick, (x > 0.4).to(x.dtype), x)

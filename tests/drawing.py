"""Digits drawn the way people draw them: polylines with a round pen on a canvas.

Each template lists strokes in a unit box (x right, y down); ``draw`` scales them
into any box on any canvas, with any pen, in either polarity.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

Stroke = list[tuple[float, float]]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40) -> Stroke:
    return [(cx + rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n)) for i in range(n + 1)]


TEMPLATES: dict[int, list[Stroke]] = {
    0: [_ellipse(0.5, 0.5, 0.32, 0.45)],
    1: [[(0.42, 0.18), (0.58, 0.05), (0.58, 0.95)]],
    2: [[(0.18, 0.28), (0.35, 0.08), (0.65, 0.06), (0.82, 0.25), (0.75, 0.48), (0.18, 0.93), (0.88, 0.93)]],
    3: [
        [
            (0.2, 0.12),
            (0.5, 0.05),
            (0.78, 0.2),
            (0.7, 0.4),
            (0.45, 0.48),
            (0.78, 0.6),
            (0.82, 0.8),
            (0.55, 0.95),
            (0.18, 0.88),
        ]
    ],
    4: [[(0.6, 0.05), (0.12, 0.62), (0.9, 0.62)], [(0.66, 0.3), (0.66, 0.95)]],  # two strokes
    5: [
        [(0.82, 0.07), (0.28, 0.07)],
        [(0.28, 0.07), (0.22, 0.46), (0.55, 0.38), (0.8, 0.55), (0.8, 0.8), (0.55, 0.95), (0.2, 0.88)],
    ],
    6: [[(0.72, 0.05), (0.4, 0.3), (0.24, 0.7)], _ellipse(0.5, 0.72, 0.26, 0.23)],
    7: [[(0.12, 0.07), (0.88, 0.07), (0.4, 0.95)]],
    8: [_ellipse(0.5, 0.27, 0.24, 0.22), _ellipse(0.5, 0.72, 0.3, 0.24)],
    9: [_ellipse(0.5, 0.3, 0.28, 0.25), [(0.78, 0.3), (0.72, 0.95)]],
}


def draw(
    digits: str,
    size: tuple[int, int] = (300, 300),
    box: tuple[int, int, int, int] | None = None,
    pen: int = 18,
    dark_on_light: bool = True,
    mode: str = "L",
) -> Image.Image:
    """Draw ``digits`` side by side inside ``box`` (default: most of the canvas)."""
    width, height = size
    x0, y0, x1, y1 = box or (int(width * 0.2), int(height * 0.15), int(width * 0.8), int(height * 0.85))
    background, ink = (255, 0) if dark_on_light else (0, 255)
    image = Image.new(mode, size, background if mode == "L" else (background,) * 3)
    canvas = ImageDraw.Draw(image)
    cell = (x1 - x0) / len(digits)
    for i, char in enumerate(digits):
        left = x0 + i * cell + cell * 0.1
        w = cell * 0.8
        for stroke in TEMPLATES[int(char)]:
            points = [(left + x * w, y0 + y * (y1 - y0)) for x, y in stroke]
            canvas.line(points, fill=ink if mode == "L" else (ink,) * 3, width=pen, joint="curve")
            r = pen / 2
            for px, py in (points[0], points[-1]):  # round caps
                canvas.ellipse((px - r, py - r, px + r, py + r), fill=ink if mode == "L" else (ink,) * 3)
    return image


def touching(digits: str, overlap: float) -> Image.Image:
    """Digits drawn so close that their strokes run into each other."""
    width, step = 160, int(160 * (1 - overlap))
    size = (60 + step * len(digits) + width, 300)
    canvas = np.full((300, size[0]), 255, np.uint8)
    for i, digit in enumerate(digits):
        left = 30 + i * step
        drawn = draw(digit, size=size, box=(left - 20, 40, left + width, 260))
        canvas = np.minimum(canvas, np.asarray(drawn))
    return Image.fromarray(canvas)

"""Pen strokes turned into the pictures people actually give the apps, and marks that are no digit.

Training and the handwriting benchmark both need real writers' digits as *inputs*:
a canvas drawing, a tight crop of a scanned form, a box-stretched bitmap. Each style
here takes the strokes of one digit (UNIPEN, or a user's saved correction) and
returns the whole picture, which then goes through the apps' own ``preprocess``.
``junk`` draws what is not a digit (taps, dots, dashes, specks, scribbles) for the
"not a digit" class and for the benchmark's refusal figures.

Everything is seeded by the caller's ``numpy.random.Generator``; no torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from .ink import INK, PAPER, Stroke, bounding_box, render, render_fitted, transformed

Rng = np.random.Generator
Style = Callable[[Sequence[Stroke], Rng], np.ndarray]


# --------------------------------------------------------------------------- digits


def canvas(strokes: Sequence[Stroke], rng: Rng, *, small: bool = False) -> np.ndarray:
    """Drawn on a square canvas of 200-420 px with a brush, at a random size and place, either polarity.

    ``small``: 10-20% of the canvas height near a corner, as people draw in a big box.
    """
    side = int(rng.integers(200, 421))
    share = rng.uniform(0.10, 0.20) if small else rng.uniform(0.35, 0.85)
    aspect = _aspect(strokes)
    share = min(share, 0.85 / aspect)  # a wide digit still fits across the canvas
    height = share * side
    pen = float(np.clip(height / rng.uniform(5.5, 14), 2, 40))
    half = np.array([aspect * height, height]) / 2 + pen  # room the ink needs around its centre (x, y)
    lo, hi = np.minimum(half, side / 2), np.maximum(side - half, side / 2)
    if small:
        corner = rng.integers(0, 2, size=2)
        spot = lo + (hi - lo) * (0.9 * corner + 0.1 * rng.random(2))
    else:
        spot = rng.uniform(lo, hi)
    centre = (float(spot[0]), float(spot[1]))
    dark_on_light = rng.random() < 0.5
    ink, paper = (INK, PAPER) if dark_on_light else (PAPER, INK)
    return render_fitted(strokes, (side, side), height_share=share, centre=centre, pen=pen, ink=ink, paper=paper)


def _aspect(strokes: Sequence[Stroke]) -> float:
    box = bounding_box([Stroke(0.0, s.points) for s in strokes])
    if box is None:
        return 1.0
    x0, y0, x1, y1 = box
    return max(x1 - x0, 1e-6) / max(y1 - y0, 0.25 * (x1 - x0), 1e-6)


def tight_scan(strokes: Sequence[Stroke], rng: Rng) -> np.ndarray:
    """A form-field scan: binarized, cropped to the digit's own box (the ink touches the edges).

    Like 32x32 form bitmaps: the longer side fills 32 px, then the whole is upscaled
    4-8x, dark on light (or light on dark for a quarter of them, as some datasets store).
    """
    bitmap = _binary_crop(strokes, rng)
    h, w = bitmap.shape
    factor = 32 / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    small = np.asarray(Image.fromarray(bitmap).resize(size, Image.Resampling.BILINEAR)) > 127
    return _upscaled(small, int(rng.integers(4, 9)), rng)


def stretched(strokes: Sequence[Stroke], rng: Rng) -> np.ndarray:
    """A box-stretched 16x16 bitmap: the digit's box stretched to fill the square, aspect lost, upscaled."""
    bitmap = _binary_crop(strokes, rng)
    small = np.asarray(Image.fromarray(bitmap).resize((16, 16), Image.Resampling.BILINEAR)) > 127
    return _upscaled(small, int(rng.integers(8, 17)), rng)


def _binary_crop(strokes: Sequence[Stroke], rng: Rng) -> np.ndarray:
    """The digit drawn 96 px tall with a scanner-like pen, cropped to its ink: 255 = ink."""
    pen = float(rng.uniform(6, 13))
    a = render_fitted(strokes, (160, 160), height_share=0.6, centre=(80, 80), pen=pen, ink=255, paper=0)
    rows, cols = np.flatnonzero((a > 127).any(1)), np.flatnonzero((a > 127).any(0))
    return np.where(a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] > 127, 255, 0).astype(np.uint8)


def _upscaled(bits: np.ndarray, factor: int, rng: Rng) -> np.ndarray:
    dark_on_light = rng.random() < 0.75
    picture = np.where(bits, INK, PAPER) if dark_on_light else np.where(bits, PAPER, INK)
    return np.kron(picture.astype(np.uint8), np.ones((factor, factor), dtype=np.uint8))


#: The input styles of real writers' digits, by name, as the benchmark reports them.
STYLES: dict[str, Style] = {
    "canvas": canvas,
    "small": lambda strokes, rng: canvas(strokes, rng, small=True),
    "tight-scan": tight_scan,
    "stretched": stretched,
}


# --------------------------------------------------------------------------- junk


def junk(rng: Rng, kind: str | None = None) -> np.ndarray:
    """A canvas holding something that is not a digit: a tap, dots, a dash, specks or a scribble."""
    kind = kind or str(rng.choice(JUNK_KINDS))
    side = int(rng.integers(200, 421))
    pen = float(rng.uniform(6, 30))
    strokes = _JUNK_MAKERS[kind](rng, side, pen)
    dark_on_light = rng.random() < 0.5
    ink, paper = (INK, PAPER) if dark_on_light else (PAPER, INK)
    return np.asarray(render(strokes, (side, side), ink=ink, paper=paper))


def _tap(rng: Rng, side: int, pen: float) -> list[Stroke]:
    x, y = rng.uniform(0.15 * side, 0.85 * side, size=2)
    return [Stroke(pen, [(x, y)])]


def _dots(rng: Rng, side: int, pen: float) -> list[Stroke]:
    return [s for _ in range(int(rng.integers(2, 5))) for s in _tap(rng, side, pen)]


def _dash(rng: Rng, side: int, pen: float) -> list[Stroke]:
    """A short stroke within 25 degrees of horizontal: a minus sign or a slip of the pen."""
    length = rng.uniform(1.5, 6) * pen
    angle = math.radians(rng.uniform(-25, 25))
    x, y = rng.uniform(0.25 * side, 0.75 * side, size=2)
    dx, dy = length / 2 * math.cos(angle), length / 2 * math.sin(angle)
    return [Stroke(pen, [(x - dx, y - dy), (x + dx, y + dy)])]


def _specks(rng: Rng, side: int, pen: float) -> list[Stroke]:
    small = max(2.0, pen / 3)
    return [Stroke(small, [tuple(rng.uniform(0.1 * side, 0.9 * side, size=2))]) for _ in range(int(rng.integers(3, 9)))]


def _scribble(rng: Rng, side: int, pen: float) -> list[Stroke]:
    """Back-and-forth hatching over an area: someone crossing out or testing the pen."""
    width, height = rng.uniform(0.2, 0.6) * side, rng.uniform(0.15, 0.6) * side
    x0, y0 = rng.uniform(0.1 * side, 0.9 * side - width), rng.uniform(0.1 * side, 0.9 * side - height)
    turns = int(rng.integers(5, 14))
    points = [
        (x0 + (i % 2) * width + rng.normal(0, 0.05 * width), y0 + height * i / turns + rng.normal(0, 0.03 * height))
        for i in range(turns + 1)
    ]
    return [Stroke(min(pen, height / 8), points)]


_JUNK_MAKERS: dict[str, Callable[[Rng, int, float], list[Stroke]]] = {
    "tap": _tap,
    "dots": _dots,
    "dash": _dash,
    "specks": _specks,
    "scribble": _scribble,
}
JUNK_KINDS = tuple(_JUNK_MAKERS)


def pair(first: Sequence[Stroke], second: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """Two digits side by side, close or touching: one piece that is not one digit.

    Trained as "not a digit", it teaches the model to refuse a merged pair, which
    number segmentation relies on to prefer cutting it.
    """
    a, b = _unit_height(first), _unit_height(second)
    box_a = bounding_box(a)
    assert box_a is not None
    gap = rng.uniform(-0.12, 0.08)
    shifted = transformed(b, 1.0, (box_a[2] + gap + rng.uniform(-0.02, 0.02), rng.uniform(-0.08, 0.08)))
    return [*a, *shifted]


def _unit_height(strokes: Sequence[Stroke]) -> list[Stroke]:
    box = bounding_box([Stroke(0.0, s.points) for s in strokes])
    assert box is not None
    x0, y0, _, y1 = box
    scale = 1 / max(y1 - y0, 1e-6)
    return transformed(strokes, scale, (-x0 * scale, -y0 * scale), width=0.0)

"""Numbers composed the way people write them: for training the sequence reader and for the benchmark.

No torch here (the benchmark imports it). A number of 1-10 digits is the strokes of ONE
UNIPEN writer (a new take of each digit through ``variation.vary``, now and then in a
generated style), or MNIST training digits side by side, with

- spacing: ``apart`` (a gap of 8-50% of the height), ``touching`` (neighbours within 8% of
  a digit's width of each other, often meeting), ``overlapping`` (by up to a third of the
  narrower digit's width), ``fused`` (one pair overlapping by a third to a half: 00, 11,
  77 become one blob);
- baseline drift and a sloping line, size changes along the number, pen widths,
  both polarities, grey paper or binarized scans, and stray marks (a dot, a dash) that
  are not part of the number.

Every image then goes through the recognizer's own steps: ``preprocess.load_ink`` and
``ctc.line_image``, so the model sees at training what it sees in the apps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .. import ink as inklib
from .. import variation
from ..ctc import line_image
from ..ink import InkSample, Stroke
from ..preprocess import NoDigit, load_ink

Rng = np.random.Generator
Writer = dict[int, list[InkSample]]

SPACINGS = ("apart", "touching", "overlapping", "fused")
SPACING_SHARE = (0.35, 0.25, 0.28, 0.12)  # of the training numbers
MAX_LENGTH = 10
STYLE_SHARE = 0.15  # takes drawn in a generated style of their class
MARK_SHARE = 0.12  # numbers with a stray mark beside or below them


@dataclass(frozen=True)
class Composed:
    """A composed number: its digits, spacing, the picture (uint8, dark ink on light unless inverted)."""

    text: str
    spacing: str
    image: np.ndarray  # (H, W) uint8


def by_writer(samples: Sequence[InkSample]) -> dict[str, Writer]:
    """Each writer's digits by class; writers with fewer than four classes are left out."""
    writers: dict[str, Writer] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        if s.strokes and any(len(st.points) for st in s.strokes):
            writers[s.writer][s.label].append(s)
    return {w: dict(d) for w, d in writers.items() if len(d) >= 4}


def gap_for(spacing: str, fused_pair: bool, height: float, narrower: float, rng: Rng) -> float:
    """The blank (negative: the overlap) between two neighbours, in canvas pixels."""
    if spacing == "apart":
        return rng.uniform(0.08, 0.5) * height
    if fused_pair:
        return -rng.uniform(1 / 3, 0.5) * narrower
    if spacing == "touching":
        return rng.uniform(-0.08, 0.02) * narrower
    if spacing == "overlapping":
        return -rng.uniform(0.0, 1 / 3) * narrower
    return rng.uniform(0.0, 0.3) * height  # the other pairs of a fused number


def layout(
    widths: Sequence[float], spacing: str, height: float, rng: Rng
) -> tuple[list[float], list[float], list[float]]:
    """Left edge, size factor and baseline of every digit; ``widths`` are at size factor 1."""
    n = len(widths)
    fused = int(rng.integers(n - 1)) if spacing == "fused" and n > 1 else -1
    size = np.exp(np.cumsum(rng.normal(0, 0.05, n)) + rng.normal(0, 0.05))  # a size drifting along the number
    slope = rng.uniform(-0.08, 0.08) * height
    base = np.cumsum(rng.normal(0, 0.035 * height, n)) + slope * np.arange(n)
    lefts, right = [], 0.0
    for k in range(n):
        w = widths[k] * size[k]
        if k:
            narrower = min(w, widths[k - 1] * size[k - 1])
            right += gap_for(spacing, k - 1 == fused, height, narrower, rng)
        lefts.append(right)
        right += w
    return lefts, size.tolist(), base.tolist()


def compose_strokes(
    writer: Writer, text: str, spacing: str, rng: Rng, *, vary: bool = True
) -> tuple[list[list[Stroke]], tuple[int, int], float]:
    """One writer's digits for ``text`` placed on a line: each digit's strokes, the canvas size and the height."""
    height = rng.uniform(40, 110)
    pen = height * rng.uniform(0.04, 0.14)
    takes = []
    for char in text:
        options = writer[int(char)]
        strokes = list(options[int(rng.integers(len(options)))].strokes)
        if vary:
            if rng.random() < STYLE_SHARE and (made := variation.generated_style(int(char), strokes, rng)):
                strokes = made[1]
            strokes = variation.vary(strokes, rng)
        takes.append(strokes)
    boxes = [_box(t) for t in takes]
    scales = [height / max(y1 - y0, 0.3 * (x1 - x0), 1e-6) for x0, y0, x1, y1 in boxes]
    widths = [(b[2] - b[0]) * s + pen for b, s in zip(boxes, scales, strict=True)]
    lefts, sizes, bases = layout(widths, spacing, height, rng)
    margin = 0.4 * height
    placed: list[list[Stroke]] = []
    for strokes, (x0, _y0, _x1, y1), scale, left, size, base in zip(
        takes, boxes, scales, lefts, sizes, bases, strict=True
    ):
        k = scale * size
        offset = (margin + left + pen / 2 - x0 * k, 1.3 * height + base - y1 * k)
        placed.append(inklib.transformed(strokes, k, offset, width=pen))
    every = [s for digit in placed for s in digit]
    right, low = max(s.box()[2] for s in every), max(s.box()[3] for s in every)
    top = min(s.box()[1] for s in every)
    if top < 2:  # a line drifting up: move everything down
        placed = [inklib.transformed(digit, 1.0, (0.0, 2 - top), width=None) for digit in placed]
        low += 2 - top
    return placed, (int(right + margin), int(low + 0.3 * height)), height


def _box(strokes: Sequence[Stroke]) -> tuple[float, float, float, float]:
    box = inklib.bounding_box([Stroke(0.0, s.points) for s in strokes])
    return box if box is not None else (0.0, 0.0, 1.0, 1.0)


def stray_mark(size: tuple[int, int], height: float, pen: float, rng: Rng) -> Stroke:
    """A dot or a short dash somewhere on the canvas: ink that is no digit."""
    x, y = rng.uniform(0.05, 0.95) * size[0], rng.uniform(0.85, 1.0) * size[1] - pen
    if rng.random() < 0.5:
        return Stroke(pen, [(x, y)])
    length = rng.uniform(0.1, 0.25) * height
    return Stroke(pen, [(x, y), (x + length, y + rng.uniform(-0.05, 0.05) * height)])


def finish(canvas: np.ndarray, rng: Rng) -> np.ndarray:
    """Paper and ink as scanners and apps give them: both polarities, grey paper, noise, binarized."""
    a = canvas.astype(np.float32) / 255  # 1 = paper, 0 = ink
    if rng.random() < 0.35:
        paper, dark = rng.uniform(0.55, 0.95), rng.uniform(0.0, 0.35)
        a = dark + (paper - dark) * a + rng.normal(0, 0.03, a.shape)
        if rng.random() < 0.3:
            a = np.where(a > (paper + dark) / 2, 1.0, 0.0)
    if rng.random() < 0.3:
        a = 1 - a  # light ink on dark
    return np.clip(a * 255, 0, 255).astype(np.uint8)


def compose_unipen(writer: Writer, length: int, spacing: str, rng: Rng, *, vary: bool = True) -> Composed:
    """A number of ``length`` digits in one writer's hand (digits drawn from the classes they wrote)."""
    labels = sorted(writer)
    text = "".join(str(labels[int(i)]) for i in rng.integers(len(labels), size=length))
    digits, size, height = compose_strokes(writer, text, spacing, rng, vary=vary)
    strokes = [s for digit in digits for s in digit]
    if rng.random() < MARK_SHARE:
        strokes.append(stray_mark(size, height, strokes[0].width, rng))
    canvas = np.asarray(inklib.render(strokes, size))
    return Composed(text, spacing, finish(canvas, rng))


def compose_mnist(images: np.ndarray, labels: np.ndarray, length: int, spacing: str, rng: Rng) -> Composed:
    """MNIST training digits (white on black, 28x28) side by side, merged by their brightest ink."""
    picks = rng.integers(len(images), size=length)
    crops = [_tight(images[i]) for i in picks]
    scale = rng.uniform(1.5, 4.0)
    crops = [_scaled(c, scale * rng.uniform(0.9, 1.1)) for c in crops]
    height = max(c.shape[0] for c in crops)
    lefts, _sizes, bases = layout([c.shape[1] for c in crops], spacing, height, rng)
    margin = int(0.3 * height)
    width = int(max(left + c.shape[1] for left, c in zip(lefts, crops, strict=True))) + 2 * margin
    line = np.zeros((int(1.6 * height) + 2 * margin, width), dtype=np.uint8)  # (H, W), white ink on black
    for crop, left, base in zip(crops, lefts, bases, strict=True):
        y = int(np.clip(margin + 0.3 * height + base * 0.5, 0, line.shape[0] - crop.shape[0]))
        x = int(np.clip(margin + left, 0, width - crop.shape[1]))
        window = line[y : y + crop.shape[0], x : x + crop.shape[1]]
        np.maximum(window, crop, out=window)
    text = "".join(str(int(labels[i])) for i in picks)
    return Composed(text, spacing, finish(255 - line, rng))


def _tight(image: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(image.max(1) > 40), np.flatnonzero(image.max(0) > 40)
    if len(rows) == 0:
        return image
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def as_line(picture: np.ndarray) -> np.ndarray | None:
    """The picture through the recognizer's steps (``load_ink``, ``line_image``): uint8 (LINE_HEIGHT, W)."""
    try:
        line = line_image(load_ink(picture))
    except NoDigit:
        return None
    return np.round(line.image * 255).astype(np.uint8)


def spacing_for(rng: Rng) -> str:
    return str(rng.choice(SPACINGS, p=SPACING_SHARE))


def length_for(rng: Rng) -> int:
    """1-10 digits, most often 2-6 (what forms and people write)."""
    weights = np.array([0.08, 0.14, 0.14, 0.14, 0.13, 0.12, 0.08, 0.07, 0.05, 0.05])
    return int(rng.choice(np.arange(1, MAX_LENGTH + 1), p=weights / weights.sum()))

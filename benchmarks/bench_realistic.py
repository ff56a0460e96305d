"""Realistic-handwriting benchmark: MNIST test digits re-drawn the way people's inputs look.

MNIST accuracy says little about a digit drawn with a mouse on a 300x300 canvas or
a scanned form, so each MNIST *test* digit (never seen in training) is re-rendered
in one of these styles and sent through the same path as the apps
(``Recognizer.predict`` on the full image):

  canvas-dark    black pen on a white canvas, crisp strokes, random size and place
  canvas-light   white pen on black (the tutorials' Tk canvas)
  small-corner   drawn small (12-20% of the canvas) near a corner
  thin-pen       1-3 px strokes on a large canvas
  bold-pen       very thick strokes
  scan           gray paper, uneven light, noise, specks, blur, JPEG artefacts
  transparent    dark strokes on a transparent RGBA canvas (web canvases)

Usage:  python benchmarks/bench_realistic.py [--n 500] [--model PATH] [--data-dir DIR] [--seed 0]
Prints a fixed-column table (accuracy per style) with the conditions.
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

Rng = np.random.Generator


def _upscale(digit: np.ndarray, side: int) -> np.ndarray:
    """The 28x28 MNIST digit, cropped to its ink, scaled so its longer side is ``side`` px, in [0, 1]."""
    rows, cols = np.nonzero(digit > 30)
    crop = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32) / 255
    factor = side / max(crop.shape)
    size = (max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor)))
    return np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC)).clip(0, 1)


def _pen(ink: np.ndarray, width_change: int) -> np.ndarray:
    """Crisp strokes like a mouse pen; ``width_change`` px thicker (>0) or thinner (<0)."""
    mask = ink > 0.5
    if width_change > 0:
        mask = ndimage.binary_dilation(mask, iterations=width_change)
    elif width_change < 0:
        thinner = ndimage.binary_erosion(mask, iterations=-width_change)
        mask = thinner if thinner.sum() > 0.2 * mask.sum() else mask
    return mask.astype(np.float32)


def _place(ink: np.ndarray, canvas: tuple[int, int], rng: Rng, corner: bool = False) -> np.ndarray:
    h, w = canvas
    out = np.zeros(canvas, dtype=np.float32)
    ih, iw = ink.shape
    if corner:
        top = rng.choice([rng.integers(0, max(1, h // 10)), h - ih - rng.integers(0, max(1, h // 10))])
        left = rng.choice([rng.integers(0, max(1, w // 10)), w - iw - rng.integers(0, max(1, w // 10))])
    else:
        top, left = rng.integers(0, max(1, h - ih)), rng.integers(0, max(1, w - iw))
    top, left = int(np.clip(top, 0, h - ih)), int(np.clip(left, 0, w - iw))
    out[top : top + ih, left : left + iw] = ink
    return out


def canvas_dark(digit: np.ndarray, rng: Rng) -> Image.Image:
    side = int(rng.integers(240, 420))
    ink = _pen(_upscale(digit, int(side * rng.uniform(0.35, 0.8))), int(rng.integers(-1, 4)))
    return Image.fromarray(((1 - _place(ink, (side, side), rng)) * 255).astype(np.uint8))


def canvas_light(digit: np.ndarray, rng: Rng) -> Image.Image:
    side = int(rng.integers(240, 420))
    ink = _pen(_upscale(digit, int(side * rng.uniform(0.35, 0.8))), int(rng.integers(-1, 4)))
    return Image.fromarray((_place(ink, (side, side), rng) * 255).astype(np.uint8))


def small_corner(digit: np.ndarray, rng: Rng) -> Image.Image:
    side = int(rng.integers(280, 400))
    ink = _pen(_upscale(digit, int(side * rng.uniform(0.12, 0.2))), 0)
    return Image.fromarray(((1 - _place(ink, (side, side), rng, corner=True)) * 255).astype(np.uint8))


def _centre_lines(ink: np.ndarray) -> np.ndarray:
    """The ridge of a smooth stroke image: pixels brighter than both neighbours across a line."""
    pad = np.pad(ink, 1)
    across_x = (ink >= pad[1:-1, :-2]) & (ink >= pad[1:-1, 2:])
    across_y = (ink >= pad[:-2, 1:-1]) & (ink >= pad[2:, 1:-1])
    return (across_x | across_y) & (ink > 0.5)


def thin_pen(digit: np.ndarray, rng: Rng) -> Image.Image:
    side = int(rng.integers(300, 500))
    smooth = ndimage.gaussian_filter(_upscale(digit, int(side * rng.uniform(0.5, 0.8))), side / 100)
    lines = _centre_lines(smooth)
    if rng.random() < 0.5:
        lines = ndimage.binary_dilation(lines)  # a 3 px pen instead of 1-2 px
    return Image.fromarray(((1 - _place(lines.astype(np.float32), (side, side), rng)) * 255).astype(np.uint8))


def bold_pen(digit: np.ndarray, rng: Rng) -> Image.Image:
    side = int(rng.integers(240, 360))
    height = int(side * rng.uniform(0.5, 0.75))
    ink = _pen(_upscale(digit, height), int(height * rng.uniform(0.04, 0.08)))
    return Image.fromarray(((1 - _place(ink, (side, side), rng)) * 255).astype(np.uint8))


def scan(digit: np.ndarray, rng: Rng) -> Image.Image:
    h, w = int(rng.integers(120, 260)), int(rng.integers(120, 260))
    ink = _upscale(digit, int(min(h, w) * rng.uniform(0.5, 0.85)))
    if rng.random() < 0.5:
        ink = (ink > 0.4).astype(np.float32)  # binarized form scans
    placed = _place(ink, (h, w), rng)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = rng.uniform(0.7, 0.95) + rng.uniform(-0.15, 0.15) * xx + rng.uniform(-0.15, 0.15) * yy
    ink_level = rng.uniform(0.05, 0.35)
    page = light * (1 - placed) + ink_level * placed + rng.normal(0, rng.uniform(0.01, 0.05), (h, w))
    specks = rng.random((h, w)) < 0.001
    page[specks] = rng.uniform(0, 0.3)
    image = Image.fromarray((page.clip(0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def transparent(digit: np.ndarray, rng: Rng) -> Image.Image:
    side = int(rng.integers(240, 420))
    ink = _pen(_upscale(digit, int(side * rng.uniform(0.35, 0.8))), int(rng.integers(0, 3)))
    alpha = (_place(ink, (side, side), rng) * 255).astype(np.uint8)
    rgba = np.zeros((side, side, 4), dtype=np.uint8)
    rgba[..., 3] = alpha  # black strokes; the transparent pixels are black too, as canvases store them
    return Image.fromarray(rgba, "RGBA")


STYLES: dict[str, Callable[[np.ndarray, Rng], Image.Image]] = {
    "canvas-dark": canvas_dark,
    "canvas-light": canvas_light,
    "small-corner": small_corner,
    "thin-pen": thin_pen,
    "bold-pen": bold_pen,
    "scan": scan,
    "transparent": transparent,
}


def render_set(images: np.ndarray, style: str, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [STYLES[style](digit, rng) for digit in images]


def main() -> None:
    sys.path.insert(0, "src")
    from digit_recognizer import Recognizer, data

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="digits per style (default 500)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITS_DATA_DIR or the cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--figure", default=None, help="also save a picture of examples: input, then what the model sees"
    )
    args = parser.parse_args()

    test = data.load_split("test", args.data_dir)
    recognizer = Recognizer.load(args.model)
    print(f"realistic-handwriting benchmark: {args.n} MNIST test digits per style, seed {args.seed}")
    print(f"model {recognizer.path.name}, python {platform.python_version()}, {platform.machine()}")
    print(f"{'style':<14}{'n':>6}{'accuracy':>10}{'no digit':>10}  most common mistakes (true→read)")
    total_right = total = 0
    for k, style in enumerate(STYLES):
        start = (k * args.n) % (len(test) - args.n)  # each style draws different digits
        labels = test.labels[start : start + args.n]
        images = render_set(test.images[start : start + args.n], style, args.seed + k)
        predictions = recognizer.predict_batch(images)
        read = np.array([-1 if p.digit is None else p.digit for p in predictions])
        right = int((read == labels).sum())
        mistakes = Counter(f"{t}→{r if r >= 0 else '∅'}" for t, r in zip(labels, read, strict=True) if t != r)
        worst = ", ".join(f"{m} ×{c}" for m, c in mistakes.most_common(4))
        print(f"{style:<14}{len(labels):>6}{right / len(labels):>10.2%}{int((read < 0).sum()):>10}  {worst}")
        total_right += right
        total += len(labels)
    print(f"{'all':<14}{total:>6}{total_right / total:>10.2%}")
    if args.figure:
        save_figure(test.images[:6], recognizer, args.figure, args.seed)


def save_figure(digits: np.ndarray, recognizer, path: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    """One row per style: each input beside the 28x28 image the model sees (docs/realistic.png)."""
    tile = 96
    rows = []
    for k, style in enumerate(STYLES):
        cells = []
        for image in render_set(digits, style, seed + k):
            shown = Image.new("RGBA", image.size, (210, 225, 240, 255))  # transparency shows as blue-gray
            shown.alpha_composite(image.convert("RGBA"))
            cells.append(np.asarray(shown.convert("L").resize((tile, tile))))
            seen = recognizer.preprocess(image)
            cells.append(np.asarray(Image.fromarray((seen * 255).astype(np.uint8)).resize((tile, tile), 0)))
            cells.append(np.full((tile, 6), 255, dtype=np.uint8))
        rows += [np.concatenate(cells, 1), np.full((6, len(cells) // 3 * (2 * tile + 6)), 255, dtype=np.uint8)]
    Image.fromarray(np.concatenate(rows, 0)).save(path)
    print(f"figure saved to {path}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.0f} s)")

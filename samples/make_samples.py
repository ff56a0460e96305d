"""Make the images the examples in the README and docs/ use, from UNIPEN test writers' pen strokes.

    python samples/make_samples.py        # rewrites samples/*.png and samples/*.jpg

Every image is drawn from real pen trajectories of writers the model never trained on
(``unipen.load(("test",))``), through ``ink.render_fitted``, the same rendering training
uses, so the samples look like what people draw. The first sample of each digit from the
first test writer (sorted by id) who wrote all the digits needed is used: no picking of
samples the model happens to read well. The output is the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer import ink, unipen

HERE = Path(__file__).resolve().parent


def first_of_each(samples: Sequence[ink.InkSample], digits: str) -> dict[int, ink.InkSample]:
    """The first sample of each digit in ``digits`` by the first writer who wrote them all."""
    by_writer: dict[str, dict[int, ink.InkSample]] = {}
    for sample in samples:
        by_writer.setdefault(sample.writer, {}).setdefault(sample.label, sample)
    for writer in sorted(by_writer):
        if all(int(d) in by_writer[writer] for d in digits):
            return by_writer[writer]
    raise SystemExit(f"no UNIPEN test writer wrote all of {digits}")


def digit_image(sample: ink.InkSample) -> Image.Image:
    """One digit on a 280x280 canvas, 60% of its height, with the apps' default pen."""
    return Image.fromarray(ink.render_fitted(sample.strokes, (280, 280), height_share=0.6, centre=(140, 140), pen=18))


def number_image(samples: Sequence[ink.InkSample]) -> Image.Image:
    """Digits written side by side, a little apart, on an 840x280 canvas (the desktop's number paper)."""
    canvas = np.full((280, 840), 255, np.uint8)
    step = 840 / (len(samples) + 1)
    for i, sample in enumerate(samples, 1):
        one = ink.render_fitted(sample.strokes, (840, 280), height_share=0.5, centre=(step * i, 140), pen=16)
        canvas = np.minimum(canvas, one)
    return Image.fromarray(canvas)


def scan_like(image: Image.Image, seed: int = 0) -> Image.Image:
    """Grey paper lit unevenly, a little noise and blur: what a phone photo of paper looks like."""
    rng = np.random.default_rng(seed)
    ink_mask = 1 - np.asarray(image, np.float32) / 255
    h, w = ink_mask.shape
    light = 200 + 40 * np.linspace(0, 1, w)[None, :] * np.linspace(0.6, 1, h)[:, None]
    paper = light + rng.normal(0, 6, (h, w))
    page = paper * (1 - 0.8 * ink_mask)
    rgb = np.stack([page, page * 0.98, page * 0.93], axis=-1).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb).resize((w * 3 // 2, h * 3 // 2), Image.Resampling.BICUBIC)


def main() -> None:
    samples = unipen.load(("test",)).samples
    seven, three = first_of_each(samples, "7")[7], first_of_each(samples, "3")[3]
    year = first_of_each(samples, "025")
    digit_image(seven).save(HERE / "seven.png", optimize=True)
    number_image([year[2], year[0], year[2], year[5]]).save(HERE / "2025.png", optimize=True)
    scan_like(digit_image(three)).save(HERE / "three-photo.jpg", quality=80)
    Image.new("L", (280, 280), 255).save(HERE / "blank.png", optimize=True)
    for name in ("seven.png", "2025.png", "three-photo.jpg", "blank.png"):
        print(f"wrote samples/{name}")


if __name__ == "__main__":
    main()

"""The one public image -> ink step (``load_ink``) leaves what the digit model sees unchanged.

The expected digests were computed with the code as it was before ``load_ink`` existed
(commit ca9cdce: ``preprocess`` and ``segment`` reading the image themselves); the
shipped digit model is trained on exactly those arrays, kept in ``ink_boundary.npz``
(saved at commit ee00cc4, whose arrays had those digests). Since issue 21, resizing is
Pillow's arithmetic in numpy, whose sums round in another order: the arrays agree to
float32 rounding (1e-6), not to the last bit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_recognizer.preprocess import Ink, NoDigit, load_ink, preprocess
from digit_recognizer.segment import segment
from drawing import draw, touching

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REFERENCE = Path(__file__).with_name("ink_boundary.npz")  # name, and "name / k" for the k-th digit of segment()
ROUNDING = 1e-6

# name: (sha256[:16] of preprocess(image), of each segment(image) digit's 28x28 array)
BEFORE = {
    "seven": ("91c5a7efd93cde22", "91c5a7efd93cde22"),
    "light-on-dark 3": ("5aebf849d943097b", "5aebf849d943097b"),
    "bold 8": ("10b62afe4df5d22a", ""),
    "photo": ("5b5ef57bb9a21e51", "2126a13a60457055"),
    "sample 2025": ("2fc75858f6dd2bb4", "6a25aa32fddc2510 0404ceb620f5b35c 6a25aa32fddc2510 13ccbfe56a632c43"),
    "touching 407": ("80773b2d35eae430", "5b8dacc027ba2553 e77236600f98ed41"),
    "rgb 90210": (
        "1165c338ce3604ff",
        "249b2e55bf611ef5 0547e8e3e50a42e7 cd91c6bdab6931b8 cd90ca394649771b 0547e8e3e50a42e7",
    ),
}


def opened(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.copy()


MAKERS: dict[str, Callable[[], Image.Image]] = {
    "seven": lambda: draw("7"),
    "light-on-dark 3": lambda: draw("3", dark_on_light=False, pen=6),
    "bold 8": lambda: draw("8", size=(120, 90), pen=30),
    "photo": lambda: opened(SAMPLES / "three-photo.jpg"),
    "sample 2025": lambda: opened(SAMPLES / "2025.png"),
    "touching 407": lambda: touching("407", 0.25),
    "rgb 90210": lambda: draw("90210", size=(1000, 300), box=(40, 40, 960, 260), mode="RGB"),
}


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()[:16]


def reference(name: str) -> tuple[np.ndarray, list[np.ndarray]]:
    with np.load(REFERENCE) as saved:
        pieces = sorted((k for k in saved.files if k.startswith(f"{name} / ")), key=lambda k: int(k.split(" / ")[1]))
        return saved[name], [saved[k] for k in pieces]


@pytest.mark.parametrize("name", list(BEFORE))
def test_the_saved_arrays_are_those_of_before_the_boundary(name: str) -> None:
    single, pieces = reference(name)
    assert digest(single) == BEFORE[name][0]
    assert " ".join(digest(p) for p in pieces) == BEFORE[name][1]


@pytest.mark.parametrize("name", list(BEFORE))
def test_the_digit_models_arrays_are_those_of_before_the_boundary(name: str) -> None:
    image = MAKERS[name]()
    single, pieces = reference(name)
    np.testing.assert_allclose(preprocess(image), single, rtol=0, atol=ROUNDING)
    digits = segment(image).digits
    assert len(digits) == len(pieces)
    for digit, expected in zip(digits, pieces, strict=True):
        np.testing.assert_allclose(digit.image, expected, rtol=0, atol=ROUNDING)


@pytest.mark.parametrize("name", list(BEFORE))
def test_an_ink_read_once_gives_what_the_image_gives(name: str) -> None:
    image = MAKERS[name]()
    ink = load_ink(image)
    assert isinstance(ink, Ink) and load_ink(ink) is ink
    assert np.array_equal(preprocess(ink), preprocess(image))
    assert [d.box for d in segment(ink).digits] == [d.box for d in segment(image).digits]


def test_a_blank_image_has_no_ink() -> None:
    with pytest.raises(NoDigit):
        load_ink(Image.new("L", (100, 100), 255))


def test_the_pen_width_is_measured_on_the_strokes_kept() -> None:
    thin, bold = load_ink(draw("1", pen=6)), load_ink(draw("1", pen=24))
    assert 0 < thin.pen_width < bold.pen_width

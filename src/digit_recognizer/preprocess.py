"""Any picture of a handwritten digit -> the 28x28 array MNIST would have made of it.

MNIST digits were size-normalized to fit a 20x20 box (keeping their aspect ratio,
anti-aliased) and then centred in a 28x28 field by their centre of mass, as white
ink on black. A model trained on that sees nothing else, so every canvas, scan or
photo goes through the same procedure here:

1. read: any Pillow image, EXIF orientation applied, transparency as background,
   first frame of an animation, 16-bit and CMYK handled;
2. ink: polarity decided from the background at the border (dark-on-light or
   light-on-dark), uneven lighting flattened, contrast stretched;
3. clean: specks removed as small connected components; blank means "no digit";
4. normalize: crop to the ink, bring strokes to MNIST's pen width, scale the longer
   side to 20 px, centre by mass in 28x28.

The public boundary between an image and every reader is ``load_ink`` (steps 1-3,
once): it gives an ``Ink`` that the digit reader normalizes (step 4), that ``segment``
cuts into candidate digits (step 4 for each), and that the sequence reader (``ctc``)
scales to a line of fixed height. Nothing downstream reads the image again.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Union

import numpy as np
from PIL import Image

from .imagefile import MAX_PIXELS as MAX_PIXELS  # re-exported: reading files is imagefile's job
from .imagefile import ImageError as ImageError
from .imagefile import open_image as open_image
from .morphology import (
    Box,
    bounding_boxes,
    grey_closing,
    grey_dilation,
    grey_erosion,
    grey_opening,
    label,
    resize,
    uniform_filter,
)

ImageSource = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]  # noqa: UP007 (runtime alias)

WORK_SIDE = 64  # stroke width is normalized at this size (longer side), then scaled to 20
BOX = 20  # MNIST: the digit's longer side
FIELD = 28  # MNIST: the image side; the centre of mass lands at (14, 14)
MNIST_STROKE = 2.6  # median MNIST pen width in px at BOX scale (2*area/boundary of ink > 0.5)
INK_THRESHOLD = 0.3  # share of the strongest ink that counts as a stroke pixel
MIN_CONTRAST = 0.08  # ink weaker than this (on a 0-1 scale) is no ink at all
ANALYSIS_PIXELS = 40_000  # larger images are reduced first (box average): a digit needs no more detail


BLANK = "the image is blank: no ink found"  # the reason given for an empty canvas


class NoDigit(ValueError):
    """The image is readable but holds no digit (blank, or only specks of noise)."""


# --------------------------------------------------------------------------- public


@dataclass(frozen=True)
class Ink:
    """An image reduced to its ink, once, for every reader (steps 1-3 of the module docstring).

    ``gray`` is the reduced grayscale image (analysis scale), ``strength`` the ink in it
    (bright = ink, 0 = background, whatever the input's polarity), ``labels`` its strokes
    (1..n, specks 0), ``scale`` the factor from analysis pixels back to the source's and
    ``box`` the strokes' bounding box (rows, cols): the later steps look only inside it.
    """

    gray: np.ndarray = field(repr=False)  # (H, W) float32 in [0, 1]
    strength: np.ndarray = field(repr=False)  # (H, W) float32 in [0, 1]
    labels: np.ndarray = field(repr=False)  # (H, W) int
    scale: float
    box: Box

    @property
    def pen_width(self) -> float:
        """Mean pen width of the strokes kept, in analysis pixels."""
        return stroke_width(self.labels[self.box] > 0)


def load_ink(source: ImageSource | Ink) -> Ink:
    """Read any image and find its ink: the one step every reader starts from (an Ink passes through).

    Raises ImageError for an unreadable image and NoDigit for a blank one (or only specks).
    """
    if isinstance(source, Ink):
        return source
    gray, scale = _load(source)
    strength, labels, box = _find_strokes(gray)
    return Ink(gray, strength, labels, scale, box)


def preprocess(source: ImageSource | Ink) -> np.ndarray:
    """The 28x28 float32 array in [0, 1] the model should see.

    Raises NoDigit for a blank image, specks, or a stray mark (a tap, dots, a dash).
    """
    ink = load_ink(source)
    if mark := stray_mark(ink.labels, ink.box):
        raise NoDigit(mark)
    return normalize(ink.strength, ink.box)


# --------------------------------------------------------------------------- 1. read


def load_gray(source: ImageSource) -> np.ndarray:
    """Grayscale float32 in [0, 1], whatever the input's mode; alpha composited away."""
    return _load(source)[0]


def _load(source: ImageSource) -> tuple[np.ndarray, float]:
    """The reduced grayscale image, and the factor from its pixels back to the source's."""
    try:  # Pillow decodes lazily: truncated or corrupt data surfaces anywhere in here
        gray = _array_to_gray(source) if isinstance(source, np.ndarray) else _pil_to_gray(open_image(source))
        reduced = _reduce(gray)
        return _to_float(reduced), gray.size[0] / reduced.size[0]
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"the image data is damaged or truncated ({exc})") from None


def _reduce(gray: Image.Image) -> Image.Image:
    """Shrink to at most ANALYSIS_PIXELS pixels, so every later step costs about the same.

    Box averaging by a whole factor (Pillow's ``reduce``) is anti-aliased like a resize
    and ten times faster than a fractional bilinear one.
    """
    width, height = gray.size
    factor = math.ceil((width * height / ANALYSIS_PIXELS) ** 0.5)
    return gray.reduce(factor) if factor > 1 else gray


def _to_float(gray: Image.Image) -> np.ndarray:
    if gray.mode == "L":
        values = np.asarray(gray, dtype=np.float32)  # a new array: scaled in place
        values *= np.float32(1 / 255)
        return values
    return np.asarray(gray, dtype=np.float32)


def _pil_to_gray(image: Image.Image) -> Image.Image:
    """Mode "L" for ordinary images (fast, 8-bit); mode "F" in [0, 1] for deep or transparent ones."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _float_image(_stretch(_finite(np.asarray(image, dtype=np.float32))))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA") and image.getchannel("A").getextrema()[0] == 255:
        return image.convert("L")  # opaque (a browser canvas's PNG): nothing to composite, keep the fast 8-bit path
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
        return _float_image(_composite(_luminance(rgba[..., :3]), rgba[..., 3]))
    return image if image.mode == "L" else image.convert("L")


def _float_image(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(gray, dtype=np.float32))  # float32: mode "F"


def _array_to_gray(array: np.ndarray) -> Image.Image:
    a = np.asarray(array)
    if a.dtype == np.uint8 and a.ndim == 2 and a.size:  # the apps' canvases: no conversion needed
        return Image.fromarray(a)  # mode "L" (naming it costs Pillow 13 a deprecation check)
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif a.dtype.kind not in "uif":
        raise ImageError(f"a {a.dtype} array is not an image; pass numbers (uint8 0-255 or floats 0-1)")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise ImageError(f"an array of shape {a.shape} is not an image; pass (H, W), (H, W, 3) or (H, W, 4)")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ImageError(f"the array is {a.shape[1]}x{a.shape[0]} pixels, too large to be a digit")
    integers = a.dtype.kind in "ui"
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ImageError("the array holds NaN or infinite values")
    if integers or a.max() > 1.0:  # 0-255 or 0-65535 rather than 0-1
        a /= 65535.0 if a.max() > 255 else 255.0
    a = np.clip(a, 0, 1)
    if a.ndim == 3:
        gray = _luminance(a[..., :3])
        a = _composite(gray, a[..., 3]) if a.shape[2] == 4 else gray
    return _float_image(a)


def _finite(a: np.ndarray) -> np.ndarray:
    """NaN and infinite pixels (a float TIFF's holes) ignored: set to the median of the others, the background."""
    finite = np.isfinite(a)
    if finite.all():
        return a
    a = a.copy()
    a[~finite] = np.median(a[finite]) if finite.any() else 0.0
    return a


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def _composite(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Put transparent parts on a background that contrasts with the visible ink.

    Canvases often store strokes as opaque pixels on fully transparent ones whose
    colour is arbitrary (usually black), so the colour under alpha 0 is ignored.
    """
    if alpha.min() >= 0.999:
        return gray
    visible = alpha > 0.5
    ink_level = float(gray[visible].mean()) if visible.any() else 0.0
    background = 1.0 if ink_level < 0.5 else 0.0
    return (gray * alpha + background * (1 - alpha)).astype(np.float32)


def _stretch(a: np.ndarray) -> np.ndarray:
    low, high = float(a.min()), float(a.max())
    return ((a - low) / (high - low)).astype(np.float32) if high > low else np.zeros_like(a, dtype=np.float32)


def _shrink(gray: np.ndarray, factor: float) -> np.ndarray:
    h, w = gray.shape
    return resize(gray, (max(1, round(w * factor)), max(1, round(h * factor))))


# --------------------------------------------------------------------------- 2-3. ink


def find_ink(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ink strength (bright = ink, 0 = background) and labels of the strokes kept.

    Raises NoDigit when nothing but background or specks is left.
    """
    strength, labels, _ = _find_strokes(gray)
    return strength, labels


def _find_strokes(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, Box]:
    """``find_ink``, and the strokes' bounding box."""
    level, uneven = _border_levels(gray)
    deviation = gray - level
    half = max(-float(deviation.min()), float(deviation.max())) / 2  # ink is the side with the strong pixels
    darker = bool(np.count_nonzero(deviation < -half) >= np.count_nonzero(deviation > half))
    if uneven:
        background = _background_surface(gray, darker)
        # Light falls on paper multiplicatively: dividing by it gives the same ink everywhere.
        deviation = (gray - background) / np.maximum(background, 0.05) if darker else gray - background
    ink = np.negative(deviation, out=deviation) if darker else deviation  # in place: a canvas-sized copy saved
    np.maximum(ink, 0, out=ink)
    strongest = float(ink.max())
    if strongest < MIN_CONTRAST:
        raise NoDigit(BLANK)
    ink /= strongest
    labels, box = _stroke_labels(ink >= INK_THRESHOLD)
    if box[0].stop == 0:
        raise NoDigit("only specks of noise, no digit")
    # Keep the strokes and their anti-aliased edges, drop noise elsewhere (nothing is kept outside the grown box).
    rows, cols = _grown(box, ink.shape)
    kept = ink[rows, cols] * grow(labels[rows, cols] > 0)
    ink[:] = 0
    ink[rows, cols] = kept
    return ink, labels, box


def ink_box(mask: np.ndarray) -> Box:
    """The bounding box (rows, cols) of a mask's True pixels; empty slices (0:0) for an empty mask."""
    rows = np.flatnonzero(mask.any(1))
    if len(rows) == 0:
        return slice(0, 0), slice(0, 0)
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _grown(box: Box, shape: tuple[int, ...]) -> Box:
    """A non-empty box one pixel larger on each side, within the image (what ``grow`` can reach)."""
    rows, cols = box
    if rows.stop == 0:
        return box
    return slice(max(rows.start - 1, 0), min(rows.stop + 1, shape[0])), slice(
        max(cols.start - 1, 0), min(cols.stop + 1, shape[1])
    )


def grow(mask: np.ndarray) -> np.ndarray:
    """Dilate a mask by one pixel (3x3), with shifted ORs: several times faster than a general dilation here.

    Public because ``segment`` keeps a candidate digit's anti-aliased rim with it, as ``find_ink`` does.
    """
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    rows = out.copy()
    out[:, 1:] |= rows[:, :-1]
    out[:, :-1] |= rows[:, 1:]
    return out


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def _border_levels(gray: np.ndarray) -> tuple[float, bool]:
    """The background level and whether lighting is uneven.

    The level is the median of the border. When the whole image's median disagrees
    (a digit cropped tight to its box, or stretched to fill it, so that ink covers
    most of the border or most of the picture), nothing in the picture tells ink
    from paper, and paper is taken to be the lighter, as on forms. Uneven lighting (a photo of
    paper) shows as a wide spread of levels among the border's background pixels;
    ink touching the border (tight crops) is not counted as a change of light.
    """
    border = _border(gray)
    level = _median(border)
    overall = _median(gray[::3, ::3].ravel())  # a sample is plenty for a median, and 9x cheaper
    contrast = float(gray.max() - gray.min())
    if abs(level - overall) > 0.5 * contrast:  # ink covers most of the border, or most of the picture
        level = max(level, overall)  # the picture cannot tell: assume paper is light, as on forms
    background = np.sort(border[np.abs(border - level) < max(0.25, 0.3 * contrast)])
    n = len(background)
    uneven = min(gray.shape) >= 32 and n > 0 and float(background[9 * n // 10] - background[n // 10]) > 0.15
    return level, uneven


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D array, without its general machinery (a third of its cost on a border)."""
    n = len(values)
    middle = n // 2
    if n % 2:
        return float(np.partition(values, middle)[middle])
    low, high = np.partition(values, (middle - 1, middle))[middle - 1 : middle + 1]
    return float((low + high) / 2)


def _background_surface(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """A smooth estimate of the paper's brightness, strokes removed.

    On a 64 px copy, a grey closing (for dark ink) or opening (for light ink) wipes
    out anything narrower than the window (strokes) but keeps wide areas such as the
    paper inside a loop, which a median would darken.
    """
    small = _shrink(gray, 64 / max(gray.shape))
    morph = grey_closing if dark_ink else grey_opening
    smooth = uniform_filter(morph(small, 9), 5, mode="nearest")
    h, w = gray.shape
    return resize(smooth, (w, h))


def _stroke_labels(mask: np.ndarray) -> tuple[np.ndarray, Box]:
    """Connected strokes (8-connected) of a stroke mask, each labelled 1..n, specks set to 0; and their box.

    Only the mask's bounding box is labelled (connected components cost with the area).
    """
    rows, cols = ink_box(mask)
    labels = np.zeros(mask.shape, dtype=np.int32)
    labels[rows, cols] = inside = _labels_without_specks(mask[rows, cols])
    kept_rows, kept_cols = ink_box(inside > 0)
    if kept_rows.stop == 0:
        return labels, (kept_rows, kept_cols)
    return labels, (_shifted(kept_rows, rows.start), _shifted(kept_cols, cols.start))


def _shifted(part: slice, by: int) -> slice:
    return slice(part.start + by, part.stop + by)


def _labels_without_specks(mask: np.ndarray) -> np.ndarray:
    labels, count = label(mask)
    if count <= 1:  # one stroke (the common case): only its size matters
        return labels if np.count_nonzero(mask) >= 4 else np.zeros_like(labels)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    min_size = max(4, 0.01 * sizes.max())  # specks are a few pixels at the analysis scale
    small = sizes < min_size
    if small.any():
        labels[small[labels]] = 0
    return labels


DOT_EXTENT = 2.4  # a piece no longer than this many pen widths is a dot (a disc measures 2)
DASH_HEIGHT = 1.8  # ink no taller than this many pen widths is a dash (no digit is that flat)


def stray_mark(labels: np.ndarray, box: Box | None = None) -> str | None:
    """Why the strokes are a stray mark rather than a digit, or None when they may be a digit.

    A rule on shape in units of the pen's own width, so it holds at any size and
    resolution: a tap or dots (every piece about as long as the pen is wide) and a
    dash (ink hardly taller than one pen width). Scribbles and the rest are left to
    the model's "not a digit" class. ``box``, the strokes' bounding box, saves finding it again.
    """
    rows, cols = box or ink_box(labels > 0)
    labels = labels[rows, cols]
    mask = labels > 0
    pen = stroke_width(mask)
    if pen <= 0:
        return BLANK
    pieces = [(rows, cols)] if labels.max() == 1 else bounding_boxes(labels)
    longest = max(max(r.stop - r.start, c.stop - c.start) for r, c in (p for p in pieces if p is not None))
    if longest < DOT_EXTENT * pen:
        return "a tap or dots, not a digit: draw a digit"
    if rows.stop - rows.start < DASH_HEIGHT * pen:
        return "a dash, not a digit: draw a digit"
    return None


# --------------------------------------------------------------------------- 4. normalize


def normalize(ink: np.ndarray, box: Box | None = None) -> np.ndarray:
    """Crop to the ink, match MNIST's pen, fit the longer side to 20 px, centre by mass in 28x28.

    ``box`` is the bounding box of the ink's strokes (pixels >= INK_THRESHOLD) when the caller knows it.
    """
    rows, cols = box or ink_box(ink >= INK_THRESHOLD)
    if rows.stop == 0:
        raise NoDigit(BLANK)
    crop = ink[rows, cols]
    crop = crop / max(float(crop.max()), 1e-6)
    corrected = (
        None if _pen_plainly_mnist(crop) else _corrected_pen(_fit(crop, WORK_SIDE), MNIST_STROKE * WORK_SIDE / BOX)
    )
    # Resample once when the pen is already MNIST-like: a detour through 64 px would only blur.
    digit = np.minimum(np.maximum(_fit(corrected if corrected is not None else crop, BOX), 0), 1)
    return _centre_by_mass(digit)


def _pen_plainly_mnist(crop: np.ndarray) -> bool:
    """A quick look at the crop as it is: is its pen well inside MNIST's range?

    Most drawings pass, and skip the careful measurement (and correction) at 64 px.
    """
    width = stroke_width(crop >= 0.5) * BOX / max(crop.shape)
    return 0.7 * MNIST_STROKE <= width <= 1.4 * MNIST_STROKE


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is ``side`` px, keeping the aspect ratio (anti-aliased)."""
    h, w = image.shape
    factor = side / max(h, w)
    return resize(image, (max(1, round(w * factor)), max(1, round(h * factor))))


def stroke_width(mask: np.ndarray) -> float:
    """Mean pen width of a binary drawing: twice its area over its boundary length."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    # Interior pixels: their four neighbours are ink too (outside the array is not ink, so none on its edge).
    inner = mask[1:-1, 1:-1] & mask[:-2, 1:-1]
    inner &= mask[2:, 1:-1]
    inner &= mask[1:-1, :-2]
    inner &= mask[1:-1, 2:]
    return 2 * area / max(1, area - int(np.count_nonzero(inner)))


def _corrected_pen(work: np.ndarray, target: float) -> np.ndarray | None:
    """The drawing thickened (thin pen) or thinned (bold pen) to MNIST's stroke width; None if it is fine.

    ``work`` is the crop at WORK_SIDE px; ``target`` the MNIST pen width at that size.
    """
    work = np.clip(work / max(float(work.max()), 1e-6), 0, 1)
    width = stroke_width(uniform_filter(work, 3) >= 0.5)  # smoothed: ragged edges are not a thin pen
    if width < 0.5 * target:  # thinner than any MNIST pen
        radius = max(1, round((target - width) / 2))
        full_strength = np.clip(work * 2, 0, 1)  # a hairline is faint once scaled down: restore its ink
        return grey_dilation(full_strength, _disk(radius))
    if width > 1.6 * target:  # bolder than nearly all of MNIST: thin it to MNIST's bold end, not to its median
        radius = max(1, round((width - 1.3 * target) / 2))
        thinner = grey_erosion(work, _disk(radius))
        if np.count_nonzero(thinner >= 0.5) >= 0.25 * np.count_nonzero(work >= 0.5):
            return thinner
    return None


_DISKS: dict[int, np.ndarray] = {}


def _disk(radius: int) -> np.ndarray:
    if radius not in _DISKS:
        y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        _DISKS[radius] = x * x + y * y <= radius * radius + radius * 0.5
    return _DISKS[radius]


def _centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Paste the (<=20x20) digit into 28x28 so its centre of mass sits at (14, 14), as MNIST did."""
    h, w = box.shape
    total = float(box.sum())
    cy = float(box.sum(1) @ np.arange(h, dtype=np.float32)) / total if total else h / 2
    cx = float(box.sum(0) @ np.arange(w, dtype=np.float32)) / total if total else w / 2
    top = min(max(round(FIELD / 2 - cy), 0), FIELD - h)
    left = min(max(round(FIELD / 2 - cx), 0), FIELD - w)
    out = np.zeros((FIELD, FIELD), dtype=np.float32)
    out[top : top + h, left : left + w] = box
    return out

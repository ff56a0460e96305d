"""The few image operations preprocessing needs, without scipy: connected strokes, filters, resampling.

``scipy.ndimage`` did this until issue 21, but importing it costs about 0.3 s (it pulls
in scipy's array-API layer and, through it, numpy.testing and numpy.f2py) where the
whole recognition path needs 0.2 s: more than the rest of `digits predict one.png`
together. Connected components come from ``cc3d`` (connected-components-3d, a small
compiled library, about four times faster than ``ndimage.label`` on a canvas); the
filters are a few numpy lines on arrays of at most ANALYSIS_PIXELS. Each function gives
what the ``scipy.ndimage`` call named in its docstring gives (tests/test_morphology.py
checks them against scipy).

``resize`` is Pillow's antialiased bilinear resize done as two small matrix products:
a round trip through a Pillow image costs about 40 us of conversions, several times the
arithmetic, and preprocessing resizes every digit once or twice (issue 21).
"""

from __future__ import annotations

import functools
from typing import Literal

import cc3d
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

Box = tuple[slice, slice]


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a 2-D mask, numbered 1..n in raster order; ``ndimage.label`` with a 3x3 structure."""
    if mask.size == 0:
        return np.zeros(mask.shape, dtype=np.int32), 0
    ink = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)  # uint8: cc3d 4.1 mislabels one-row bool masks
    # (binary_image=True would be twice as fast, but leaves gaps in the numbering of some masks)
    labels, count = cc3d.connected_components(ink, connectivity=8, return_N=True)
    labels = labels.astype(np.int32, copy=False)
    return (_in_raster_order(labels, count) if count > 1 else labels), int(count)


def _in_raster_order(labels: np.ndarray, count: int) -> np.ndarray:
    """Renumbered so that label k is the k-th stroke met reading rows top to bottom, as scipy numbers them."""
    ink = labels.ravel()
    ink = ink[ink > 0]
    _, first = np.unique(ink, return_index=True)  # where each label first appears, by label
    renumber = np.zeros(count + 1, dtype=np.int32)
    renumber[np.argsort(first) + 1] = np.arange(1, count + 1, dtype=np.int32)
    return renumber[labels]


def bounding_boxes(labels: np.ndarray) -> list[Box | None]:
    """Each label's box as (rows, cols) slices, for labels 1..max, None for a label absent; ``ndimage.find_objects``."""
    count = int(labels.max()) if labels.size else 0
    if count <= FEW_LABELS:  # the usual drawing: one look at the array per stroke
        return [_box(labels == k) for k in range(1, count + 1)]
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs]
    order = np.argsort(ids, kind="stable")
    ids, ys, xs = ids[order], ys[order], xs[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    y0, y1 = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    x0, x1 = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts)
    boxes: list[Box | None] = [None] * count
    for k, i in enumerate(ids[starts]):
        boxes[int(i) - 1] = (slice(int(y0[k]), int(y1[k]) + 1), slice(int(x0[k]), int(x1[k]) + 1))
    return boxes


FEW_LABELS = 4  # up to this many labels, a pass per label beats sorting the ink pixels


def _box(mask: np.ndarray) -> Box | None:
    rows = np.flatnonzero(mask.any(1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def pad(image: np.ndarray, width: int | tuple[int, int], mode: Literal["edge", "symmetric"]) -> np.ndarray:
    """``np.pad`` of a 2-D image ("edge" or "symmetric"), a few times cheaper for the narrow pads filters need."""
    rows, cols = (width, width) if isinstance(width, int) else width
    h, w = image.shape
    if rows > h or cols > w:  # a pad wider than the image repeats the mirror: np.pad knows how
        return np.pad(image, ((rows, rows), (cols, cols)), mode=mode)
    out = np.empty((h + 2 * rows, w + 2 * cols), dtype=image.dtype)
    out[rows : rows + h, cols : cols + w] = image
    for k in range(1, rows + 1):  # rows first, then columns over the full height: the corners come out right
        top, bottom = (0, h - 1) if mode == "edge" else (k - 1, h - k)
        out[rows - k, cols : cols + w] = image[top]
        out[rows + h - 1 + k, cols : cols + w] = image[bottom]
    for k in range(1, cols + 1):
        left, right = (cols, cols + w - 1) if mode == "edge" else (cols + k - 1, cols + w - k)
        out[:, cols - k] = out[:, left]
        out[:, cols + w - 1 + k] = out[:, right]
    return out


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """The runs of True in a 1-D array as (start, stop); the pieces ``ndimage.label`` finds in 1-D."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def minimum_filter1d(profile: np.ndarray, size: int) -> np.ndarray:
    """The minimum over a centred window of odd ``size``, edges repeated; ``ndimage.minimum_filter1d`` "nearest"."""
    half = size // 2
    return sliding_window_view(np.pad(profile, half, mode="edge"), size).min(axis=-1)


def _square(image: np.ndarray, size: int, reduce: np.ufunc) -> np.ndarray:
    half = size // 2
    padded = pad(image, half, "edge")
    rows = reduce.reduce(sliding_window_view(padded, size, axis=1), axis=-1)
    return reduce.reduce(sliding_window_view(rows, size, axis=0), axis=-1)


def grey_closing(image: np.ndarray, size: int) -> np.ndarray:
    """Dilation then erosion by a size x size square, edges repeated; ``ndimage.grey_closing(mode="nearest")``."""
    return _square(_square(image, size, np.maximum), size, np.minimum)


def grey_opening(image: np.ndarray, size: int) -> np.ndarray:
    """Erosion then dilation by a size x size square, edges repeated; ``ndimage.grey_opening(mode="nearest")``."""
    return _square(_square(image, size, np.minimum), size, np.maximum)


def uniform_filter(image: np.ndarray, size: int, mode: str = "reflect") -> np.ndarray:
    """The mean over a centred odd size x size window; ``ndimage.uniform_filter`` ("reflect": edge pixel mirrored)."""
    half = size // 2
    padded = pad(image.astype(np.float64), half, "symmetric" if mode == "reflect" else "edge")
    h, w = image.shape
    rows = padded[:, :w].copy()
    for k in range(1, size):
        rows += padded[:, k : k + w]
    total = rows[:h].copy()
    for k in range(1, size):
        total += rows[k : k + h]
    return (total / (size * size)).astype(image.dtype, copy=False)


def _footprint(image: np.ndarray, footprint: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    r, c = footprint.shape[0] // 2, footprint.shape[1] // 2
    padded = pad(image, (r, c), "symmetric")
    h, w = image.shape
    out = None
    for dy, dx in zip(*np.nonzero(footprint), strict=True):
        shifted = padded[dy : dy + h, dx : dx + w]
        out = shifted.copy() if out is None else reduce(out, shifted, out=out)
    assert out is not None, "an empty footprint"
    return out


def grey_dilation(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """The maximum over a symmetric footprint, edges mirrored; ``ndimage.grey_dilation(footprint=...)``."""
    return _footprint(image, footprint, np.maximum)


def grey_erosion(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """The minimum over a symmetric footprint, edges mirrored; ``ndimage.grey_erosion(footprint=...)``."""
    return _footprint(image, footprint, np.minimum)


DENSE_RESIZE_MAX = 400_000  # multiply-adds; above it (a large image to a large size) Pillow's banded filter wins


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float image resized to ``size`` (width, height): ``Image.fromarray(image).resize(size, BILINEAR)``.

    Pillow resamples width then height, each pass a weighted sum in double precision
    rounded to float32; the same here, with the weights of ``_bilinear_weights``. The
    dense products cost rows x cols x width: large images to large sizes go to Pillow.
    """
    out = np.asarray(image, dtype=np.float32)
    width, height = size
    rows, cols = out.shape
    if rows * width * (cols + height) > DENSE_RESIZE_MAX:  # a dense product would cost more than Pillow's filter
        return np.asarray(Image.fromarray(np.ascontiguousarray(out)).resize(size, Image.Resampling.BILINEAR))
    if width != out.shape[1]:
        out = (out.astype(np.float64) @ _bilinear_weights(out.shape[1], width).T).astype(np.float32)
    if height != out.shape[0]:
        out = (_bilinear_weights(out.shape[0], height) @ out.astype(np.float64)).astype(np.float32)
    return out


@functools.lru_cache(maxsize=4096)
def _bilinear_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights of Pillow's antialiased bilinear filter (``precompute_coeffs`` in Resample.c).

    Output pixel i is centred at (i + 0.5) * scale in the input; the triangle filter is
    widened by the reduction (antialiasing), clipped to the image and normalized.
    """
    scale = size_in / size_out
    support = max(scale, 1.0)
    centre = (np.arange(size_out, dtype=np.float64) + 0.5) * scale
    offset = (np.arange(size_in, dtype=np.float64)[None, :] - centre[:, None]) + 0.5
    weights = np.maximum(1.0 - np.abs(offset * (1.0 / support)), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    weights.flags.writeable = False  # cached and shared
    return weights

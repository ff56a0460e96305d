"""The image operations preprocessing uses instead of scipy.ndimage and Pillow give what those give."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from scipy import ndimage

from digit_recognizer import morphology

masks = arrays(bool, st.tuples(st.integers(1, 40), st.integers(1, 40)))
images = arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(1, 30)), elements=st.floats(0, 1, width=32))


@settings(max_examples=200, deadline=None)
@given(masks)
def test_label_numbers_8_connected_strokes_as_scipy_does(mask: np.ndarray) -> None:
    labels, count = morphology.label(mask)
    expected, expected_count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    assert count == expected_count and np.array_equal(labels, expected)


@settings(max_examples=200, deadline=None)
@given(masks, st.integers(0, 6))
def test_bounding_boxes_are_find_objects_even_with_labels_missing(mask: np.ndarray, drop: int) -> None:
    labels, _ = morphology.label(mask)
    labels[labels == drop] = 0  # specks removed leave gaps in the numbering
    assert morphology.bounding_boxes(labels) == ndimage.find_objects(labels)


@settings(max_examples=200, deadline=None)
@given(arrays(bool, st.integers(1, 60)))
def test_runs_are_the_pieces_of_a_1d_mask(flags: np.ndarray) -> None:
    labels, count = ndimage.label(flags)
    expected = [
        (int(np.flatnonzero(labels == r)[0]), int(np.flatnonzero(labels == r)[-1]) + 1) for r in range(1, count + 1)
    ]
    assert morphology.runs(flags) == expected


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(1, 60), elements=st.floats(-100, 100)), st.sampled_from([1, 3, 5, 9]))
def test_minimum_filter1d_repeats_the_edges(profile: np.ndarray, size: int) -> None:
    expected = ndimage.minimum_filter1d(profile, size, mode="nearest")
    assert np.array_equal(morphology.minimum_filter1d(profile, size), expected)


@settings(max_examples=100, deadline=None)
@given(images, st.sampled_from([3, 5, 9]))
def test_closing_and_opening_by_a_square(image: np.ndarray, size: int) -> None:
    assert np.array_equal(morphology.grey_closing(image, size), ndimage.grey_closing(image, size=size, mode="nearest"))
    assert np.array_equal(morphology.grey_opening(image, size), ndimage.grey_opening(image, size=size, mode="nearest"))


@settings(max_examples=100, deadline=None)
@given(images, st.sampled_from([3, 5]), st.sampled_from(["reflect", "nearest"]))
def test_uniform_filter_is_the_window_mean(image: np.ndarray, size: int, mode: str) -> None:
    got = morphology.uniform_filter(image, size, mode=mode)
    assert got.dtype == image.dtype
    np.testing.assert_allclose(got, ndimage.uniform_filter(image, size, mode=mode), atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(images, st.integers(1, 4))
def test_dilation_and_erosion_by_a_disk(image: np.ndarray, radius: int) -> None:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = x * x + y * y <= radius * radius + radius * 0.5
    assert np.array_equal(morphology.grey_dilation(image, disk), ndimage.grey_dilation(image, footprint=disk))
    assert np.array_equal(morphology.grey_erosion(image, disk), ndimage.grey_erosion(image, footprint=disk))


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 160), st.integers(1, 160)), elements=st.floats(0, 1, width=32)),
    st.tuples(st.integers(1, 90), st.integers(1, 90)),
)
def test_resize_is_pillows_antialiased_bilinear_resize(image: np.ndarray, size: tuple[int, int]) -> None:
    """Shrinking (antialiased), enlarging and keeping a side: Pillow's result within float32 rounding."""
    expected = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    got = morphology.resize(image, size)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=3e-7)


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.floats(0, 1, width=32)),
    st.tuples(st.integers(0, 6), st.integers(0, 6)),
    st.sampled_from(["edge", "symmetric"]),
)
def test_pad_is_numpys_pad(image: np.ndarray, width: tuple[int, int], mode: str) -> None:
    """Including pads wider than the image, which mirror more than once."""
    rows, cols = width
    assert np.array_equal(morphology.pad(image, width, mode), np.pad(image, ((rows, rows), (cols, cols)), mode=mode))


@pytest.mark.parametrize("verb", ["predict", "draw", "serve"])
def test_recognition_never_imports_scipy(verb: str) -> None:
    """scipy.ndimage costs 0.3 s of start-up: the recognition path has what it needs without it."""
    module = {"predict": "predict", "draw": "desktop.window", "serve": "web.server"}[verb]
    code = (
        "import sys, digit_recognizer.cli, digit_recognizer.segment, digit_recognizer.ctc, "
        f"digit_recognizer.{module}; print('scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

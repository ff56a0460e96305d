"""Preprocessing: whatever people draw or scan comes out looking like MNIST."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw

from digit_recognizer.preprocess import ImageError, NoDigit, load_gray, preprocess
from drawing import draw


def ink_box(x: np.ndarray, level: float = 0.3) -> tuple[int, int]:
    rows, cols = np.nonzero(x > level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    total = x.sum()
    return float((x.sum(1) * np.arange(28)).sum() / total), float((x.sum(0) * np.arange(28)).sum() / total)


def stroke_width(x: np.ndarray) -> float:
    mask = x > 0.5
    pad = np.pad(mask, 1)
    interior = pad[1:-1, 1:-1] & pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    return 2 * mask.sum() / (mask & ~interior).sum()


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Best correlation over shifts of up to 1 px: MNIST centres by whole pixels, so a
    centre of mass at x.5 may land either way, and that is still the same picture."""
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(float(np.corrcoef(np.roll(a, s, (0, 1)).ravel(), b.ravel())[0, 1]) for s in shifts)


# --------------------------------------------------------------------------- MNIST's procedure


def test_output_is_28x28_floats_in_unit_range() -> None:
    x = preprocess(draw("7"))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1, abs=0.05)


def test_longer_side_is_scaled_to_20_pixels() -> None:
    tall, wide = preprocess(draw("1")), preprocess(draw("0", size=(400, 200), box=(20, 60, 380, 140)))
    assert ink_box(tall)[0] in (19, 20, 21)
    assert ink_box(wide)[1] in (19, 20, 21)


def test_centre_of_mass_lands_in_the_middle() -> None:
    cy, cx = centre_of_mass(preprocess(draw("7", box=(10, 10, 90, 120))))
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6


def test_small_digit_in_a_corner_looks_like_a_big_centred_one() -> None:
    big = preprocess(draw("3", size=(300, 300)))
    small = preprocess(draw("3", size=(300, 300), box=(240, 5, 290, 70), pen=4))
    assert similarity(big, small) > 0.85


def test_light_on_dark_and_dark_on_light_give_the_same_image() -> None:
    dark = preprocess(draw("5", dark_on_light=True))
    light = preprocess(draw("5", dark_on_light=False))
    np.testing.assert_allclose(dark, light, atol=0.02)


def test_hairline_on_a_large_canvas_keeps_its_polarity_and_gets_an_mnist_pen() -> None:
    dark, light = (
        preprocess(draw("7", size=(1600, 1600), box=(300, 200, 1300, 1400), pen=2, dark_on_light=polarity))
        for polarity in (True, False)
    )
    assert similarity(dark, light) > 0.95
    assert 1.9 <= stroke_width(dark) <= 4.0


@pytest.mark.parametrize("pen", [2, 4, 45])
def test_thin_and_bold_pens_come_out_with_mnist_strokes(pen: int) -> None:
    width = stroke_width(preprocess(draw("2", pen=pen)))
    assert 1.9 <= width <= 4.0  # MNIST: 2.1 to 4.1 for 90% of digits, median 2.6


def test_mnist_digit_passes_through_almost_unchanged(mnist_test) -> None:  # type: ignore[no-untyped-def]
    for i in range(20):
        original = mnist_test.images[i].astype(np.float32) / 255
        assert similarity(preprocess(mnist_test.images[i]), original) > 0.85


def test_transparent_background_counts_as_background() -> None:
    on_white = preprocess(draw("4"))
    rgba = np.zeros((300, 300, 4), dtype=np.uint8)  # transparent pixels are (0, 0, 0, 0), as in canvases
    rgba[..., 3] = 255 - np.asarray(draw("4"))  # black strokes, opaque
    np.testing.assert_allclose(preprocess(Image.fromarray(rgba, "RGBA")), on_white, atol=0.05)
    np.testing.assert_allclose(preprocess(rgba), on_white, atol=0.05)


def test_uneven_lighting_and_noise_are_removed() -> None:
    clean = preprocess(draw("8"))
    page = np.asarray(draw("8"), dtype=np.float32) / 255
    xx = np.mgrid[0:300, 0:300][1] / 300
    lit = page * (0.55 + 0.4 * xx) + np.random.default_rng(0).normal(0, 0.03, page.shape)
    specks = np.random.default_rng(1).random(page.shape) < 0.002
    lit[specks] = 0
    photo = Image.fromarray((lit.clip(0, 1) * 255).astype(np.uint8))
    assert similarity(preprocess(photo), clean) > 0.9


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = draw("7", size=(200, 300))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how a camera stores a portrait photo
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    stored.save(tmp_path / "photo.jpg", exif=exif, quality=95)
    assert similarity(preprocess(tmp_path / "photo.jpg"), preprocess(upright)) > 0.95


def test_an_orientation_given_in_xmp_is_applied_too(tmp_path: Path) -> None:
    """Pillow reads XMP's tiff:Orientation into the EXIF it gives: the quick upright check sees it."""
    from PIL import PngImagePlugin

    upright = draw("7", size=(200, 300))
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp",
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>',
    )
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "scan.png", pnginfo=info)
    assert similarity(preprocess(tmp_path / "scan.png"), preprocess(upright)) > 0.95


# --------------------------------------------------------------------------- no digit


@pytest.mark.parametrize("colour", [0, 128, 255])
def test_blank_canvas_is_no_digit(colour: int) -> None:
    with pytest.raises(NoDigit, match="blank"):
        preprocess(Image.new("L", (300, 300), colour))


def test_faint_noise_alone_is_no_digit() -> None:
    noise = np.random.default_rng(0).normal(0.9, 0.01, (200, 200)).clip(0, 1)
    with pytest.raises(NoDigit):
        preprocess(noise)


def test_a_single_speck_is_no_digit() -> None:
    canvas = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(canvas).point([(150, 150)], fill=0)
    with pytest.raises(NoDigit):
        preprocess(canvas)


# --------------------------------------------------------------------------- file formats and bad input


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "make",
    [
        lambda im: _encode(im.convert("I;16"), "PNG"),  # 16-bit
        lambda im: _encode(im.convert("P"), "PNG"),  # palette
        lambda im: _encode(im.convert("CMYK"), "JPEG"),
        lambda im: _encode(im.convert("1"), "BMP"),
        lambda im: _encode(im.convert("LA"), "PNG"),
        lambda im: _encode(im.convert("RGB"), "WEBP"),
    ],
    ids=["16-bit", "palette", "cmyk-jpeg", "1-bit", "gray-alpha", "webp"],
)
def test_common_formats_and_modes_are_read(make) -> None:  # type: ignore[no-untyped-def]
    reference = preprocess(draw("3"))
    assert similarity(preprocess(make(draw("3"))), reference) > 0.9


def test_16_bit_image_with_full_range_is_read() -> None:
    wide = (np.asarray(draw("3"), dtype=np.uint16) * 257).astype(np.uint16)
    assert similarity(preprocess(Image.fromarray(wide)), preprocess(draw("3"))) > 0.95


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [draw("1").convert("P"), draw("8").convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert similarity(preprocess(buffer.getvalue()), preprocess(draw("1"))) > 0.95


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an image"),
        (b"hello, I am a text file", "not an image"),
        (_encode(draw("5"), "PNG")[:400], "damaged or truncated"),
        (_encode(draw("5"), "JPEG")[:300], "damaged or truncated"),
    ],
    ids=["empty", "text", "truncated-png", "truncated-jpeg"],
)
def test_unreadable_bytes_give_a_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        preprocess(content)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims enormous dimensions: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_quickly() -> None:
    with pytest.raises(ImageError, match="too large"):
        preprocess(_png_claiming(100_000, 100_000))
    with pytest.raises(ImageError, match="too large|crop or shrink"):
        preprocess(_png_claiming(10_000, 8_000))


def test_missing_file_and_folder_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found"):
        preprocess(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a directory"):
        preprocess(tmp_path)


@pytest.mark.parametrize(
    "array",
    [np.zeros((0, 5)), np.zeros((4, 4, 7)), np.array([[np.nan, 1.0]]), np.array([["a"]])],
    ids=["empty", "7-channels", "nan", "strings"],
)
def test_arrays_that_are_not_images_are_refused(array: np.ndarray) -> None:
    with pytest.raises(ImageError):
        preprocess(array)


def test_one_pixel_image_is_no_digit() -> None:
    with pytest.raises(NoDigit):
        preprocess(Image.new("L", (1, 1), 0))


def test_load_gray_composites_transparency_on_a_contrasting_background() -> None:
    white_ink = np.zeros((50, 50, 4), dtype=np.uint8)
    white_ink[20:30, 20:30] = 255  # opaque white square on transparent black
    gray = load_gray(white_ink)
    assert gray[25, 25] == pytest.approx(1.0) and gray[0, 0] == pytest.approx(0.0)


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.uint8, st.tuples(st.integers(1, 80), st.integers(1, 80))))
def test_any_grayscale_array_gives_a_valid_image_or_no_digit(array: np.ndarray) -> None:
    try:
        x = preprocess(array)
    except NoDigit:
        return
    assert x.shape == (28, 28) and np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert max(ink_box(x, 0.01)) <= 22


@settings(max_examples=40, deadline=None)
@given(
    digit=st.integers(0, 9),
    left=st.integers(0, 200),
    top=st.integers(0, 200),
    size=st.integers(30, 250),
    pen=st.integers(2, 30),
    dark=st.booleans(),
)
def test_any_drawn_digit_is_scaled_and_centred_like_mnist(
    digit: int, left: int, top: int, size: int, pen: int, dark: bool
) -> None:
    box = (left, top, min(left + size, 299), min(top + size, 299))
    x = preprocess(draw(str(digit), box=box, pen=min(pen, max(2, size // 8)), dark_on_light=dark))
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0
    assert max(ink_box(x)) in (19, 20, 21)

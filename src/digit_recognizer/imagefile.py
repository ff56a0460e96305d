"""Which image files are read, and how: the one door every image file comes in by.

Pillow opens some forty formats, and a few of them are not pixels at all: an EPS or
PS file is a program that Pillow hands to Ghostscript (an 89-byte ``{ } loop`` spins
forever), others are rarely used decoders with rarely tested error paths (BLP, AVIF,
ICO whose header check decodes the embedded PNG). A digit arrives as a plain raster
image, so only ``ALLOWED_FORMATS`` are opened (Pillow's own ``formats=`` filter);
every other file is refused by its first bytes, naming what it is.

Decoding time and memory are bounded by the pixel count, which the header gives
before any pixel is decoded, and every failure of a decoder, whatever Python
exception it raises (TypeError, RuntimeError, struct.error, SyntaxError, OSError,
DecompressionBombError, ...), becomes one ``ImageError`` saying what is wrong. The
library, `digits predict` / `evaluate`, the apps and the server all read images here.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from typing import Any

from PIL import Image

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")  # JPEG includes MPO (phone photos)
FORMAT_NAMES = "PNG, JPEG, GIF, BMP, TIFF, WebP or PPM/PGM/PBM"
MAX_PIXELS = 50_000_000  # refuse bigger images: a decompression bomb, not a digit
MAX_FILE_BYTES = 200_000_000  # a 50-megapixel image stored uncompressed is 150 MB
RUNS_A_PROGRAM = {"EPS": "PostScript, which would run Ghostscript", "PDF": "a document"}


class ImageError(ValueError):
    """The input is not an image we can read; the message names the problem."""


class TooManyPixels(ImageError):
    """The header declares more pixels than allowed (``width`` 0: more than Pillow itself accepts)."""

    def __init__(self, width: int, height: int, limit: int) -> None:
        size = f"{width}x{height} pixels" if width else "hundreds of megapixels"
        super().__init__(f"the image is {size}, too large to be a digit (limit {limit:,}); crop or shrink it")
        self.width, self.height, self.limit = width, height, limit


def open_header(source: str | os.PathLike[str] | bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The image, opened but not decoded: its size and mode are known, no pixel is read yet.

    Raises ImageError for a file that is not an allowed format, a damaged header, or
    (TooManyPixels) more than ``max_pixels`` pixels. Costs microseconds for a bomb.
    """
    data = source if isinstance(source, bytes) else read_file(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own bomb warning: our cap below is the stricter one
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError:
        raise TooManyPixels(0, 0, max_pixels) from None
    except Image.UnidentifiedImageError:
        raise ImageError(not_allowed(data[:32])) from None
    except Exception as exc:  # every decoder raises its own kinds of exception
        raise ImageError(f"the image data is damaged or truncated ({describe(exc)})") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise TooManyPixels(width, height, max_pixels)
    if width < 1 or height < 1:
        image.close()
        raise ImageError("the image has no pixels")
    return image


def open_image(source: str | os.PathLike[str] | bytes | Image.Image, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The decoded first frame, EXIF orientation applied; ImageError for anything that cannot be read."""
    if isinstance(source, Image.Image):
        return _first_frame(source, max_pixels)
    image = open_header(source, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "corrupt EXIF", "truncated"...: the pixels decide
            image.load()
    except MemoryError:
        raise ImageError("the image is too large to decode in this much memory; shrink it") from None
    except Exception as exc:
        raise ImageError(f"the image data is damaged or truncated ({describe(exc)})") from None
    return _upright(image)


def _first_frame(image: Image.Image, max_pixels: int) -> Image.Image:
    """A caller's own PIL image: checked for size, at its first frame, upright."""
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixels(width, height, max_pixels)
    if width < 1 or height < 1:
        raise ImageError("the image has no pixels")
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    return _upright(image)


ORIENTATION = 0x0112  # the EXIF tag (Pillow's getexif also reads it from XMP)


def _upright(image: Image.Image) -> Image.Image:
    """EXIF orientation applied; an image whose EXIF cannot be read is taken as it is.

    Most images (every canvas) are upright already: ``ImageOps`` is imported only for
    the others, a millisecond and a half of start-up saved.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if image.getexif().get(ORIENTATION, 1) == 1:
                return image
            from PIL import ImageOps

            return ImageOps.exif_transpose(image) or image
    except Exception:
        return image


def not_allowed(prefix: bytes) -> str:
    """Why a file that is no allowed format is refused: what it seems to be, and what is read instead."""
    kind = sniff(prefix)
    if kind is None:
        return f"not an image file this program reads ({FORMAT_NAMES})"
    if kind in ALLOWED_FORMATS:
        return f"the {kind} file is damaged: its header cannot be read"
    why = RUNS_A_PROGRAM.get(kind, "a format this program does not read")
    return f"a file in the {kind} format ({why}); save the image as {FORMAT_NAMES} and try again"


def sniff(prefix: bytes) -> str | None:
    """The Pillow format whose signature ``prefix`` matches, without opening it (no plugin code runs)."""
    Image.init()
    for name in Image.ID:
        _, accept = Image.OPEN[name]
        try:
            if accept and accept(prefix) is True:
                return name
        except Exception:
            continue
    return None


def describe(exc: BaseException) -> str:
    """An exception as one short line: its type where the text alone says little."""
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


READ_CHUNK = 1 << 20


def read_capped(stream: Any, limit: int = MAX_FILE_BYTES) -> bytes:
    """A stream's bytes up to ``limit`` + 1 (one more says "too large"), read a chunk at a time.

    ``stream.read(limit + 1)`` at once would allocate the whole limit (200 MB) first for
    every small image that comes from a socket or an object store.
    """
    parts: list[bytes] = []
    total = 0
    while total <= limit:
        part = stream.read(min(READ_CHUNK, limit + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes (read at once: no file stays open while it decodes); ImageError saying why not.

    One ``stat`` answers everything asked before opening: a FIFO, socket or device would
    block or never end, so only regular files are opened, and the size bounds the read
    (a read sized to the file, not to the limit, which would allocate the limit first).
    """
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{path!s} is a directory, not an image")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{path!s} is not a regular file (a FIFO, device or socket?); pass an image file")
        if (size := info.st_size) > MAX_FILE_BYTES:
            raise ImageError(f"{path!s} is {size / 1e6:.0f} MB, too large to be a picture of a digit; shrink it")
        with open(path, "rb") as file:
            data = file.read(size + 1)
            if len(data) > size:  # it grew since: read on, up to the limit
                data += file.read(MAX_FILE_BYTES + 1 - len(data))
    except FileNotFoundError:
        raise ImageError(f"file not found: {path!s}") from None
    except IsADirectoryError:
        raise ImageError(f"{path!s} is a directory, not an image") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ImageError(f"cannot read {path!s} ({getattr(exc, 'strerror', None) or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{path!s} grew past {MAX_FILE_BYTES / 1e6:.0f} MB while being read; shrink it")
    return data

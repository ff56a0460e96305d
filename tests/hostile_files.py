"""Hostile image files and bodies, made on the spot (no binary blobs in the repository).

Shared by the tests and benchmarks/bench_reliability.py. Each returns bytes that an
earlier version mishandled: a program Pillow would hand to Ghostscript, files that
make a decoder raise an exception nobody caught, an icon whose header check
decoded a 144-megapixel PNG, JSON nested past Python's recursion limit.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator

from PIL import Image, ImageDraw

EPS_HEADER = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n"


def looping_eps() -> bytes:
    """89 bytes or so of PostScript that spins forever once Ghostscript runs it."""
    return EPS_HEADER + b"{ } loop\n"


def failing_eps() -> bytes:
    """PostScript with an error: Ghostscript exits non-zero (a CalledProcessError traceback, once)."""
    return EPS_HEADER + b"this_operator_does_not_exist\n"


def tiff_without_width() -> bytes:
    """A TIFF of two frames whose second lacks the ImageWidth tag (counting frames raised TypeError)."""
    full = [(256, 3, 1, 8), (257, 3, 1, 8), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 400)]
    full.append((279, 4, 1, 64))
    second = 8 + 2 + 12 * len(full) + 4
    data = b"II*\0" + struct.pack("<I", 8) + _ifd(full, second) + _ifd([t for t in full if t[0] != 256], 0)
    return data + b"\0" * (400 - len(data)) + b"\x80" * 64


def _ifd(tags: list[tuple[int, int, int, int]], next_offset: int) -> bytes:
    entries = b"".join(struct.pack("<HHII", *tag) for tag in tags)
    return struct.pack("<H", len(tags)) + entries + struct.pack("<I", next_offset)


def corrupt_avif() -> bytes:
    """An AVIF signature followed by garbage (Pillow's AVIF decoder raised RuntimeError)."""
    return b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + bytes(range(256)) * 4


def corrupt_blp() -> bytes:
    """A BLP2 header with an unknown compression (Pillow raised BLPFormatError)."""
    return b"BLP2" + struct.pack("<IBBBBII", 1, 7, 8, 8, 0, 28, 28) + b"\0" * 2000


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header says ``width`` x ``height`` (its pixel data is a tiny, short stream)."""
    buffer = io.BytesIO()
    Image.new("P", (16, 16), 0).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def ico_wrapping_png(side: int = 12000) -> bytes:
    """An icon whose one entry is a PNG of ``side`` x ``side`` pixels (Pillow decodes it to read the header)."""
    png = png_declaring(side, side)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


def deeply_nested_json(depth: int = 100_000) -> str:
    """``depth`` opening brackets: Python's json parser raises RecursionError."""
    return "[" * depth


def text_named_png() -> bytes:
    return b"this is a text file, not a picture\n"


DECODER_FAILURES = {
    "a TIFF without a width": tiff_without_width,
    "a corrupt AVIF": corrupt_avif,
    "a corrupt BLP": corrupt_blp,
    "a looping EPS": looping_eps,
    "an EPS with a PostScript error": failing_eps,
    "an ICO wrapping a 12000x12000 PNG": ico_wrapping_png,
    "a text file": text_named_png,
    "an empty file": lambda: b"",
}


# --------------------------------------------------------------------------- fuzzing


def drawn_digit(mode: str = "L") -> Image.Image:
    image = Image.new("L", (48, 48), 255)
    ImageDraw.Draw(image).line([(12, 10), (36, 10), (20, 40)], fill=0, width=5)
    return image.convert(mode)


def writable_formats() -> dict[str, bytes]:
    """One small drawing saved in every format this Pillow can write, by format name."""
    Image.init()
    saved = {}
    for name in sorted(Image.SAVE):
        for mode in ("L", "RGB", "RGBA", "1"):
            buffer = io.BytesIO()
            try:
                drawn_digit(mode).save(buffer, name)
            except Exception:
                continue
            saved[name] = buffer.getvalue()
            break
    return saved


def fuzzed(originals: dict[str, bytes], cases: int, seed: int = 19) -> Iterator[tuple[str, bytes]]:
    """``cases`` damaged files: each original truncated at a random byte, or with random bytes changed."""
    rng = random.Random(seed)
    names = sorted(originals)
    for i in range(cases):
        name = names[i % len(names)]
        data = bytearray(originals[name])
        if rng.random() < 0.4:
            cut = rng.randrange(len(data))
            yield f"{name}-{i}-cut{cut}", bytes(data[:cut])
            continue
        for _ in range(rng.choice((1, 2, 4, 16))):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield f"{name}-mutated{i}", bytes(data)

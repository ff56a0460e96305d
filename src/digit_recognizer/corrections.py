"""Corrections: drawings a person labelled after the app read them wrong.

Both apps ("Wrong?" in the window and on the page) write the same layout, the one
``digits evaluate --images DIR`` and ``digits adapt`` read::

    <root>/<digit>/<timestamp>.png      the picture, as the model was given it
    <root>/<digit>/<timestamp>.ndjson   the same drawing as strokes (ink's JSON-lines format),
                                        so it can be re-rendered at other sizes and pens

A number is saved one digit per file pair. Saving is all or nothing: every file is
written under a temporary name first and renamed only when all were written, so a
failure leaves nothing behind and a retry adds no duplicates. A digit folder that is a
symbolic link is refused, never followed. ``forget`` removes a saved correction again
(a mistyped label undone from the app).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from .ink import PAPER, InkSample, Stroke
from .userdata import corrections_dir as corrections_dir  # one place decides where user data lives

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Labelled:
    """One digit to save: its label, its picture and (when known) its strokes."""

    digit: int
    image: Image.Image
    strokes: Sequence[Stroke] = ()


def save_correction(
    image: Image.Image, digit: int, root: Path, when: datetime | None = None, strokes: Sequence[Stroke] = ()
) -> Path:
    """Save ``image`` (and its strokes, when given) as an example of ``digit``; returns the PNG's path."""
    return save_all([Labelled(digit, image, strokes)], root, when)[0]


def save_all(items: Sequence[Labelled], root: Path, when: datetime | None = None, source: str = "") -> list[Path]:
    """Save every item or none (see the module's docstring); returns the PNG paths in order.

    Raises ValueError for a label that is not 0-9 (before writing anything) and OSError
    when the folder cannot be written (after removing whatever was written).
    """
    for item in items:
        if not (isinstance(item.digit, int) and 0 <= item.digit <= 9):
            raise ValueError(f"a correction is one digit 0-9, got {item.digit!r}")
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S-%f")
    written: list[Path] = []  # temporary files, then final ones
    final: list[Path] = []
    try:
        for item in items:
            folder = digit_folder(root, item.digit)
            png = _free_name(folder, stamp, taken=final)
            final.append(png)
            temp_png = png.with_name(f".{png.name}.part")
            written.append(temp_png)
            item.image.save(temp_png, "PNG")
            if item.strokes:
                temp_ink = png.with_name(f".{png.stem}.ndjson.part")
                written.append(temp_ink)
                extra = {"source": source} if source else {}
                temp_ink.write_text(InkSample(item.digit, tuple(item.strokes)).to_json(**extra) + "\n", "utf-8")
        for temp in written:
            os.replace(temp, temp.with_name(temp.name[1:].removesuffix(".part")))
    except OSError:
        for path in written + final + [p.with_suffix(".ndjson") for p in final]:
            path.unlink(missing_ok=True)
        raise
    return final


def digit_folder(root: Path, digit: int) -> Path:
    """``root/<digit>``, made when missing; OSError when it is a symbolic link, which is never followed.

    A link there would send corrections (written by a server for anyone) outside ``root``.
    """
    folder = root / str(digit)
    if folder.is_symlink():
        raise OSError(f"{folder} is a symbolic link; corrections are written only into real folders inside {root}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_name(folder: Path, stamp: str, taken: Sequence[Path]) -> Path:
    """``<stamp>.png`` in ``folder``, or ``<stamp>-N.png`` when that is taken (never overwrites)."""
    path = folder / f"{stamp}.png"
    for n in range(1, 10_000):
        if not path.exists() and path not in taken:
            return path
        path = folder / f"{stamp}-{n}.png"
    raise OSError(f"too many corrections named {stamp} in {folder}")


def forget(paths: Sequence[Path]) -> None:
    """Remove saved corrections (their PNG and strokes): a mistyped label taken back."""
    for png in paths:
        png.unlink(missing_ok=True)
        png.with_suffix(".ndjson").unlink(missing_ok=True)


def parse_number(text: str, found: int | None = None) -> list[int]:
    """The digits typed for a number; with ``found``, checked against how many digits were found."""
    answer = text.strip().replace(" ", "")
    if not answer or not answer.isdigit() or not answer.isascii():
        raise ValueError(f"Type the right number using the digits 0-9 only (got {text!r}).")
    if found is not None and len(answer) != found:
        raise ValueError(f"Type {found} digit(s), one for each digit found in the drawing (got {len(answer)}).")
    return [int(c) for c in answer]


def cut_out(image: Image.Image, box: Box) -> Image.Image:
    """The digit in ``box`` on a square of paper with a margin, like a single-digit drawing."""
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) * 1.4) + 8
    square = Image.new("L", (side, side), PAPER)
    square.paste(image.crop(box), ((side - (x1 - x0)) // 2, (side - (y1 - y0)) // 2))
    return square


def strokes_in(box: Box, strokes: Sequence[Stroke], boxes: Sequence[Box]) -> list[Stroke]:
    """The strokes that belong to ``box`` among the digit ``boxes`` of a number.

    Each stroke goes to the digit box its points overlap most horizontally (digits of a
    number sit side by side), so every stroke lands in exactly one digit.
    """

    def overlap(stroke: Stroke, b: Box) -> float:
        xs = [x for x, _ in stroke.points]
        return min(max(xs), b[2]) - max(min(xs), b[0]) - 0.001 * abs((min(xs) + max(xs)) / 2 - (b[0] + b[2]) / 2)

    return [s for s in strokes if s.points and max(boxes, key=lambda b: overlap(s, b)) == box]


def number_items(
    image: Image.Image, digits: Sequence[int], boxes: Sequence[Box], strokes: Sequence[Stroke]
) -> list[Labelled]:
    """One Labelled per digit of a number: the cut-out picture and that digit's strokes."""
    if len(digits) != len(boxes):
        raise ValueError(f"Type {len(boxes)} digit(s), one for each digit found in the drawing (got {len(digits)}).")
    return [
        Labelled(d, cut_out(image, box), strokes_in(box, strokes, boxes)) for d, box in zip(digits, boxes, strict=True)
    ]


def cannot_save(exc: OSError) -> str:
    """The message shown when a correction cannot be written, with the fix."""
    return f"Could not save the correction ({exc}); set DIGITS_CORRECTIONS_DIR to a writable folder."

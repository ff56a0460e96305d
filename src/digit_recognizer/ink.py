"""Ink: strokes as people draw them, their undo/redo history, rendering, and the JSON-lines format.

One model of a drawing shared by everything that handles pen input: the desktop app
and the web page record strokes, corrections are saved as strokes, and training
renders the UNIPEN pen trajectories (and saved corrections) through the same
``render`` the apps use, so the model sees at training time what the apps feed it.

The file format is the Quick, Draw! "simplified" style, one JSON object per line::

    {"label": "4", "writer": "apb/Bill_Cleveland", "drawing": [[[x0, x1, ...], [y0, y1, ...]], ...]}

``drawing`` holds one ``[xs, ys]`` pair per pen-down stroke in the order written,
y pointing down. ``pen`` (the brush width, in the drawing's units) is optional.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1

INK, PAPER = 0, 255  # black ink on white paper, like a pen; preprocessing detects the polarity


class InkFormatError(ValueError):
    """A strokes file is not in the expected format; the message names the file and line."""


# --------------------------------------------------------------------------- strokes


@dataclass
class Stroke:
    """One press-drag-release of the pen: its width and the points it passed."""

    width: float
    points: list[Point] = field(default_factory=list)

    def box(self) -> Box:
        xs, ys = zip(*self.points, strict=True)
        r = self.width / 2
        return min(xs) - r, min(ys) - r, max(xs) + r, max(ys) + r

    def length(self) -> float:
        return sum(math.dist(a, b) for a, b in pairwise(self.points))


def bounding_box(strokes: Iterable[Stroke]) -> Box | None:
    """The box around every stroke's ink (pen width included); None for no strokes."""
    boxes = [s.box() for s in strokes if s.points]
    if not boxes:
        return None
    x0, y0, x1, y1 = zip(*boxes, strict=True)
    return min(x0), min(y0), max(x1), max(y1)


def transformed(strokes: Sequence[Stroke], scale: float, offset: Point, width: float | None = None) -> list[Stroke]:
    """Strokes scaled about the origin, then moved by ``offset``; ``width`` replaces every pen width."""
    dx, dy = offset
    return [
        Stroke(width if width is not None else s.width * scale, [(x * scale + dx, y * scale + dy) for x, y in s.points])
        for s in strokes
    ]


# --------------------------------------------------------------------------- history


class History:
    """The strokes of a drawing with unlimited undo and redo; Clear is undoable too.

    Every change is one entry on the undo stack holding the stroke lists before and
    after it (a stroke added, the drawing cleared, or replaced by an earlier one), so
    undo and redo are the same operation in both directions. A new change empties the
    redo stack, as in every editor. The lists share their Stroke objects, so a stroke
    still being drawn can grow after it was added.
    """

    def __init__(self) -> None:
        self.strokes: list[Stroke] = []
        self._undo: list[tuple[list[Stroke], list[Stroke]]] = []
        self._redo: list[tuple[list[Stroke], list[Stroke]]] = []

    @property
    def is_empty(self) -> bool:
        return not self.strokes

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def add(self, stroke: Stroke) -> None:
        self._change([*self.strokes, stroke])

    def clear(self) -> bool:
        """Remove every stroke (undoable); False when there was nothing to clear."""
        if not self.strokes:
            return False
        self._change([])
        return True

    def replace(self, strokes: Sequence[Stroke]) -> None:
        """Show other strokes instead (an earlier drawing brought back); undoable like any change."""
        self._change(list(strokes))

    def undo(self) -> bool:
        """Take back the last change; False when there is none."""
        if not self._undo:
            return False
        before, after = self._undo.pop()
        self.strokes = list(before)
        self._redo.append((before, after))
        return True

    def redo(self) -> bool:
        """Do again the last change undone; False when there is none."""
        if not self._redo:
            return False
        before, after = self._redo.pop()
        self.strokes = list(after)
        self._undo.append((before, after))
        return True

    def every_stroke(self) -> list[Stroke]:
        """Every stroke the history holds (shown, undone or cleared), each once: to move them all."""
        seen: dict[int, Stroke] = {id(s): s for s in self.strokes}
        for before, after in self._undo + self._redo:
            seen |= {id(s): s for s in before + after}
        return list(seen.values())

    def _change(self, strokes: list[Stroke]) -> None:
        self._undo.append((self.strokes, strokes))
        self.strokes = list(strokes)
        self._redo.clear()


# --------------------------------------------------------------------------- rendering


def render(
    strokes: Iterable[Stroke],
    size: tuple[int, int],
    *,
    ink: int = INK,
    paper: int = PAPER,
    supersample: int = 2,
) -> Image.Image:
    """The strokes drawn on a ``size`` (width, height) image, mode "L", like a canvas draws them.

    Round caps and joins (a disc at every point, a line between points) and anti-aliased
    edges (drawn ``supersample`` times larger, then box-reduced), as browsers and Tk do.
    """
    k = max(1, supersample)
    image = Image.new("L", (size[0] * k, size[1] * k), paper)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        draw_stroke(pen, stroke, ink=ink, scale=k)
    return image.reduce(k) if k > 1 else image


def draw_stroke(pen: ImageDraw.ImageDraw, stroke: Stroke, *, ink: int = INK, scale: float = 1.0) -> None:
    """One stroke onto an existing image: a disc at each point joined by lines as wide as the pen."""
    width = stroke.width * scale
    points = [(x * scale, y * scale) for x, y in stroke.points]
    if not points:
        return
    dab(pen, points[0], width, ink)
    for a, b in pairwise(points):
        pen.line([a, b], fill=ink, width=max(1, round(width)))
        dab(pen, b, width, ink)


def dab(pen: ImageDraw.ImageDraw, point: Point, width: float, ink: int = INK) -> None:
    r = max(width, 1.0) / 2
    x, y = point
    pen.ellipse([x - r, y - r, x + r, y + r], fill=ink)


def render_fitted(
    strokes: Sequence[Stroke],
    canvas: tuple[int, int],
    *,
    height_share: float,
    centre: Point,
    pen: float,
    ink: int = INK,
    paper: int = PAPER,
) -> np.ndarray:
    """Strokes scaled so their ink is ``height_share`` of the canvas height, centred at ``centre``.

    ``pen`` is the brush width in canvas pixels (as a person picks a brush, whatever
    the size they draw at). Returns the canvas as a uint8 array. Used to re-draw pen
    data (UNIPEN, corrections) as people draw on a canvas, at any size and pen.
    """
    box = bounding_box([Stroke(0.0, s.points) for s in strokes])
    if box is None:
        return np.full((canvas[1], canvas[0]), paper, dtype=np.uint8)
    x0, y0, x1, y1 = box
    scale = height_share * canvas[1] / max(y1 - y0, 0.25 * (x1 - x0), 1e-6)
    cx, cy = (x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale
    placed = transformed(strokes, scale, (centre[0] - cx, centre[1] - cy), width=pen)
    return np.asarray(render(placed, canvas, ink=ink, paper=paper))


# --------------------------------------------------------------------------- the file format


@dataclass(frozen=True)
class InkSample:
    """One labelled drawing: its strokes, the digit it shows, and who wrote it."""

    label: int
    strokes: tuple[Stroke, ...]
    writer: str = ""

    def to_json(self, **extra: Any) -> str:
        drawing = [[[round(x, 2) for x, _ in s.points], [round(y, 2) for _, y in s.points]] for s in self.strokes]
        pens = {s.width for s in self.strokes}
        record: dict[str, Any] = {"label": str(self.label), "writer": self.writer, "drawing": drawing}
        if len(pens) == 1 and (pen := pens.pop()) > 0:
            record["pen"] = pen
        return json.dumps(record | extra, separators=(",", ":"))


def read_ndjson(path: str | os.PathLike[str]) -> Iterator[InkSample]:
    """Every sample of a JSON-lines strokes file (``.gz`` or plain), validated line by line.

    Raises InkFormatError naming the file and line for bad JSON, a missing or malformed
    field, or a label that is not a digit 0-9; OSError when the file cannot be read.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield parse_sample(line, f"{path}:{number}")
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as exc:
        raise InkFormatError(f"{path}: not a readable JSON-lines file ({exc}); re-download or re-create it") from None


def parse_sample(line: str, where: str = "line") -> InkSample:
    """One JSON line as an InkSample; ``where`` ("file:line") prefixes any error."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InkFormatError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:  # 100,000 "[": Python's parser gives up, nothing strokes-like is that deep
        raise InkFormatError(f"{where}: the JSON is nested too deeply to be strokes") from None
    if not isinstance(record, dict):
        raise InkFormatError(f"{where}: expected a JSON object with label and drawing")
    for key in ("label", "drawing"):
        if key not in record:
            raise InkFormatError(f"{where}: missing field {key!r}")
    label = record["label"]
    if not (isinstance(label, (str, int)) and str(label) in "0123456789" and len(str(label)) == 1):
        raise InkFormatError(f"{where}: label {label!r} is not a digit 0-9")
    pen = record.get("pen", 1.0)
    if isinstance(pen, bool) or not isinstance(pen, (int, float)) or not 0 < pen < 1e6:
        raise InkFormatError(f"{where}: pen {pen!r} is not a positive width")
    return InkSample(int(label), _strokes(record["drawing"], float(pen), where), str(record.get("writer", "")))


def _strokes(drawing: Any, pen: float, where: str) -> tuple[Stroke, ...]:
    if not isinstance(drawing, list) or not drawing:
        raise InkFormatError(f"{where}: 'drawing' must be a non-empty list of [xs, ys] strokes")
    strokes = []
    for i, pair in enumerate(drawing):
        ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, list) for v in pair)
        if not ok or len(pair[0]) != len(pair[1]) or not pair[0]:
            raise InkFormatError(f"{where}: stroke {i} must be [xs, ys], two lists of the same non-zero length")
        values = pair[0] + pair[1]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise InkFormatError(f"{where}: stroke {i} holds a coordinate that is not a finite number")
        strokes.append(Stroke(pen, [(float(x), float(y)) for x, y in zip(pair[0], pair[1], strict=True)]))
    return tuple(strokes)


def append_ndjson(path: str | os.PathLike[str], samples: Iterable[InkSample], **extra: Any) -> None:
    """Append samples to a plain JSON-lines file, one flushed write per call (never a half line on success)."""
    text = "".join(sample.to_json(**extra) + "\n" for sample in samples)
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())

"""POST /api/corrections: the page's "Wrong?", stored only when the server owner asked for it.

Privacy first: a drawing someone labels stays in their browser unless the server was
started with ``digits serve --corrections-dir DIR`` (``$DIGITS_SERVE_CORRECTIONS_DIR``
for the worker processes). Without it, ``GET /api/corrections`` says so and the page
offers the labelled drawing as a download (PNG + strokes) instead.

What is stored is what the desktop app stores (``digit_recognizer.corrections``):
``DIR/<digit>/<timestamp>.png`` and ``.ndjson`` beside it, one pair per digit. The
picture is rendered here from the strokes, as the page draws them, so a client cannot
store arbitrary images; a number is cut into digits with the recognizer's own boxes.

Each request is bounded before it costs anything: refused at once (403) when storing
is off, before a byte of the body is read; the body is capped (``MAX_BODY_BYTES``,
far below the predict limit) and parsed, validated and rendered in a thread, never
on the event loop; the drawing's points, pen, canvas and the ink it would lay down
are capped, so one request costs at most a few hundred milliseconds of CPU;
coordinates far off the canvas and drawings that leave it blank are refused; and the
folder stops growing at a quota (507), so no client can fill the disk.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from .. import corrections as saved
from ..ink import PAPER, Stroke, render
from ..recognizer import Recognizer
from .errors import ApiError, describe_validation
from .limits import BodyTooLarge, declared_length

log = logging.getLogger("digit_recognizer.web")

CORRECTIONS_ENV = "DIGITS_SERVE_CORRECTIONS_DIR"
QUOTA_ENV = "DIGITS_SERVE_CORRECTIONS_MAX_MB"  # the folder's size limit in MB (default 200)
MAX_STROKES, MAX_POINTS = 200, 10_000  # far more than any digit or number needs (the page sends a few hundred)
MAX_PEN, MAX_SIDE = 64, 2000  # the page's pen goes to 40; its number pad is under 1,400 units wide
MAX_INK = 20_000_000  # canvas units^2 of ink (stroke length x pen): a drawn number lays down under 1 million
MAX_BODY_BYTES = 512 * 1024  # a drawing is 5-50 KB of JSON
DEFAULT_QUOTA_MB = 200.0
QUOTA_RESCAN_SECONDS = 60.0  # the folder's size is re-read this often (other workers write to it too)


class CorrectionIn(BaseModel):
    label: str = Field(description="the right digit, or the right number (digits 0-9 only)", max_length=32)
    drawing: list[list[list[float]]] = Field(description="strokes as [[xs], [ys]] in canvas units, y down")
    pen: float = Field(18.0, gt=0, le=MAX_PEN, description="pen width in canvas units")
    width: int = Field(280, ge=28, le=MAX_SIDE, description="canvas width in canvas units")
    height: int = Field(280, ge=28, le=MAX_SIDE, description="canvas height in canvas units")


class CorrectionsInfo(BaseModel):
    enabled: bool


class CorrectionSaved(BaseModel):
    label: str
    saved: int


class Problem(BaseModel):
    error: str = Field(description="what went wrong and what to do about it")
    status: int


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "malformed JSON",
        403: "this server does not store corrections (started without --corrections-dir)",
        413: f"body over {MAX_BODY_BYTES // 1024} KB",
        422: "a label that is not digits, strokes that are not [xs, ys] on the canvas, too many points, "
        "or digits that do not match the drawing",
        500: "the corrections folder cannot be written",
        507: "the corrections folder is full (its size limit)",
    }.items()
}
BODY: dict[str, Any] = {
    "required": True,
    "content": {"application/json": {"schema": CorrectionIn.model_json_schema()}},
}


class FolderQuota:
    """The corrections folder's size against its limit, re-read now and then, counted between reads."""

    def __init__(self, folder: Path, limit_bytes: int) -> None:
        self.folder, self.limit = folder, limit_bytes
        self.used, self.read_at = 0, -math.inf

    def check(self) -> None:
        """ApiError 507 when the folder is at its limit (runs in a thread: it may list the folder)."""
        if time.monotonic() - self.read_at > QUOTA_RESCAN_SECONDS:
            self.used, self.read_at = folder_bytes(self.folder), time.monotonic()
        if self.used >= self.limit:
            raise ApiError(
                507,
                f"the server's corrections folder is full ({self.limit / 1e6:g} MB); "
                "the server owner can move corrections out or raise $" + QUOTA_ENV,
            )

    def add(self, paths: list[Path]) -> None:
        for png in paths:
            for path in (png, png.with_suffix(".ndjson")):
                with contextlib.suppress(OSError):
                    self.used += path.stat().st_size


def folder_bytes(folder: Path) -> int:
    """Bytes in the digit folders' files (symbolic links not followed)."""
    total = 0
    for digit in range(10):
        try:
            with os.scandir(folder / str(digit)) as entries:
                total += sum(e.stat(follow_symlinks=False).st_size for e in entries if e.is_file(follow_symlinks=False))
        except OSError:
            continue
    return total


def quota_bytes() -> int:
    text = os.environ.get(QUOTA_ENV)
    try:
        megabytes = float(text) if text else DEFAULT_QUOTA_MB
    except ValueError:
        megabytes = DEFAULT_QUOTA_MB
    return int(megabytes * 1e6) if math.isfinite(megabytes) and megabytes > 0 else int(DEFAULT_QUOTA_MB * 1e6)


def router(recognizer: Recognizer, folder: Path | None = None) -> APIRouter:
    """The corrections endpoints; ``folder`` (else $DIGITS_SERVE_CORRECTIONS_DIR) turns storing on."""
    if folder is None and os.environ.get(CORRECTIONS_ENV):
        folder = Path(os.environ[CORRECTIONS_ENV]).expanduser()
    quota = FolderQuota(folder, quota_bytes()) if folder is not None else None
    api = APIRouter()

    @api.get("/api/corrections", summary="Does this server store corrections?", response_model=CorrectionsInfo)
    async def info() -> JSONResponse:
        return JSONResponse({"enabled": folder is not None})

    @api.post(
        "/api/corrections",
        summary="Store a drawing with its right label (only with --corrections-dir)",
        response_model=CorrectionSaved,
        status_code=201,
        responses=ERRORS,
        openapi_extra={"requestBody": BODY},
    )
    async def store(request: Request) -> JSONResponse:
        if folder is None or quota is None:  # refused before the body is read
            raise ApiError(403, "this server does not store corrections (start it with --corrections-dir DIR)")
        body = await bounded_body(request, MAX_BODY_BYTES)
        return await run_in_threadpool(store_correction, recognizer, body, folder, quota)

    return api


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, BodyTooLarge (413) as soon as it is declared or streams past ``limit`` bytes."""
    declared = declared_length(request.scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)


def store_correction(recognizer: Recognizer, body: bytes, folder: Path, quota: FolderQuota) -> JSONResponse:
    """Parse, check, render and store one correction (in a thread: every step costs CPU or disk)."""
    correction = parse_correction(body)
    items = labelled(recognizer, correction)
    quota.check()
    try:
        paths = saved.save_all(items, folder, source="web")
    except OSError as exc:
        log.warning("could not store a correction in %s: %s", folder, exc)
        why = exc.strerror or "the folder is not a plain folder the server may write"
        raise ApiError(500, f"could not store the correction ({why}); the server log says where") from None
    quota.add(paths)
    return JSONResponse({"label": correction.label, "saved": len(paths)}, status_code=201)


def parse_correction(body: bytes) -> CorrectionIn:
    """The JSON body as a CorrectionIn; 400 for text that is not JSON, 422 for the wrong shape."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise ApiError(422, "the JSON is nested too deeply to be a drawing") from None
    except ValueError as exc:
        raise ApiError(400, f"the body is not valid JSON ({exc}); send the correction as a JSON object") from None
    try:
        return CorrectionIn.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, f"invalid request: {describe_validation(exc.errors())}") from None


def labelled(recognizer: Recognizer, correction: CorrectionIn) -> list[saved.Labelled]:
    """The digits to store: the whole drawing for one digit, one cut-out per digit for a number."""
    try:
        digits = saved.parse_number(correction.label)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    strokes = strokes_of(correction)
    image = render(strokes, (correction.width, correction.height))
    if image.getextrema()[0] == PAPER:
        raise ApiError(422, "the strokes leave the canvas blank; draw the digit inside the canvas")
    if len(digits) == 1:
        return [saved.Labelled(digits[0], image, strokes)]
    found = recognizer.predict_number(image)
    if len(found.digits) != len(digits):
        raise ApiError(
            422,
            f"the drawing holds {len(found.digits)} digit(s) but the label has {len(digits)}; "
            "draw the digits a little apart and try again",
        )
    return saved.number_items(image, digits, [d.box for d in found.digits], strokes)


def strokes_of(correction: CorrectionIn) -> list[Stroke]:
    """The drawing as strokes; 422 when it is empty, off the canvas, or would cost too much to draw."""
    drawing: list[Any] = correction.drawing
    if not drawing or len(drawing) > MAX_STROKES:
        raise ApiError(422, f"'drawing' must hold 1 to {MAX_STROKES} strokes")
    if sum(len(pair[0]) if pair else 0 for pair in drawing) > MAX_POINTS:
        raise ApiError(422, f"the drawing has more than {MAX_POINTS:,} points; send the strokes as drawn, once")
    strokes = []
    for i, pair in enumerate(drawing):
        if len(pair) != 2 or len(pair[0]) != len(pair[1]) or not pair[0]:
            raise ApiError(422, f"stroke {i} must be [xs, ys], two lists of the same non-zero length")
        if not _on_canvas(pair[0], correction.width) or not _on_canvas(pair[1], correction.height):
            raise ApiError(422, f"stroke {i} has a point far outside the {correction.width}x{correction.height} canvas")
        strokes.append(Stroke(correction.pen, list(zip(pair[0], pair[1], strict=True))))
    if ink_area(strokes) > MAX_INK:
        raise ApiError(422, "the drawing lays down more ink than any digit or number; draw with a thinner pen")
    return strokes


def _on_canvas(values: list[float], side: int) -> bool:
    """Finite and within one canvas of its edges (a pointer dragged past the edge is still a drawing)."""
    return all(math.isfinite(v) and -side <= v <= 2 * side for v in values)


def ink_area(strokes: list[Stroke]) -> float:
    """What drawing the strokes costs, in canvas units^2: each segment's length and each dab, times the pen."""
    total = 0.0
    for stroke in strokes:
        points = stroke.points
        length = sum(math.dist(a, b) for a, b in itertools.pairwise(points))
        total += stroke.width * length + len(points) * stroke.width**2
    return total

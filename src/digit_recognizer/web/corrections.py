"""POST /api/corrections: the page's "Wrong?", stored only when the server owner asked for it.

Privacy first: a drawing someone labels stays in their browser unless the server was
started with ``digits serve --corrections-dir DIR`` (``$DIGITS_SERVE_CORRECTIONS_DIR``
for the worker processes). Without it, ``GET /api/corrections`` says so and the page
offers the labelled drawing as a download (PNG + strokes) instead.

What is stored is what the desktop app stores (``digit_recognizer.corrections``):
``DIR/<digit>/<timestamp>.png`` and ``.ndjson`` beside it, one pair per digit. The
picture is rendered here from the strokes, as the page draws them, so a client cannot
store arbitrary images; a number is cut into digits with the recognizer's own boxes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .. import corrections as saved
from ..ink import Stroke, render
from ..recognizer import Recognizer
from .errors import ApiError

CORRECTIONS_ENV = "DIGITS_SERVE_CORRECTIONS_DIR"
MAX_STROKES, MAX_POINTS = 200, 20_000  # far more than any digit or number needs


class CorrectionIn(BaseModel):
    label: str = Field(description="the right digit, or the right number (digits 0-9 only)", max_length=32)
    drawing: list[list[list[float]]] = Field(description="strokes as [[xs], [ys]] in canvas units, y down")
    pen: float = Field(18.0, gt=0, le=200, description="pen width in canvas units")
    width: int = Field(280, ge=28, le=4000, description="canvas width in canvas units")
    height: int = Field(280, ge=28, le=4000, description="canvas height in canvas units")


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
        413: "body over the size limit",
        422: "a label that is not digits, strokes that are not [xs, ys], or digits that do not match the drawing",
        500: "the corrections folder cannot be written",
    }.items()
}


def router(recognizer: Recognizer, folder: Path | None = None) -> APIRouter:
    """The corrections endpoints; ``folder`` (else $DIGITS_SERVE_CORRECTIONS_DIR) turns storing on."""
    if folder is None and os.environ.get(CORRECTIONS_ENV):
        folder = Path(os.environ[CORRECTIONS_ENV]).expanduser()
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
    )
    def store(correction: CorrectionIn) -> JSONResponse:  # sync: FastAPI runs it in a thread, off the loop
        if folder is None:
            raise ApiError(403, "this server does not store corrections (start it with --corrections-dir DIR)")
        items = labelled(recognizer, correction)
        try:
            paths = saved.save_all(items, folder, source="web")
        except OSError as exc:
            raise ApiError(500, f"could not store the correction ({exc})") from None
        return JSONResponse({"label": correction.label, "saved": len(paths)}, status_code=201)

    return api


def labelled(recognizer: Recognizer, correction: CorrectionIn) -> list[saved.Labelled]:
    """The digits to store: the whole drawing for one digit, one cut-out per digit for a number."""
    try:
        digits = saved.parse_number(correction.label)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    strokes = strokes_of(correction)
    image = render(strokes, (correction.width, correction.height))
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
    drawing: list[Any] = correction.drawing
    if not drawing or len(drawing) > MAX_STROKES:
        raise ApiError(422, f"'drawing' must hold 1 to {MAX_STROKES} strokes")
    strokes = []
    for i, pair in enumerate(drawing):
        if len(pair) != 2 or len(pair[0]) != len(pair[1]) or not pair[0]:
            raise ApiError(422, f"stroke {i} must be [xs, ys], two lists of the same non-zero length")
        if not all(math.isfinite(v) for v in pair[0] + pair[1]):
            raise ApiError(422, f"stroke {i} holds a coordinate that is not a finite number")
        strokes.append(Stroke(correction.pen, list(zip(pair[0], pair[1], strict=True))))
    if sum(len(s.points) for s in strokes) > MAX_POINTS:
        raise ApiError(422, f"the drawing has more than {MAX_POINTS} points")
    return strokes

"""`digits predict`: recognize image files, as a table or as JSON lines.

One unreadable file never stops the others: it is reported with its reason and
the exit status becomes 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .preprocess import ImageError
from .recognizer import NumberPrediction, Prediction, Recognizer

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}


def image_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders expanded to the image files inside, sorted by name."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(path)
    return out


def result_for(
    recognizer: Recognizer, path: Path | str, source: Any, multi: bool, digits: int | None = None
) -> dict[str, Any]:
    """The JSON-ready result for one image: shared by `digits predict --json` and the HTTP API."""
    try:
        found: Prediction | NumberPrediction = (
            recognizer.predict_number(source, digits) if multi else recognizer.predict(source)
        )
    except ImageError as exc:
        return {"path": str(path), "error": str(exc)}
    return as_result(path, found)


def as_result(path: Path | str, found: Prediction | NumberPrediction) -> dict[str, Any]:
    """The JSON shape of `digits predict --json` for a prediction already made."""
    if isinstance(found, NumberPrediction):
        best = found.digits[0].prediction if len(found.digits) == 1 else None
        single = best.to_dict() if best else {"digit": None, "confidence": found.confidence, "probabilities": []}
        return {"path": str(path), **single, **found.to_dict()}
    return {"path": str(path), **found.to_dict()}


def predict_files(
    paths: Sequence[Path],
    *,
    model: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    top_k: int = 3,
    multi: bool = False,
    digits: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Print one result per image; return 1 if any file failed, else 0."""
    out = out or sys.stdout
    recognizer = Recognizer.load(model)
    files = image_files(paths)
    if not files:
        print("error: no image files found in " + ", ".join(str(p) for p in paths), file=sys.stderr)
        return 1
    failed = False
    width = max(len(str(f)) for f in files)
    if not as_json:
        print(_header(width, multi), file=out)
    for path in files:
        result = result_for(recognizer, path, path, multi, digits)
        failed |= "error" in result
        print(json.dumps(result) if as_json else _row(result, width, top_k, multi), file=out, flush=True)
    return 1 if failed else 0


def _header(width: int, multi: bool) -> str:
    if multi:
        return f"{'path':<{width}}  {'number':>6}  confidence  each digit (confidence)"
    return f"{'path':<{width}}  {'digit':>6}  confidence  alternatives"


def _row(result: dict[str, Any], width: int, top_k: int, multi: bool) -> str:
    path = f"{result['path']:<{width}}"
    if "error" in result:
        return f"{path}  error: {result['error']}"
    if (result["number"] if multi else result["digit"]) is None:
        return f"{path}  {'-':>6}  {'-':>10}  no digit: {result.get('reason', '')}"
    if multi:
        each = " ".join(f"{d['digit']}({d['confidence']:.0%})" for d in result["digits"])
        return f"{path}  {result['number']:>6}  {result['confidence']:>10.1%}  {each}"
    probabilities = result["probabilities"]
    order = sorted(range(10), key=lambda d: -probabilities[d])[1:top_k]
    others = "  ".join(f"{d} {probabilities[d]:.1%}" for d in order)
    return f"{path}  {result['digit']:>6}  {result['confidence']:>10.1%}  {others}"

"""`digits serve`: the drawing page and the HTTP API, one FastAPI app on uvicorn.

    GET  /              the drawing page (static files served by the app: works offline)
    POST /api/predict   an image (raw body or multipart field ``file``) -> the JSON of `digits predict --json`
    GET  /api/health    liveness, and which model is loaded
    GET  /api/model     the model card
    GET  /docs          OpenAPI docs (Swagger UI loads its assets from a CDN; the drawing page does not)

The hot path is lean on purpose (one worker answers about 1,100 predictions/s on two
cores, two workers about 1,750): an ``image/*`` body is read as bytes with no form
parsing, the model runs off the event loop while the loop preprocesses the next
image when a worker has cores to spare (see ``create_app``), and responses skip
pydantic validation (the models below only document the API).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from .. import __version__
from ..predict import as_result
from ..preprocess import ImageError, NoDigit
from ..recognizer import Prediction, Recognizer
from . import corrections
from .errors import ApiError, install_error_handlers
from .limits import DEFAULT_MAX_BODY_BYTES, BodyLimit

STATIC = Path(__file__).parent / "static"
MODEL_ENV = "DIGITS_MODEL"  # how `--workers N` passes --model to each worker process
THREADS_ENV = "DIGITS_RECOGNITION_THREADS"  # and how many recognition threads each worker runs
MAX_BODY_ENV = "DIGITS_MAX_BODY_MB"  # request body limit in MB (default 5)
RAW_TYPES = ("image/", "application/octet-stream")
PAGE_HEADERS = {
    # The page loads nothing from elsewhere; say so to the browser as well.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# --------------------------------------------------------------------------- response models (documentation)


class DigitResult(BaseModel):
    digit: int | None = Field(description="0-9, or null when the image holds no digit")
    confidence: float = Field(description="probability of `digit`, 0-1")
    probabilities: list[float] = Field(description="the ten probabilities for digits 0-9 (empty when no digit)")
    box: list[int] | None = Field(None, description="multi mode: the digit's box [x0, y0, x1, y1] in image pixels")
    preview: list[list[int]] | None = Field(None, description="with preview=true: the 28x28 input the model saw")


class PredictResult(BaseModel):
    """The same fields as one line of `digits predict --json`."""

    path: str = Field(description="the uploaded file name, or 'body' for a raw image body")
    digit: int | None = Field(description="the digit, or null when there is none (multi mode: when not exactly one)")
    confidence: float = Field(description="probability of the answer (multi mode: product over the digits)")
    probabilities: list[float] = Field(description="ten probabilities for digits 0-9, empty when no single digit")
    reason: str | None = Field(None, description="why no digit was found (blank image, only specks)")
    number: str | None = Field(None, description="multi mode: the digits read left to right")
    digits: list[DigitResult] | None = Field(None, description="multi mode: each digit found, left to right")
    preview: list[list[int]] | None = Field(
        None, description="with preview=true: the 28x28 image the model saw, white ink on black, 0-255"
    )


class ErrorResult(BaseModel):
    error: str = Field(description="what went wrong and what to do about it")
    status: int = Field(description="the HTTP status code, repeated for convenience")
    path: str | None = None


class Health(BaseModel):
    status: str
    version: str
    model: str


PREDICT_BODY: dict[str, Any] = {
    "required": True,
    "description": "The image: the raw bytes with an image Content-Type, or a multipart form with a field `file`.",
    "content": {
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    },
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResult, "description": text}
    for code, text in {
        400: "malformed request (bad multipart data, bad Content-Length)",
        413: "body over the size limit",
        415: "the Content-Type is not an image or a multipart form",
        422: "the data is not an image that can be read, or a parameter is invalid",
    }.items()
}


# --------------------------------------------------------------------------- the app


def create_app(
    model: str | os.PathLike[str] | None = None, *, max_body_bytes: int | None = None, threads: int = 0
) -> FastAPI:
    """Build the app with its model loaded (ModelError now, not at the first request).

    ``threads``: run the model in that many threads off the event loop (0: all on the
    loop). With one worker on several cores, the loop preprocesses the next request
    while the model (which releases the GIL) runs on another core. Measured with one
    worker on 2 cores: 1,010-1,150 req/s this way, 930-970 with whole recognitions
    in 2 threads, 890 all on the loop.
    """
    recognizer = Recognizer.load(model, threads=1)  # parallelism comes from requests, not inside one
    pool = ThreadPoolExecutor(threads, thread_name_prefix="recognize") if threads else None
    app = FastAPI(
        title="digit-recognizer",
        version=__version__,
        description="Recognize handwritten digits and numbers. The drawing page is at `/`.",
    )
    app.state.recognizer = recognizer
    app.add_middleware(BodyLimit, limit=max_body_bytes or max_body_from_env())
    install_error_handlers(app)
    _add_api_routes(app, recognizer, pool)
    app.include_router(corrections.router(recognizer))  # stores only with --corrections-dir
    _add_page_routes(app)
    gc.freeze()  # the app's many long-lived objects leave the collector's sight: shorter pauses, a lower p99
    return app


def recognition_threads(workers: int) -> int:
    """Model threads per worker: the cores each worker has, at least one.

    Even with a worker per core, one model thread pays: uvicorn's workers share one
    socket, keep-alive connections can pile up on one worker, and that worker then
    still uses a second core. Measured with 2 workers: 1,560-1,650 req/s in four
    runs this way; 890-1,770 with everything on each worker's loop.
    """
    per_worker = (os.cpu_count() or 1) // workers
    return max(1, per_worker)


def app_from_env() -> FastAPI:
    """The uvicorn factory used with ``--workers N``: each process reads the model path from $DIGITS_MODEL."""
    return create_app(os.environ.get(MODEL_ENV) or None, threads=int(os.environ.get(THREADS_ENV) or 0))


def max_body_from_env() -> int:
    text = os.environ.get(MAX_BODY_ENV)
    if not text:
        return DEFAULT_MAX_BODY_BYTES
    try:
        megabytes = float(text)
    except ValueError:
        raise SystemExit(f"error: ${MAX_BODY_ENV} must be a number of megabytes, e.g. 5, got {text!r}") from None
    if megabytes <= 0:
        raise SystemExit(f"error: ${MAX_BODY_ENV} must be positive, got {text!r}")
    return int(megabytes * 1024 * 1024)


def _add_api_routes(app: FastAPI, recognizer: Recognizer, pool: ThreadPoolExecutor | None) -> None:
    @app.post(
        "/api/predict",
        summary="Recognize the digit (or, with multi=true, the number) in an image",
        response_model=PredictResult,
        responses=ERRORS,
        openapi_extra={"requestBody": PREDICT_BODY},
    )
    async def predict(
        request: Request,
        multi: bool = Query(False, description="read a whole number: every digit, left to right"),
        preview: bool = Query(False, description="also return the 28x28 image(s) the model saw"),
    ) -> JSONResponse:
        label, data = await read_image(request)
        if multi:
            result = recognize_number(recognizer, label, data, preview)
        else:
            result = await recognize_digit(recognizer, pool, label, data, preview)
        return JSONResponse(result)

    @app.get("/api/health", summary="Is the server up, and with which model", response_model=Health)
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "model": recognizer.path.name})

    @app.get("/api/model", summary="The model card: architecture, training, accuracy, checksum")
    async def model_card() -> JSONResponse:
        return JSONResponse(recognizer.card or {"name": recognizer.path.stem, "note": "no model card beside the model"})


def _add_page_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


# --------------------------------------------------------------------------- one request


async def read_image(request: Request) -> tuple[str, bytes]:
    """The uploaded bytes and a label for them: the raw body, or the multipart field ``file``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        label, data = await _read_form(request)
    elif content_type.startswith(RAW_TYPES):
        label, data = "body", await request.body()
    else:
        raise ApiError(
            415,
            f"unsupported Content-Type {content_type or '(none)'!r}: send the image bytes with "
            "Content-Type image/png (or image/jpeg, ...), or a multipart form with the image in a field named 'file'",
        )
    if not data:
        raise ApiError(422, "the image is empty (0 bytes); send the contents of an image file", path=label)
    return label, data


async def _read_form(request: Request) -> tuple[str, bytes]:
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            fields = ", ".join(form.keys()) or "none"
            raise ApiError(422, f"the multipart form needs the image in a file field named 'file' (fields: {fields})")
        return upload.filename or "file", await upload.read()


async def recognize_digit(
    recognizer: Recognizer, pool: ThreadPoolExecutor | None, label: str, data: bytes, preview: bool
) -> dict[str, Any]:
    """The `digits predict --json` answer for one digit; the preview is the array the model saw.

    With a pool, the two halves overlap across requests: preprocessing (mostly Python,
    holding the GIL) runs on the event loop, the model (onnxruntime releases the GIL)
    in the pool on another core, while the loop reads and preprocesses the next request.
    """
    try:
        x = recognizer.preprocess(data)
    except NoDigit as empty:
        return as_result(label, Prediction(None, 0.0, reason=str(empty)))
    except ImageError as exc:
        raise ApiError(422, f"cannot read the image: {exc}", path=label) from None
    if pool is None:
        probabilities = recognizer.probabilities(x[None])
    else:
        probabilities = await asyncio.get_running_loop().run_in_executor(pool, recognizer.probabilities, x[None])
    result = as_result(label, Prediction.from_probabilities(probabilities[0]))
    if preview:
        result["preview"] = pixels(x)
    return result


def recognize_number(recognizer: Recognizer, label: str, data: bytes, preview: bool) -> dict[str, Any]:
    """The `digits predict --json --multi` answer; unreadable images become a 422 with the reason."""
    try:
        found = recognizer.predict_number(data)
    except ImageError as exc:
        raise ApiError(422, f"cannot read the image: {exc}", path=label) from None
    result = as_result(label, found)
    if preview:
        for entry, digit in zip(result["digits"], found.digits, strict=True):
            if digit.image is not None:  # always set by predict_number
                entry["preview"] = pixels(digit.image)
        if len(found.digits) == 1:
            result["preview"] = result["digits"][0]["preview"]
    return result


def pixels(image: np.ndarray) -> list[list[int]]:
    """A 28x28 float image in [0, 1] as rows of 0-255 integers (compact JSON)."""
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8).tolist()


# --------------------------------------------------------------------------- `digits serve`


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    model: str | None = None,
    workers: int = 1,
    *,
    max_body_mb: float | None = None,
    access_log: bool = False,
) -> int:
    """Serve until Ctrl+C; each worker process loads the model once.

    No access log by default: a line per request costs more than recognizing a digit.
    """
    import uvicorn

    if workers < 1:
        raise SystemExit(f"error: --workers must be at least 1, got {workers}")
    if max_body_mb is not None:
        os.environ[MAX_BODY_ENV] = str(max_body_mb)  # read by create_app, here and in every worker
    threads = recognition_threads(workers)
    app = create_app(model, threads=threads)  # a bad model or $DIGITS_MAX_BODY_MB fails here, with its message
    recognizer: Recognizer = app.state.recognizer
    _check_port_free(host, port)
    _print_banner(host, port, recognizer, workers)
    log_level = "info" if access_log else "warning"
    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level, "access_log": access_log}
    if workers == 1:
        uvicorn.run(app, **options)
    else:
        os.environ[MODEL_ENV] = str(recognizer.path.resolve())  # worker processes inherit the environment
        os.environ[THREADS_ENV] = str(threads)
        uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=workers, **options)
    return 0


def _check_port_free(host: str, port: int) -> None:
    """Fail with a sentence, not a bind traceback, when the port is taken or the address is wrong."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(
                f"error: cannot listen on {host}:{port} ({exc.strerror}); "
                f"pick another port with --port {port + 1}, or stop the program using it"
            ) from None


def _print_banner(host: str, port: int, recognizer: Recognizer, workers: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("localhost" if host == "::" else host)
    url = f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"
    print(f"digits serve: model {recognizer.path.name}, {workers} worker(s), listening on {host}:{port}")
    if host in ("0.0.0.0", "::"):
        print(f"  reachable from your network as http://<this machine's address>:{port}/")
    print(f"  Open {url} to draw digits; API: POST {url}api/predict, docs: {url}docs")
    print("  Press Ctrl+C to stop.", flush=True)

"""`digits serve`: the drawing page and the HTTP API, one FastAPI app on uvicorn.

    GET  /              the drawing page (static files served by the app: works offline)
    POST /api/predict   an image (raw body or multipart field ``file``) -> the JSON of `digits predict --json`
    GET  /api/health    liveness and readiness (200 once the model is loaded and warmed up), and which model
    GET  /api/model     the model card
    GET  /docs, /redoc  OpenAPI docs, their assets served by the app too (work offline)

The hot path is lean on purpose: an ``image/*`` body is read as bytes with no form
parsing, responses are serialized by orjson and skip pydantic validation (the models
below only document the API), and recognition runs in thread pools (see ``Pools``):
a small gray image is preprocessed on the event loop (a millisecond) while the model
runs in a thread; other canvas-sized images are recognized wholly in that pool; large
images go to a pool of their own, so no image stalls the loop and a queue of large
ones never delays a canvas. Images are refused by their header's pixel count before
any decoding (``limits.check_pixels``), and the large-image pool's size bounds how
many are decoded at once, so memory per worker is bounded.

Hostile clients are handled in layers: ``protocol`` (header deadline and size,
connection cap), ``limits`` (body size and deadline, pixel cap), ``middleware``
(security headers on every response, JSON errors), and Starlette's trusted-host
and CORS middleware when ``--allowed-hosts`` / ``--cors`` ask for them.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from ..predict import as_result
from ..preprocess import ImageError, NoDigit
from ..recognizer import Prediction, Recognizer
from ..segment import MAX_DIGITS
from . import corrections, protocol
from .docs import ASSETS_URL, add_offline_docs
from .errors import ApiError, install_error_handlers
from .limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_PIXELS,
    ASGIApp,
    BodyLimit,
    Header,
    check_pixels,
)
from .middleware import FileSlots, HeadAsGet, JsonErrors, SecurityHeaders

STATIC = Path(__file__).parent / "static"
MODEL_ENV = "DIGITS_MODEL"  # how `--workers N` passes --model to each worker process
THREADS_ENV = "DIGITS_RECOGNITION_THREADS"  # and how many recognition threads each worker runs
SETTINGS_ENV = "DIGITS_SERVE_SETTINGS"  # and the app's Settings, as JSON
MAX_BODY_ENV = "DIGITS_MAX_BODY_MB"  # request body limit in MB (default 5)
RAW_TYPES = ("image/", "application/octet-stream")
INLINE_PREPROCESS_PIXELS = 160_000  # gray images up to 400x400: preprocessed on the loop, about a millisecond
INLINE_MODES = ("L", "1")  # colour and transparency take a float path ten times slower: those go to the pool
CANVAS_PIXELS = 500_000  # up to about 800x600 (the page's number pad): the canvas pool; larger: the large pool
INLINE_HEADER_BYTES = 64 * 1024  # bodies up to this size have their header read on the loop (microseconds)
DEFAULT_RECOGNITION_TIMEOUT = 20.0  # seconds per image, queue included; the largest image allowed takes about one
T = TypeVar("T")


class Pools:
    """Where recognition runs, so that expensive images wait only for each other.

    ``canvas``: the model for canvases preprocessed on the loop, and whole recognitions
    of other images up to CANVAS_PIXELS. ``large``: larger images, at most ``threads // 2``
    (at least 1) at a time: the decoded pixels of a 4-megapixel image can take 150 MB.

    Every job has a deadline: past it the request is answered 503 (a thread cannot
    be stopped, so the job runs on), and while every canvas thread is held by a job
    past its deadline the server reports itself not ready: recognition cannot run.
    """

    def __init__(self, threads: int, deadline: float = DEFAULT_RECOGNITION_TIMEOUT) -> None:
        self.threads = max(1, threads)
        self.canvas = ThreadPoolExecutor(self.threads, thread_name_prefix="recognize")
        self.large = ThreadPoolExecutor(max(1, threads // 2), thread_name_prefix="recognize-large")
        self.deadline = deadline
        self._running: dict[int, float] = {}  # job id -> when it started (monotonic)
        self._jobs = itertools.count()

    def for_image(self, header: Header) -> ThreadPoolExecutor:
        return self.canvas if 0 < header.pixels <= CANVAS_PIXELS else self.large

    async def run(self, pool: ThreadPoolExecutor, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in ``pool``; ApiError 503 when it is not done within the deadline."""
        job = asyncio.get_running_loop().run_in_executor(pool, self._timed, work, args)
        try:
            return await asyncio.wait_for(job, self.deadline)
        except asyncio.TimeoutError:
            raise ApiError(
                503,
                f"recognizing this image took over {self.deadline:g} s; the server is overloaded, retry later",
                headers={"Retry-After": "5"},
            ) from None

    def _timed(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        job = next(self._jobs)
        self._running[job] = time.monotonic()
        try:
            return work(*args)
        finally:
            del self._running[job]

    def stuck(self) -> bool:
        """Every canvas thread is held by a job past its deadline: recognition cannot run now."""
        late = time.monotonic() - self.deadline
        return sum(started < late for started in list(self._running.values())) >= self.threads


@dataclass(frozen=True)
class Settings:
    """What a deployment may tune per request; the defaults suit a public server."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # seconds for a whole request body
    max_pixels: int = DEFAULT_MAX_PIXELS  # decoded pixels per image
    recognition_timeout: float = DEFAULT_RECOGNITION_TIMEOUT  # seconds one image may take, queue included
    allowed_hosts: tuple[str, ...] = ()  # Host header values answered ("*.example.com" allowed); empty: any
    cors_origins: tuple[str, ...] = ()  # sites whose pages may call the API; empty: none

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        text = os.environ.get(SETTINGS_ENV)
        if not text:
            return cls(max_body_bytes=max_body_from_env())
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(text).items()}
        return cls(**fields)


# --------------------------------------------------------------------------- response models (documentation)


class DigitResult(BaseModel):
    digit: int | None = Field(description="0-9, or null when the image holds no digit")
    confidence: float = Field(description="probability of `digit`, 0-1")
    probabilities: list[float] = Field(description="the ten probabilities for digits 0-9 (empty when no digit)")
    box: list[int] | None = Field(None, description="multi mode: the digit's box [x0, y0, x1, y1] in image pixels")
    preview: list[list[int]] | None = Field(None, description="with preview=true: the 28x28 input the model saw")


class PredictResult(BaseModel):
    """The same fields as one line of `digits predict --json`: a digit's, or (multi mode) a number's."""

    path: str = Field(description="the uploaded file name, or 'body' for a raw image body")
    digit: int | None = Field(None, description="one-digit mode: the digit, or null when there is none")
    confidence: float = Field(description="probability of the answer (multi mode: product over the digits)")
    probabilities: list[float] | None = Field(
        None, description="one-digit mode: ten probabilities for digits 0-9, empty when there is no digit"
    )
    reason: str | None = Field(None, description="why no digit was found (blank image, only specks)")
    number: str | None = Field(None, description="multi mode: the digits read left to right")
    digits: list[DigitResult] | None = Field(None, description="multi mode: each digit found, left to right")
    unsure: bool | None = Field(None, description="multi mode: the weakest digit is unsure (show as unsure)")
    ignored: list[dict[str, list[int]]] | None = Field(
        None, description="multi mode: marks left out of every digit (dots, dashes), each with its box"
    )
    preview: list[list[int]] | None = Field(
        None, description="with preview=true: the 28x28 image the model saw, white ink on black, 0-255"
    )


class ErrorResult(BaseModel):
    error: str = Field(description="what went wrong and what to do about it")
    status: int = Field(description="the HTTP status code, repeated for convenience")
    path: str | None = None


class Health(BaseModel):
    status: str = Field(description="'ok' once the model is loaded and has answered a warm-up call; else 'loading'")
    ready: bool = Field(description="true when predictions can be served (the status code is 503 until then)")
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
        408: "the request body did not arrive in time",
        413: "body over the size limit, or an image over the pixel limit",
        415: "the Content-Type is not an image or a multipart form",
        422: "the data is not an image that can be read, or a parameter is invalid",
    }.items()
}


# --------------------------------------------------------------------------- the app


class JSONBytes(JSONResponse):
    """JSON serialized by orjson: several times faster than json.dumps for the 10 probabilities."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class App(FastAPI):
    """FastAPI with a few ASGI layers *outside* its own error middleware, so they see every response."""

    outer_layers: Sequence[Callable[[ASGIApp], ASGIApp]] = ()

    def build_middleware_stack(self) -> Any:
        app = super().build_middleware_stack()
        for wrap in reversed(self.outer_layers):
            app = wrap(app)
        return app


def create_app(
    model: str | os.PathLike[str] | None = None,
    *,
    max_body_bytes: int | None = None,
    threads: int = 1,
    settings: Settings | None = None,
) -> FastAPI:
    """Build the app with its model loaded and warmed up (ModelError now, not at the first request).

    ``threads``: the recognition pool's size (at least 1). With one worker on several
    cores, the loop reads and answers requests while the model (which releases the
    GIL) and large images' decoding run on the other cores.
    """
    settings = settings or Settings.from_env()
    if max_body_bytes is not None:
        settings = Settings(**{**asdict(settings), "max_body_bytes": max_body_bytes})
    recognizer = Recognizer.load(model, threads=1)  # parallelism comes from requests, not inside one
    pools = Pools(threads, settings.recognition_timeout)
    app = App(
        title="digit-recognizer",
        version=__version__,
        description="Recognize handwritten digits and numbers. The drawing page is at `/`.",
        docs_url=None,
        redoc_url=None,
        default_response_class=JSONBytes,
    )
    app.outer_layers = _outer_layers(settings)
    app.state.recognizer = recognizer
    app.state.settings = settings
    app.state.ready = False
    app.state.pools = pools
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout)
    install_error_handlers(app)
    _add_api_routes(app, recognizer, pools, settings)
    app.include_router(corrections.router(recognizer))  # stores only with --corrections-dir
    _add_page_routes(app)
    add_offline_docs(app)
    recognizer.probabilities(np.zeros((1, 28, 28), np.float32))  # onnxruntime's first call is the slow one
    app.state.ready = True
    gc.freeze()  # the app's many long-lived objects leave the collector's sight: shorter pauses, a lower p99
    return app


def _outer_layers(settings: Settings) -> list[Callable[[ASGIApp], ASGIApp]]:
    """Outermost first: headers on everything, HEAD as GET, file slots, JSON errors, then host and CORS checks."""
    layers: list[Callable[[ASGIApp], ASGIApp]] = [SecurityHeaders, HeadAsGet, static_file_slots]
    hosts = ", ".join(settings.allowed_hosts)
    explain = {b"Invalid host header": f"this server answers only for the hosts {hosts}; check the URL"}
    layers.append(lambda app: JsonErrors(app, explain))
    if settings.allowed_hosts:
        layers.append(lambda app: TrustedHostMiddleware(app, allowed_hosts=list(settings.allowed_hosts)))
    if settings.cors_origins:
        origins = list(settings.cors_origins)
        layers.append(
            lambda app: CORSMiddleware(
                app, allow_origins=origins, allow_methods=["GET", "POST", "HEAD"], allow_headers=["Content-Type"]
            )
        )
    return layers


def static_file_slots(app: ASGIApp) -> ASGIApp:
    """The page's and the docs' files, at most protocol.FILE_SLOTS at once (each holds a descriptor)."""
    return FileSlots(app, protocol.FILE_SLOTS, prefixes=("/static/", f"{ASSETS_URL}/"), exact=("/", "/favicon.ico"))


def recognition_threads(workers: int) -> int:
    """Recognition threads per worker: the cores each worker has, at least one.

    Even with a worker per core, one thread pays: uvicorn's workers share one socket,
    keep-alive connections can pile up on one worker, and that worker then still uses
    a second core.
    """
    per_worker = (os.cpu_count() or 1) // workers
    return max(1, per_worker)


def app_from_env() -> FastAPI:
    """The uvicorn factory used with ``--workers N``: each process reads its settings from the environment."""
    protocol.configure_from_env()
    threads = int(os.environ.get(THREADS_ENV) or 1)
    return create_app(os.environ.get(MODEL_ENV) or None, threads=threads, settings=Settings.from_env())


def max_body_from_env() -> int:
    text = os.environ.get(MAX_BODY_ENV)
    if not text:
        return DEFAULT_MAX_BODY_BYTES
    try:
        megabytes = float(text)
    except ValueError:
        raise SystemExit(f"error: ${MAX_BODY_ENV} must be a number of megabytes, e.g. 5, got {text!r}") from None
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise SystemExit(f"error: ${MAX_BODY_ENV} must be a positive number of megabytes, got {text!r}")
    return int(megabytes * 1024 * 1024)


def _add_api_routes(app: FastAPI, recognizer: Recognizer, pools: Pools, settings: Settings) -> None:
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
        digits: int | None = Query(
            None, ge=1, le=MAX_DIGITS, description="the number has exactly this many digits (implies multi=true)"
        ),
    ) -> Response:
        label, data = await read_image(request)
        header = await read_header(pools, label, data, settings.max_pixels)  # before any decoding
        pool = pools.for_image(header)
        if multi or digits is not None:
            result = await pools.run(pool, recognize_number, recognizer, label, data, preview, digits)
        elif is_cheap(header):
            result = await recognize_small_digit(recognizer, pools, label, data, preview)
        else:
            result = await pools.run(pool, recognize_digit, recognizer, label, data, preview)
        return JSONBytes(result)

    @app.get(
        "/api/health",
        summary="Is the server up and ready, and with which model",
        response_model=Health,
        responses={503: {"model": Health, "description": "not ready: the model is loading, or recognition is stuck"}},
    )
    async def health() -> Response:
        ready = bool(app.state.ready) and not pools.stuck()
        body = {"status": "ok" if ready else "loading", "ready": ready, "version": __version__}
        return JSONBytes({**body, "model": recognizer.path.name}, status_code=200 if ready else 503)

    @app.get("/api/model", summary="The model card: architecture, training, accuracy, checksum")
    async def model_card() -> Response:
        return JSONBytes(recognizer.card or {"name": recognizer.path.stem, "note": "no model card beside the model"})


def _add_page_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

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


async def read_header(pools: Pools, label: str, data: bytes, max_pixels: int) -> Header:
    """The image's size and mode from its header; 422 for a format that is not read or a damaged header.

    A canvas's few kilobytes are read on the loop (microseconds); a larger body's in
    the pool, so that no header, however odd, holds the loop.
    """
    try:
        if len(data) <= INLINE_HEADER_BYTES:
            return check_pixels(data, max_pixels)
        return await pools.run(pools.canvas, check_pixels, data, max_pixels)
    except ImageError as exc:
        raise ApiError(422, f"cannot read the image: {exc}", path=label) from None


def is_cheap(header: Header) -> bool:
    """A gray canvas-sized image: preprocessing it costs about a millisecond, less than a hop to the pool."""
    return 0 < header.pixels <= INLINE_PREPROCESS_PIXELS and header.mode in INLINE_MODES


def recognize_digit(recognizer: Recognizer, label: str, data: bytes, preview: bool) -> dict[str, Any]:
    """The `digits predict --json` answer for one digit (run in the pool); the preview is the array the model saw."""
    x = _preprocess(recognizer, label, data)
    if isinstance(x, str):
        return as_result(label, Prediction(None, 0.0, reason=x))
    return _digit_result(label, x, recognizer.scores(x[None])[0], preview)


async def recognize_small_digit(
    recognizer: Recognizer, pools: Pools, label: str, data: bytes, preview: bool
) -> dict[str, Any]:
    """``recognize_digit`` for a canvas-sized image: the two halves overlap across requests.

    Preprocessing (about a millisecond, mostly Python holding the GIL) runs on the
    event loop; the model (onnxruntime releases the GIL) runs in the pool on another
    core while the loop reads and preprocesses the next request.
    """
    x = _preprocess(recognizer, label, data)
    if isinstance(x, str):
        return as_result(label, Prediction(None, 0.0, reason=x))
    probabilities = await pools.run(pools.canvas, recognizer.scores, x[None])
    return _digit_result(label, x, probabilities[0], preview)


def _preprocess(recognizer: Recognizer, label: str, data: bytes) -> np.ndarray | str:
    """The 28x28 input, or why the image holds no digit; an unreadable image is a 422."""
    try:
        return recognizer.preprocess(data)
    except NoDigit as empty:
        return str(empty)
    except ImageError as exc:
        raise ApiError(422, f"cannot read the image: {exc}", path=label) from None


def _digit_result(label: str, x: np.ndarray, probabilities: np.ndarray, preview: bool) -> dict[str, Any]:
    result = as_result(label, Prediction.from_probabilities(probabilities))
    if preview:
        result["preview"] = pixels(x)
    return result


def recognize_number(
    recognizer: Recognizer, label: str, data: bytes, preview: bool, digits: int | None = None
) -> dict[str, Any]:
    """The `digits predict --json --multi` answer (run in the pool); unreadable images become a 422."""
    try:
        found = recognizer.predict_number(data, digits)
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
    max_megapixels: float | None = None,
    body_timeout: float | None = None,
    header_timeout: float | None = None,
    send_timeout: float | None = None,
    max_connections: int | None = None,
    allowed_hosts: Sequence[str] = (),
    cors: Sequence[str] = (),
) -> int:
    """Serve until Ctrl+C; each worker process loads the model once.

    No access log by default: a line per request costs more than recognizing a digit.
    Options left None take their defaults (``Settings``, ``protocol.ConnectionLimits``).
    """
    import uvicorn

    if workers < 1:
        raise SystemExit(f"error: --workers must be at least 1, got {workers}")
    if max_body_mb is not None:
        os.environ[MAX_BODY_ENV] = str(max_body_mb)  # read by Settings.from_env, here and in every worker
    base = Settings(max_body_bytes=max_body_from_env())
    settings = Settings(
        max_body_bytes=base.max_body_bytes,
        body_timeout=body_timeout if body_timeout is not None else base.body_timeout,
        max_pixels=int(max_megapixels * 1e6) if max_megapixels is not None else base.max_pixels,
        allowed_hosts=tuple(allowed_hosts),
        cors_origins=tuple(cors),
    )
    defaults = protocol.ConnectionLimits()
    limits = protocol.configure(
        protocol.ConnectionLimits(
            header_timeout=header_timeout if header_timeout is not None else defaults.header_timeout,
            max_header_bytes=defaults.max_header_bytes,
            max_connections=max_connections if max_connections is not None else defaults.max_connections,
            send_timeout=send_timeout if send_timeout is not None else defaults.send_timeout,
        )
    )
    threads = recognition_threads(workers)
    app = create_app(model, threads=threads, settings=settings)  # a bad model fails here, with its message
    recognizer: Recognizer = app.state.recognizer
    _check_port_free(host, port)
    _print_banner(host, port, recognizer, workers, settings, limits)
    log_level = "info" if access_log else "warning"
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "http": protocol.GuardedHttpToolsProtocol,  # header deadline and size, connection cap
        "server_header": False,
        "timeout_keep_alive": 5,  # idle kept-alive connections close after 5 s (uvicorn's default, said aloud)
    }
    if workers == 1:
        uvicorn.run(app, **options)
    else:
        os.environ[MODEL_ENV] = str(recognizer.path.resolve())  # worker processes inherit the environment
        os.environ[THREADS_ENV] = str(threads)
        os.environ[SETTINGS_ENV] = settings.to_env()
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


def _print_banner(
    host: str, port: int, recognizer: Recognizer, workers: int, settings: Settings, limits: protocol.ConnectionLimits
) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("localhost" if host == "::" else host)
    url = f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"
    print(f"digits serve: model {recognizer.path.name}, {workers} worker(s), listening on {host}:{port}")
    if host in ("0.0.0.0", "::"):
        print(f"  reachable from your network as http://<this machine's address>:{port}/")
    print(f"  Open {url} to draw digits; API: POST {url}api/predict, docs: {url}docs")
    print(
        f"  Limits per worker: {limits.max_connections} connections, headers within {limits.header_timeout:g} s, "
        f"bodies up to {settings.max_body_bytes / 1024 / 1024:g} MB within {settings.body_timeout:g} s, "
        f"images up to {settings.max_pixels / 1e6:g} megapixels"
    )
    hosts = ", ".join(settings.allowed_hosts) or "any (set --allowed-hosts for a public deployment)"
    cors = ", ".join(settings.cors_origins) or "none (pages of other sites cannot call the API; see --cors)"
    print(f"  Hosts answered: {hosts}; cross-origin callers: {cors}")
    print("  Press Ctrl+C to stop.", flush=True)

"""Every error the API returns is JSON, ``{"error": message, "status": code}``, never a stack trace.

Programs calling the API parse one shape for every failure, and people reading it
get a sentence that says what to change. Unexpected exceptions are logged on the
server with their traceback and answered with a plain 500 message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .limits import BadContentLength, BodyTimeout, BodyTooLarge, ImageTooLarge

log = logging.getLogger("digit_recognizer.web")

ENDPOINTS = "GET / (the drawing page), POST /api/predict, GET /api/health, GET /api/model, GET /docs, GET /redoc"


class ApiError(Exception):
    """A request the API cannot serve, with the HTTP status and a message saying how to fix it."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({**extra, "error": message, "status": status}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure, expected or not, to a JSON answer."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(BadContentLength, _bad_content_length)
    app.add_exception_handler(BodyTimeout, _body_timeout)
    app.add_exception_handler(ImageTooLarge, _image_too_large)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, headers=exc.headers, **exc.extra)


async def _body_too_large(request: Request, exc: Exception) -> JSONResponse:
    # The client may still be sending: close the connection rather than read the rest.
    return error_response(413, str(exc), headers={"Connection": "close"})


async def _bad_content_length(request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, str(exc))


async def _body_timeout(request: Request, exc: Exception) -> JSONResponse:
    return error_response(408, str(exc), headers={"Connection": "close"})


async def _image_too_large(request: Request, exc: Exception) -> JSONResponse:
    return error_response(413, str(exc))


async def _client_gone(request: Request, exc: Exception) -> JSONResponse:
    # Nobody reads this answer: the client hung up mid-body. Ordinary, so not logged as a failure.
    return error_response(400, "the client closed the connection before the whole body arrived")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _http_message(request, exc), headers=exc.headers)


def _http_message(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 404:
        return f"no such page or endpoint: {request.url.path}; available: {ENDPOINTS}"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "another method")
        return f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    return str(exc.detail)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, f"invalid request: {describe_validation(exc.errors())}")


def describe_validation(errors: Sequence[Any]) -> str:
    """Pydantic's validation errors as one line: where each is and what is wrong."""
    return "; ".join(_describe(error) for error in errors)


def _describe(error: Any) -> str:
    where = " ".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid value')}".strip(": ")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error; the server log has the details")

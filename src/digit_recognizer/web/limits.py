"""A cap on request body size, enforced before and while the body arrives.

Checking Content-Length alone is not enough: a chunked upload declares no length,
so the bytes are also counted as they stream in. Doing it in a tiny ASGI
middleware keeps the rule in one place for every route, including multipart
parsing, at the cost of a header scan per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024


class BodyTooLarge(Exception):
    """The request body is over the limit; the app's handler turns this into a JSON 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(too_large_message(limit))
        self.limit = limit


class BadContentLength(Exception):
    """The Content-Length header is not a non-negative integer."""


def too_large_message(limit: int) -> str:
    return (
        f"the request body is larger than the limit of {limit:,} bytes ({limit / 1024 / 1024:g} MB); "
        "send a smaller image (a digit needs no more than a few hundred pixels a side)"
    )


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes by header, and count the bytes that stream in."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = declared_length(scope)
        except BadContentLength as malformed:
            await self.app(scope, _raising(malformed), send)
            return
        if declared is not None and declared > self.limit:
            await self.app(scope, _raising(BodyTooLarge(self.limit)), send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        return counting_receive


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header as an int, None when absent; BadContentLength when malformed."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise BadContentLength(f"Content-Length must be a number of bytes, got {value.decode('latin-1')!r}")
            return int(value)
    return None


def _raising(error: Exception) -> Receive:
    """A receive() that fails as soon as a route reads the body, so the route's error handlers answer."""

    async def receive() -> Message:
        raise error

    return receive

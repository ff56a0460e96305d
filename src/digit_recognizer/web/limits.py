"""What one request may cost: its body's size and arrival time, and its image's pixel count.

Body: checking Content-Length alone is not enough: a chunked upload declares no
length, so the bytes are also counted as they stream in, and the whole body must
arrive within a deadline (a client dripping a byte a second would otherwise hold a
connection and a task forever). A tiny ASGI middleware keeps both rules in one place
for every route, including multipart parsing, at the cost of a header scan per request.

Pixels: a 48 KB palette PNG can hold 7000x7000 pixels and take two gigabytes and
seconds to decode. The image header says its size; Pillow reads only the header on
``Image.open``, so oversized images are refused before any pixel is decoded. A digit
needs a few hundred pixels a side; the cap leaves room for photos of a page.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..imagefile import TooManyPixels, open_header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_BODY_TIMEOUT = 30.0  # seconds for a whole body: 5 MB at 170 KB/s; a drawing is 5-50 KB
DEFAULT_MAX_PIXELS = 4_000_000  # decoded pixels per image (2000x2000); a digit needs far fewer


class BodyTooLarge(Exception):
    """The request body is over the limit; the app's handler turns this into a JSON 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(too_large_message(limit))
        self.limit = limit


class BadContentLength(Exception):
    """The Content-Length header is not a non-negative integer."""


class BodyTimeout(Exception):
    """The body did not arrive in time; the app's handler turns this into a JSON 408."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the request body did not arrive within {seconds:g} s; send it at once "
            "(or start the server with a longer --body-timeout for slow links)"
        )


class ImageTooLarge(Exception):
    """The image header declares more pixels than the cap; answered with a JSON 413."""

    def __init__(self, width: int, height: int, limit: int) -> None:
        size = f"{width}x{height} pixels ({width * height / 1e6:.1f} megapixels)" if width else "hundreds of megapixels"
        super().__init__(
            f"the image is {size}, more than this server's "
            f"limit of {limit / 1e6:g} megapixels; shrink or crop it to the digit (a few hundred pixels a side is "
            "plenty; the drawing page at / shrinks photos itself before sending them)"
        )


def too_large_message(limit: int) -> str:
    return (
        f"the request body is larger than the limit of {limit:,} bytes ({limit / 1024 / 1024:g} MB); "
        "send a smaller image (a digit needs no more than a few hundred pixels a side)"
    )


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes by header, count the bytes that stream in,
    and give the whole body ``timeout`` seconds from the end of the headers."""

    def __init__(
        self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY_BYTES, timeout: float = DEFAULT_BODY_TIMEOUT
    ) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

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
        """``receive`` with the body counted and its deadline; once the body is in, no deadline.

        After the body a route may still call receive() to learn of a disconnect while it
        streams a response (Starlette's FileResponse does): that wait is not the body's.
        """
        received = 0
        done = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout

        async def counting_receive() -> Message:
            nonlocal received, done
            if done:
                return await receive()
            try:
                message = await _within(receive(), deadline)
            except asyncio.TimeoutError:
                raise BodyTimeout(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        return counting_receive


async def _within(pending: Awaitable[Message], deadline: float) -> Message:
    """``await pending`` by the loop-time ``deadline``; asyncio.TimeoutError after it.

    asyncio.timeout (3.11+) arms one timer; wait_for, the fallback, wraps a task per call.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout_at(deadline):
            return await pending
    return await asyncio.wait_for(pending, max(0.0, deadline - asyncio.get_running_loop().time()))


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


@dataclass(frozen=True)
class Header:
    """What an image's header says: enough to refuse it, or to guess what decoding it costs."""

    pixels: int
    mode: str = ""  # Pillow's mode: "L" (gray), "RGB", "RGBA", "P" (palette), ...


def check_pixels(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Header:
    """The image's declared size and mode; ImageTooLarge when it has more than ``max_pixels``.

    Only the header is read, through the same allow-list as every image
    (``imagefile``): nothing is decoded, so a bomb costs microseconds. A file of
    another format (EPS, ICO, BLP, ...) or a damaged header raises ImageError.
    """
    try:
        image = open_header(data, max_pixels)
    except TooManyPixels as refused:
        raise ImageTooLarge(refused.width, refused.height, max_pixels) from None
    with image:
        return Header(image.size[0] * image.size[1], image.mode)

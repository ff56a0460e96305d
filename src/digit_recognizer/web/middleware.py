"""Small ASGI layers wrapped around the whole app, so that they hold for every response.

- :class:`SecurityHeaders`: the page, its static files, the API, the docs and every
  error carry the same browser protections (a route may set its own CSP, as /docs does);
- :class:`HeadAsGet`: HEAD answers exactly like GET without the body (FastAPI routes
  declare GET only and would answer 405);
- :class:`JsonErrors`: error answers produced below the app's own handlers (Starlette's
  trusted-host check answers in plain text) are rewritten as ``{"error", "status"}``;
- :class:`FileSlots`: at most ``slots`` static files are sent at once. Each holds a
  file descriptor while it streams, and a client that stops reading holds it until
  the send deadline: without a bound, 1,100 slow readers of the docs' bundle used up
  the process's descriptors and broke every other request.

They wrap the app from outside FastAPI's own error middleware (see ``server.App``),
so even an unexpected 500 passes through them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus

from .limits import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
SECURITY_HEADERS: dict[str, str] = {
    # The page loads nothing from elsewhere; say so to the browser as well.
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Add SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = [(name.encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """Answer HEAD as GET, keeping the headers (Content-Length included) and dropping the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


class JsonErrors:
    """Rewrite error responses that are not JSON as ``{"error": text, "status": code}``.

    ``explain`` maps a library's terse text (b"Invalid host header") to a sentence that
    says what to do.
    """

    def __init__(self, app: ASGIApp, explain: Mapping[bytes, str] | None = None) -> None:
        self.app = app
        self.explain = dict(explain or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()

        async def send_json(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400 and not _is_json(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_as_json(held, bytes(body), send)

        await self.app(scope, receive, send_json)

    async def _send_as_json(self, start: Message, text: bytes, send: Send) -> None:
        status = int(start["status"])
        message = self.explain.get(text.strip()) or text.decode("utf-8", "replace").strip() or _phrase(status)
        payload = json.dumps({"error": message, "status": status}).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": payload, "more_body": False})


def _is_json(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/json")
    return False


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


class FileSlots:
    """Send at most ``slots`` static files at once (paths under ``prefixes``, or exactly ``exact``).

    A request that finds every slot taken is answered 503 at once rather than queued:
    a queued request keeps its connection busy, and busy connections cannot be shed
    to make room for others at the connection cap.
    """

    def __init__(self, app: ASGIApp, slots: int, prefixes: Sequence[str] = (), exact: Sequence[str] = ()) -> None:
        self.app = app
        self.free = slots
        self.prefixes, self.exact = tuple(prefixes), frozenset(exact)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path in self.exact or path.startswith(self.prefixes)):
            await self.app(scope, receive, send)
            return
        if self.free <= 0:
            await _busy(send)
            return
        self.free -= 1  # one event loop per process: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.free += 1


async def _busy(send: Send) -> None:
    payload = json.dumps({"error": "the server is sending many files at once; retry in a moment", "status": 503})
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", b"2"),
        (b"content-length", b"%d" % len(payload)),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": payload.encode(), "more_body": False})

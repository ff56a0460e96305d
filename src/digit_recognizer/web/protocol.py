"""The guards uvicorn lacks at the connection level, so that no client can stall the server.

uvicorn (0.54, httptools parser) has a keep-alive timeout but no deadline for a
request's *headers*, no cap on their size, and its ``limit_concurrency`` answers
503 to everyone once idle connections fill it. Three attacks follow: many
connections that never finish their headers (slowloris) use up the process's file
descriptors; one endless header grows the parser's buffers and blocks the loop; and
idle connections are never closed. :class:`GuardedHttpToolsProtocol` is uvicorn's
own httptools protocol with three additions:

- **header deadline**: from the connection (or the first byte of the next request
  on a kept-alive connection) to the end of the headers: ``header_timeout`` seconds,
  else a JSON 408 and the connection is closed;
- **header size**: more than ``max_header_bytes`` before the headers end: a JSON
  431 and close, before the parser sees them (counted before parsing, so that a
  100 KB header sent in one write is refused like one sent in pieces);
- **connection cap**: at ``max_connections`` open connections, a new one *sheds
  the connection that has waited longest for its headers* (an attacker's, since a
  real client sends its headers at once) instead of being refused; only when every
  connection has a request in progress is the newcomer refused with a JSON 503;
- **send deadline**: a client that stops reading its response (a slow reader of a
  large file holds a task and the unsent bytes) is cut off once writing has been
  paused for ``send_timeout`` seconds, and at the connection cap such stalled
  connections are shed like idle ones.

It also answers uvicorn's "malformed request" 400 as JSON, like every other error.
The request *body* deadline lives in the app (``limits.BodyLimit``), which sees it.

Limits reach worker processes (``--workers N``) through the environment, see
:func:`configure_from_env`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import struct
import time
from dataclasses import asdict, dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LIMITS_ENV = "DIGITS_CONNECTION_LIMITS"  # JSON of ConnectionLimits, for worker processes
FD_RESERVE = 100  # descriptors kept free for the model, logs, threads and accept() itself
FILE_SLOTS = 64  # static files open at once (middleware.FileSlots): their descriptors are reserved too


@dataclass(frozen=True)
class ConnectionLimits:
    """Per worker process. The defaults suit a public server; each is a `digits serve` option."""

    header_timeout: float = 10.0  # seconds to send a request's headers
    max_header_bytes: int = 32 * 1024  # request line + headers (nginx allows 4 x 8 KB)
    max_connections: int = 1000  # open connections; lowered to fit the process's file limit
    send_timeout: float = 20.0  # seconds a response may wait for its client to read on


_limits = ConnectionLimits()


def configure(limits: ConnectionLimits) -> ConnectionLimits:
    """Use ``limits`` for every connection of this process, capped to what its file limit allows."""
    global _limits
    _limits = ConnectionLimits(
        header_timeout=limits.header_timeout,
        max_header_bytes=limits.max_header_bytes,
        max_connections=min(limits.max_connections, connections_the_file_limit_allows()),
        send_timeout=limits.send_timeout,
    )
    os.environ[LIMITS_ENV] = json.dumps(asdict(limits))  # worker processes inherit the environment
    return _limits


def configure_from_env() -> ConnectionLimits:
    """In a worker process: the limits the parent configured (defaults when it set none)."""
    text = os.environ.get(LIMITS_ENV)
    return configure(ConnectionLimits(**json.loads(text)) if text else ConnectionLimits())


def connections_the_file_limit_allows() -> int:
    """Raise the soft open-file limit to the hard one (as nginx does) and leave a reserve.

    A process that runs out of descriptors cannot accept() at all: the cap must bite
    first, so that shedding an idle connection always frees room for a real one.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return 1_000_000
    return max(16, int(soft) - FD_RESERVE - FILE_SLOTS)


def raw_json_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, for errors before the app is involved."""
    body = json.dumps({"error": message, "status": status}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a header size cap and a shedding connection cap."""

    _header_timer: asyncio.TimerHandle | None = None
    _waiting_since: float | None = None  # when this connection started waiting for a request's headers
    _header_bytes = 0
    _send_timer: asyncio.TimerHandle | None = None
    _stalled_since: float | None = None  # when writing was paused: the client stopped reading
    _in_body = False  # between a request's headers and its end: the bytes are body, not headers
    _cycles: list[Any]  # this connection's requests not yet answered (pipelined ones included)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._cycles = []
        super().connection_made(transport)
        self._waiting_since = time.monotonic()
        self._start_header_timer()
        if len(self.connections) > _limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disconnect_cycles()
        self._stop_header_timer()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._waiting_since is not None and self._header_timer is None:  # a kept-alive connection's next request
            self._start_header_timer()
        if self._waiting_since is not None and not self._in_body and self._headers_over_cap(data):
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"the request line and headers are over {_limits.max_header_bytes:,} bytes; send fewer or "
                "shorter headers",
            )
            return
        super().data_received(data)

    def _headers_over_cap(self, data: bytes) -> bool:
        """Count the bytes up to the end of the headers in ``data`` (all of it while they go on)."""
        ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0]
        self._header_bytes += min(ends) if ends else len(data)
        return self._header_bytes > _limits.max_header_bytes

    def pause_writing(self) -> None:
        super().pause_writing()
        self._stalled_since = time.monotonic()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(_limits.send_timeout, self._send_too_slow)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stalled_since = None
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_too_slow(self) -> None:
        """The client has read nothing for ``send_timeout`` seconds: drop it (an answer could not reach it)."""
        self._send_timer = None
        if self._stalled_since is not None:
            self._cut_off()

    def _cut_off(self) -> None:
        """Drop the connection at once, unsent bytes and all; the response being sent learns it first.

        Marked before the abort: aborting resumes writing, and a response that wrote
        to the dead transport would raise (a traceback per connection).
        """
        self._disconnect_cycles()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # linger 0: a reset now, so the kernel drops the unsent bytes too
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _disconnect_cycles(self) -> None:
        """Tell every unfinished response of this connection that its client is gone.

        uvicorn tells only the newest; with pipelined requests an older one may be the
        one sending, and it would write to the closed transport.
        """
        self._cycles = [c for c in self._cycles if not c.response_complete]
        for cycle in self._cycles:
            cycle.disconnected = True
            cycle.message_event.set()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        self._waiting_since = None
        self._header_bytes = 0
        self._in_body = True
        super().on_headers_complete()
        if self.cycle is not None:
            self._cycles = [*(c for c in self._cycles if not c.response_complete), self.cycle]

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.pipeline and not self.transport.is_closing():
            self._waiting_since = time.monotonic()  # idle: the keep-alive timeout runs, and it may be shed

    def send_400_response(self, msg: str) -> None:
        self.transport.write(
            raw_json_response(
                400,
                "Bad Request",
                "malformed HTTP request (request line, a header or Content-Length is not valid HTTP/1.1); "
                "check what the client sends",
            )
        )
        self.transport.close()

    # -- the guards ---------------------------------------------------------------------

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(_limits.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiting_since is not None and self._is_idle():
            self._refuse(
                408,
                "Request Timeout",
                f"the request headers did not arrive within {_limits.header_timeout:g} s; send the whole request "
                "at once",
            )

    def _is_idle(self) -> bool:
        """No request of this connection is being answered (a pipelined one may be)."""
        return self.cycle is None or self.cycle.response_complete

    def _refuse(self, status: int, reason: str, message: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(raw_json_response(status, reason, message))
            self.transport.close()

    def _make_room(self) -> None:
        """Over the cap: close the connection that has waited longest for headers or for its client
        to read, else refuse this one."""
        waiting = [c for c in self.connections if isinstance(c, GuardedHttpToolsProtocol) and c._sheddable()]
        oldest = min(waiting, key=_idle_since, default=None)
        if oldest is None or oldest is self:
            self._refuse(
                503,
                "Service Unavailable",
                f"the server is answering {len(self.connections) - 1} connections, its limit; retry in a moment",
            )
        else:
            stalled = oldest._stalled_since is not None
            oldest._waiting_since = oldest._stalled_since = None  # not a candidate twice before it leaves the set
            oldest._stop_header_timer()
            if stalled:
                oldest._cut_off()  # close() would wait for the unread bytes to drain
            else:
                oldest.transport.close()

    def _sheddable(self) -> bool:
        return (self._waiting_since is not None and self._is_idle()) or self._stalled_since is not None


def _idle_since(connection: Any) -> float:
    """Since when a sheddable connection has done nothing: waited for headers, or for its client to read."""
    return float(connection._stalled_since if connection._stalled_since is not None else connection._waiting_since)

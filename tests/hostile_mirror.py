"""A loopback HTTP mirror that misbehaves on purpose, for the download tests and benchmarks.

The first path segment picks the behaviour, the rest names the file::

    /ok/NAME        the file, as a normal mirror would
    /drip/NAME      the file's true Content-Length, then one byte every ``drip_seconds``
    /endless/NAME   zeros without end (no Content-Length)
    /bomb/NAME      ``bomb``: a small gzip that decompresses to gigabytes
    /silent/NAME    reads the request and never answers

``dead_url()`` is a loopback port where nothing listens.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import zlib
from types import TracebackType


def gzip_bomb(gigabytes: float) -> bytes:
    """A gzip file of zeros that inflates to ``gigabytes`` GB (about 1 MB compressed per GB)."""
    packer = zlib.compressobj(9, wbits=31)
    block = bytes(1 << 24)
    parts = [packer.compress(block) for _ in range(int(gigabytes * (1 << 30)) >> 24)]
    return b"".join(parts) + packer.flush()


def dead_url() -> str:
    """An http URL on loopback where nothing listens (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class HostileMirror:
    """``with HostileMirror(files) as mirror: mirror.url("drip")`` -> a base URL for that behaviour."""

    def __init__(self, files: dict[str, bytes], *, drip_seconds: float = 5.0, bomb: bytes = b"") -> None:
        self.files, self.drip_seconds, self.bomb = files, drip_seconds, bomb
        self.stopping = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{behaviour}/"

    def __enter__(self) -> HostileMirror:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def _handler_for(mirror: HostileMirror) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            _, behaviour, name = self.path.split("/", 2)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                getattr(self, "_" + behaviour)(name)

        def _ok(self, name: str) -> None:
            body = mirror.files.get(name)
            if body is None:
                self.send_error(404)
                return
            self._head(len(body))
            self.wfile.write(body)

        def _drip(self, name: str) -> None:
            body = mirror.files[name]
            self._head(len(body))
            for i in range(len(body)):
                if mirror.stopping.wait(mirror.drip_seconds):
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()

        def _endless(self, name: str) -> None:
            self._head(None)
            block = bytes(1 << 16)
            while not mirror.stopping.is_set():
                self.wfile.write(block)

        def _bomb(self, name: str) -> None:
            self._head(len(mirror.bomb))
            self.wfile.write(mirror.bomb)

        def _silent(self, name: str) -> None:
            mirror.stopping.wait(600)

        def _head(self, length: int | None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()

    return Handler

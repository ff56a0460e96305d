"""Hostile and unlucky clients of `digits serve`, for tests/test_web_attacks.py and benchmarks/bench_reliability.py.

Each attack is a context manager that starts when entered and stops (closing every
socket it opened) when left; meanwhile the caller times ordinary requests. They use
plain sockets and threads, so they need nothing but the standard library, Pillow
and httpx.

    with SlowHeaders("127.0.0.1", 8000, connections=1030):
        seconds = ordinary_request("http://127.0.0.1:8000")
"""

from __future__ import annotations

import http.client
import io
import json
import resource
import selectors
import socket
import threading
import time
from types import TracebackType

import httpx
from PIL import Image, ImageDraw


def raise_open_file_limit(needed: int) -> bool:
    """Let this process open ``needed`` sockets (soft limit up to the hard one); False when it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed + 64:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed + 64, soft))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return False
        soft = target
    return soft == resource.RLIM_INFINITY or soft >= needed + 64


def drawn_seven() -> bytes:
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(75, 60), (205, 60), (120, 235)], fill=0, width=18, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


_SEVEN = drawn_seven()


def ordinary_request(url: str, timeout: float = 30) -> float:
    """Seconds for what a normal client does: POST a drawn 7 on a new connection; raises unless it reads a 7.

    Plain http.client: creating an httpx client costs more than the request itself.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("POST", "/api/predict", body=_SEVEN, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        status, body = response.status, response.read()
    except OSError as exc:
        raise AssertionError(f"ordinary request failed: {exc!r}") from None
    finally:
        connection.close()
    elapsed = time.perf_counter() - started
    if status != 200 or json.loads(body).get("digit") != 7:
        raise AssertionError(f"ordinary request answered {status}: {body[:200]!r}")
    return elapsed


def palette_bomb_png(side: int = 7000) -> bytes:
    """A palette PNG of side x side pixels that compresses to tens of kilobytes (the issue's 48 KB bomb)."""
    image = Image.new("P", (side, side), 0)
    image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    ImageDraw.Draw(image).line([(side // 4, side // 4), (side * 3 // 4, side * 3 // 4)], fill=1, width=side // 20)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True, transparency=0)
    return buffer.getvalue()


def big_jpeg(megapixels: float = 50) -> bytes:
    """A real JPEG of about ``megapixels`` (a plain page with a stroke): under a MB, like the issue's photo."""
    width = int((megapixels * 1e6 * 1.5) ** 0.5)
    height = int(megapixels * 1e6 / width)
    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).line([(width // 3, height // 3), (width // 2, height * 2 // 3)], fill=0, width=40)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


class Attack:
    """A background thread that runs ``attack`` until the context is left; counts what it sees."""

    name = "attack"

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.answers: dict[int, int] = {}  # status -> count, for attacks that get answers
        self.error: BaseException | None = None
        self.ready = threading.Event()  # set by attack() once it is fully mounted

    def __enter__(self) -> Attack:
        self.thread.start()
        self.ready.wait(timeout=60)
        time.sleep(self.settle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    settle = 1.0  # seconds between starting the attack and the first ordinary request

    def _run(self) -> None:
        try:
            self.attack()
        except BaseException as exc:  # reported by the caller, not lost in the thread
            self.error = exc
        finally:
            self.ready.set()

    def attack(self) -> None:
        raise NotImplementedError

    def count(self, status: int) -> None:
        self.answers[status] = self.answers.get(status, 0) + 1

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=5)


class SlowHeaders(Attack):
    """Slowloris: ``connections`` sockets that send a header line now and then and never end their headers.

    Closed sockets are reopened at once, as a real slowloris does.
    """

    name = "slow headers"

    def __init__(self, host: str, port: int, connections: int = 1030, every: float = 1.0) -> None:
        super().__init__(host, port)
        self.connections, self.every = connections, every
        self.opened = 0

    def attack(self) -> None:
        selector = selectors.DefaultSelector()
        try:
            while len(selector.get_map()) < self.connections and not self.stop.is_set():
                self._open(selector)
            self.ready.set()
            while not self.stop.is_set():
                deadline = time.monotonic() + self.every
                while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
                    for key, _ in selector.select(timeout=min(left, 0.2)):
                        self._closed_by_server(selector, key.fileobj)  # type: ignore[arg-type]
                for key in list(selector.get_map().values()):
                    self._send(selector, key.fileobj, b"X-a: b\r\n")  # type: ignore[arg-type]
        finally:
            for key in list(selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _open(self, selector: selectors.BaseSelector) -> None:
        try:
            sock = self.connect()
        except OSError:
            time.sleep(0.05)
            return
        self.opened += 1
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        self._send(selector, sock, self.first_bytes())

    def first_bytes(self) -> bytes:
        return b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n"

    def _send(self, selector: selectors.BaseSelector, sock: socket.socket, data: bytes) -> None:
        if not data:
            return
        try:
            sock.send(data)
        except OSError:
            self._closed_by_server(selector, sock)

    def _closed_by_server(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        try:
            answer = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            answer = b""
        if answer.startswith(b"HTTP/1.1 "):
            self.count(int(answer[9:12]))
        selector.unregister(sock)
        sock.close()
        if not self.stop.is_set():
            self._open(selector)


class IdleConnections(SlowHeaders):
    """``connections`` sockets that connect and send nothing at all (reopened when closed)."""

    name = "idle connections"

    def first_bytes(self) -> bytes:
        return b""

    def _send(self, selector: selectors.BaseSelector, sock: socket.socket, data: bytes) -> None:
        pass  # never a byte


class EndlessHeader(Attack):
    """One connection that streams a header value without end, as fast as the server reads it."""

    name = "endless header"

    def attack(self) -> None:
        chunk = b"a" * 4096
        self.ready.set()
        while not self.stop.is_set():
            with self.connect() as sock:
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Endless: ")
                try:
                    while not self.stop.is_set():
                        sock.sendall(chunk)
                except OSError:
                    pass
                try:
                    answer = sock.recv(4096)
                except OSError:
                    answer = b""
                self.count(int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0)


class SlowBody(Attack):
    """``connections`` uploads that declare 100 KB and drip one byte a second."""

    name = "slow body"

    def __init__(self, host: str, port: int, connections: int = 50) -> None:
        super().__init__(host, port)
        self.connections = connections

    def attack(self) -> None:
        head = (
            b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
        )
        socks = []
        try:
            for _ in range(self.connections):
                sock = self.connect()
                sock.sendall(head)
                socks.append(sock)
            self.ready.set()
            while not self.stop.wait(1.0):
                for sock in list(socks):
                    try:
                        sock.send(b"\0")
                    except OSError:
                        socks.remove(sock)
        finally:
            for sock in socks:
                sock.close()


class Uploads(Attack):
    """``clients`` threads that POST the same body again and again (pixel bombs, big photos)."""

    def __init__(self, host: str, port: int, body: bytes, content_type: str, name: str, clients: int = 4) -> None:
        super().__init__(host, port)
        self.body, self.content_type, self.name, self.clients = body, content_type, name, clients

    def attack(self) -> None:
        workers = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        self.ready.set()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _client(self) -> None:
        url = f"http://{self.host}:{self.port}/api/predict"
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(url, content=self.body, headers={"Content-Type": self.content_type})
                    self.count(response.status_code)
                except httpx.HTTPError:
                    self.count(0)


class SlowReaders(Attack):
    """``connections`` clients that ask for a large static file and never read the answer (reopened when cut off).

    Each asks for it ``pipelined`` times in one write, more than the kernel's socket
    buffers hold, so the server's own writes stall.
    """

    name = "slow readers"
    path = "/docs-assets/swagger-ui-bundle.js"  # the largest file the server has: 1.5 MB

    def __init__(self, host: str, port: int, connections: int = 1100, pipelined: int = 8) -> None:
        super().__init__(host, port)
        self.connections, self.pipelined = connections, pipelined
        self.opened = 0

    def attack(self) -> None:
        socks: list[socket.socket] = []
        request = f"GET {self.path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() * self.pipelined
        try:
            while not self.stop.is_set():
                socks = [s for s in socks if self._alive(s)]
                while len(socks) < self.connections and not self.stop.is_set():
                    try:
                        sock = socket.socket()
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server's writes stall
                        sock.settimeout(5)
                        sock.connect((self.host, self.port))
                        sock.sendall(request)
                    except OSError:
                        sock.close()
                        break
                    socks.append(sock)
                    self.opened += 1
                self.ready.set()
                self.stop.wait(1.0)
        finally:
            for sock in socks:
                sock.close()

    def _alive(self, sock: socket.socket) -> bool:
        """Still connected (the server has not cut it off), asked of the kernel without reading a byte."""
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]  # struct tcp_info: tcpi_state first
        if state == TCP_ESTABLISHED:
            return True
        self.count(0)
        sock.close()
        return False


TCP_ESTABLISHED = 1


def one_write_header(host: str, port: int, size: int = 100_000) -> bytes:
    """A request whose ``size``-byte header arrives in one write; returns the answer's first bytes."""
    request = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        try:
            return sock.recv(4096)
        except OSError:
            return b""


def huge_correction() -> bytes:
    """The issue's 309 KB correction: 20,000 points, pen 200, a 4000x4000 canvas (11.5 s of CPU, once)."""
    xs = [float((i * 37) % 4000) for i in range(20_000)]
    ys = [float((i * 53) % 4000) for i in range(20_000)]
    return json.dumps({"label": "1", "drawing": [[xs, ys]], "pen": 200, "width": 4000, "height": 4000}).encode()


class Posts(Uploads):
    """``clients`` threads that POST ``body`` to ``path`` again and again."""

    def __init__(self, host: str, port: int, path: str, body: bytes, content_type: str, name: str, clients: int = 4):
        super().__init__(host, port, body, content_type, name, clients)
        self.path = path

    def _client(self) -> None:
        url = f"http://{self.host}:{self.port}{self.path}"
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(url, content=self.body, headers={"Content-Type": self.content_type})
                    self.count(response.status_code)
                except httpx.HTTPError:
                    self.count(0)


class BigHeaders(Attack):
    """One client that sends a ``size``-byte header in a single write, again and again."""

    name = "big headers"

    def __init__(self, host: str, port: int, size: int = 100_000) -> None:
        super().__init__(host, port)
        self.size = size

    def attack(self) -> None:
        self.ready.set()
        while not self.stop.is_set():
            try:
                answer = one_write_header(self.host, self.port, self.size)
            except OSError:
                answer = b""
            self.count(int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0)

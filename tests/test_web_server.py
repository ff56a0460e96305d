"""`digits serve` as a real process on loopback: start it, wait for /api/health, talk HTTP to it."""

from __future__ import annotations

import io
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from digit_recognizer.recognizer import shipped_model_path

BODY_LIMIT_MB = 0.05  # small, so the over-limit tests send little


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


def model_for_tests() -> Path:
    path = Path(os.environ.get("DIGITS_TEST_MODEL") or shipped_model_path())
    assert path.is_file(), f"model {path} not found: the shipped model must be in the package"
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "digit_recognizer", "serve", *args]


def run_command(**options: object) -> list[str]:
    """`digits serve` through the library call, for the options the CLI does not expose."""
    call = f"import sys; from digit_recognizer.web.server import run; sys.exit(run(**{options!r}))"
    return [sys.executable, "-c", call]


def start_server(
    log: Path,
    *args: str,
    run_options: dict[str, object] | None = None,
    timeout: float = 30,
    open_files: int | None = None,
) -> Server:
    """Run `digits serve ARGS` (or `run(**run_options)`) on a free port; return once /api/health answers.

    ``open_files``: the server's open-file limit, soft and hard (1,024 is a common default).
    """
    port = free_port()
    env = {**os.environ, "DIGITS_MAX_BODY_MB": str(BODY_LIMIT_MB), "PYTHONUNBUFFERED": "1"}
    if run_options is None:
        command = serve_command("--port", str(port), "--model", str(model_for_tests()), *args)
    else:
        command = run_command(port=port, model=str(model_for_tests()), **run_options)
    with log.open("wb") as out:
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))) if open_files else None
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=limit)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"digits serve exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    stop_server(server)
    raise AssertionError(f"digits serve did not answer /api/health within {timeout} s:\n{server.output()}")


def stop_server(server: Server) -> int:
    """Ctrl+C, as a user would; returns the exit status."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


def one_png() -> bytes:
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(75, 60), (205, 60), (120, 235)], fill=0, width=18, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve") / "serve.log")
    yield running
    stop_server(running)


# --------------------------------------------------------------------------- one worker


def test_serve_prints_the_address_to_open_on_loopback(server: Server) -> None:
    output = server.output()
    assert f"Open {server.url}/" in output
    assert "listening on 127.0.0.1:" in output, "binds to loopback unless told otherwise"


def test_real_server_answers_a_posted_png(server: Server) -> None:
    response = httpx.post(f"{server.url}/api/predict", content=one_png(), headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    assert set(response.json()) >= {"path", "digit", "confidence", "probabilities"}


def test_real_server_serves_the_page(server: Server) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 200
    assert "Digit recognizer" in response.text


def test_real_server_refuses_a_declared_length_over_the_limit(server: Server) -> None:
    body = b"\0" * int(BODY_LIMIT_MB * 1024 * 1024 * 2)
    response = httpx.post(f"{server.url}/api/predict", content=body, headers={"Content-Type": "image/png"})
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_real_server_counts_a_chunked_upload_and_refuses_it_over_the_limit(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"\0" * 16_384

    response = httpx.post(f"{server.url}/api/predict", content=chunks(), headers={"Content-Type": "image/png"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_real_server_keeps_serving_after_errors(server: Server) -> None:
    httpx.post(f"{server.url}/api/predict", content=b"junk", headers={"Content-Type": "image/png"})
    assert httpx.get(f"{server.url}/api/health").json()["status"] == "ok"


# --------------------------------------------------------------------------- start-up and shutdown


def test_two_workers_share_the_port_and_answer(tmp_path: Path) -> None:
    running = start_server(tmp_path / "serve.log", "--workers", "2")
    try:
        for _ in range(4):
            response = httpx.post(
                f"{running.url}/api/predict", content=one_png(), headers={"Content-Type": "image/png"}
            )
            assert response.status_code == 200
        assert "2 worker(s)" in running.output()
    finally:
        assert stop_server(running) == 0


def test_run_options_set_the_body_limit_and_turn_the_access_log_on(tmp_path: Path) -> None:
    running = start_server(tmp_path / "serve.log", run_options={"max_body_mb": 0.001, "access_log": True})
    try:
        response = httpx.post(f"{running.url}/api/predict", content=b"\0" * 2000, headers={"Content-Type": "image/png"})
        assert response.status_code == 413
        assert "1,048 bytes" in response.json()["error"]
    finally:
        stop_server(running)
    assert '"POST /api/predict HTTP/1.1" 413' in running.output()


def test_ctrl_c_stops_the_server_cleanly(tmp_path: Path) -> None:
    running = start_server(tmp_path / "serve.log")
    assert stop_server(running) == 0
    assert "Traceback" not in running.output()


def test_missing_model_exits_2_with_the_fix(tmp_path: Path) -> None:
    done = subprocess.run(
        serve_command("--port", str(free_port()), "--model", str(tmp_path / "absent.onnx")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "absent.onnx not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_busy_port_is_reported_with_another_port_to_try(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    done = subprocess.run(
        serve_command("--port", port, "--model", str(model_for_tests())), capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert f"--port {int(port) + 1}" in done.stderr

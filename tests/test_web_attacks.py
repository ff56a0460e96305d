"""`digits serve` under attack, on a real socket: ordinary requests keep being answered.

Each test mounts one attack from tests/attacks.py against a server whose open-file
limit is the common 1,024, then sends ordinary requests (a drawn 7, on a new
connection) and checks they are answered correctly. Timings are not asserted here
(benchmarks/bench_reliability.py prints them); a generous client timeout stands for
"answered" and the server's log must stay free of tracebacks.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from attacks import (
    EndlessHeader,
    IdleConnections,
    Posts,
    SlowBody,
    SlowHeaders,
    SlowReaders,
    Uploads,
    big_jpeg,
    huge_correction,
    one_write_header,
    ordinary_request,
    palette_bomb_png,
    raise_open_file_limit,
)
from hostile_files import DECODER_FAILURES, ico_wrapping_png, looping_eps
from test_hostile_files import fake_ghostscript
from test_web_server import Server, free_port, model_for_tests, serve_command, start_server, stop_server

OPEN_FILES = 1024  # the server's limit: the common default that 1,030 slowloris connections used to exhaust
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
SEND_TIMEOUT = 2
ORDINARY = 10  # ordinary requests during an attack: each must be answered within this many seconds


@pytest.fixture(scope="module")
def ghostscript_mark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The server runs with a fake `gs` first on its PATH, which leaves this mark if it is ever started."""
    folder = tmp_path_factory.mktemp("fake-gs")
    env, mark = fake_ghostscript(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", env["PATH"])
        yield mark


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ghostscript_mark: Path) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("attacks") / "serve.log",
        "--header-timeout",
        str(HEADER_TIMEOUT),
        "--body-timeout",
        str(BODY_TIMEOUT),
        "--send-timeout",
        str(SEND_TIMEOUT),
        open_files=OPEN_FILES,
    )
    yield running
    stop_server(running)
    assert "Traceback" not in running.output(), running.output()


def host_port(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def answered_during(server: Server, count: int = 5) -> list[float]:
    return [ordinary_request(server.url, timeout=ORDINARY) for _ in range(count)]


def raw_exchange(server: Server, request: bytes, wait: float = 10) -> bytes:
    with socket.create_connection(host_port(server), timeout=wait) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def json_body(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return dict(json.loads(body))


# --------------------------------------------------------------------------- connections


def test_1030_slowloris_connections_do_not_stop_ordinary_requests(server: Server) -> None:
    if not raise_open_file_limit(1100):
        pytest.skip("this test process cannot open 1,100 sockets")
    with SlowHeaders(*host_port(server), connections=1030) as attack:
        assert len(answered_during(server, 23)) == 23
    assert attack.error is None and attack.opened >= 1030


def test_1030_idle_connections_do_not_stop_ordinary_requests(server: Server) -> None:
    if not raise_open_file_limit(1100):
        pytest.skip("this test process cannot open 1,100 sockets")
    with IdleConnections(*host_port(server), connections=1030) as attack:
        assert len(answered_during(server, 23)) == 23
    assert attack.error is None and attack.opened >= 1030


def test_endless_header_is_cut_with_json_431_while_others_are_answered(server: Server) -> None:
    with EndlessHeader(*host_port(server)) as attack:
        answered_during(server)
    assert attack.answers.get(431, 0) >= 1, attack.answers


def test_headers_not_finished_in_time_get_json_408(server: Server) -> None:
    answer = raw_exchange(server, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert "within 2 s" in str(json_body(answer)["error"])


def test_idle_connection_is_closed_after_the_header_timeout(server: Server) -> None:
    answer = raw_exchange(server, b"")
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b""


def test_body_that_drips_gets_408_while_others_are_answered(server: Server) -> None:
    with SlowBody(*host_port(server), connections=20):
        answered_during(server)
    head = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n\x89PNG"
    answer = raw_exchange(server, head, wait=BODY_TIMEOUT + 10)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert "--body-timeout" in str(json_body(answer)["error"])


# --------------------------------------------------------------------------- images


def test_palette_png_bombs_are_refused_with_413_while_others_are_answered(server: Server) -> None:
    bomb = palette_bomb_png(7000)
    assert len(bomb) < 200_000
    with Uploads(*host_port(server), bomb, "image/png", "pixel bombs", clients=4) as attack:
        answered_during(server)
    assert set(attack.answers) == {413}, attack.answers


def test_50_megapixel_jpegs_are_refused_with_413_while_others_are_answered(server: Server) -> None:
    with Uploads(*host_port(server), big_jpeg(50), "image/jpeg", "big JPEG", clients=2) as attack:
        answered_during(server)
    assert set(attack.answers) == {413}, attack.answers


def test_an_eps_sent_as_png_is_refused_without_ghostscript_and_health_stays_true(
    server: Server, ghostscript_mark: Path
) -> None:
    for _ in range(2):
        answer = httpx.post(f"{server.url}/api/predict", content=looping_eps(), headers={"Content-Type": "image/png"})
        assert answer.status_code == 422 and "EPS format" in answer.json()["error"]
    answered_during(server, 3)
    assert httpx.get(f"{server.url}/api/health").json()["ready"] is True
    assert not ghostscript_mark.exists()


def test_files_no_decoder_can_read_are_422s_while_others_are_answered(server: Server) -> None:
    for name, make in DECODER_FAILURES.items():
        answer = httpx.post(
            f"{server.url}/api/predict?multi=true", content=make() or b"x", headers={"Content-Type": "image/png"}
        )
        assert answer.status_code in (200, 422), (name, answer.text)
    answered_during(server, 3)


def test_icons_wrapping_huge_pngs_are_refused_while_others_are_answered(server: Server) -> None:
    with Uploads(*host_port(server), ico_wrapping_png(12000), "image/png", "ICO bombs", clients=6) as attack:
        answered_during(server)
    assert set(attack.answers) == {422}, attack.answers


def test_huge_corrections_are_refused_at_once_while_others_are_answered(server: Server) -> None:
    body = huge_correction()
    with Posts(*host_port(server), "/api/corrections", body, "application/json", "corrections", clients=6) as attack:
        answered_during(server)
    assert set(attack.answers) == {403}, attack.answers  # this server stores none: refused before the body


def test_corrections_are_refused_before_a_5_mb_body_is_sent(server: Server) -> None:
    head = b"POST /api/corrections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 5000000\r\n\r\n"
    with socket.create_connection(host_port(server), timeout=10) as sock:
        sock.sendall(head + b"[" * 1000)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:100]


def test_slow_readers_of_a_large_file_are_cut_off_while_others_are_answered(server: Server) -> None:
    with SlowReaders(*host_port(server), connections=200) as attack:
        answered_during(server)
        assert httpx.get(f"{server.url}/api/health", timeout=ORDINARY).status_code == 200
        threading.Event().wait(SEND_TIMEOUT + BODY_TIMEOUT)  # past both deadlines: no traceback may follow
    assert attack.opened >= 200 and attack.answers.get(0, 0) > 0, (attack.opened, attack.answers)
    answered_during(server, 3)


def test_a_100_kb_header_in_one_write_gets_json_431(server: Server) -> None:
    answer = one_write_header(*host_port(server), 100_000)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


# --------------------------------------------------------------------------- HTTP details over the wire


def test_malformed_content_length_gets_json_400(server: Server) -> None:
    answer = raw_exchange(server, b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert "Content-Length" in str(json_body(answer)["error"])


def test_head_is_answered_like_get(server: Server) -> None:
    response = httpx.head(f"{server.url}/api/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_static_files_carry_the_security_headers(server: Server) -> None:
    response = httpx.get(f"{server.url}/static/index.html")
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--max-body-mb", "nan", "positive finite number"),
        ("--max-body-mb", "inf", "positive finite number"),
        ("--port", "70000", "1-65535"),
        ("--port", "http", "whole number"),
        ("--workers", "0", "at least 1"),
        ("--header-timeout", "-1", "positive"),
        ("--max-megapixels", "0", "positive"),
        ("--cors", "example.org", "https://example.org"),
        ("--allowed-hosts", "ex*ample.org", "*.example.org"),
    ],
)
def test_bad_serve_options_give_a_one_line_error(option: str, value: str, words: str) -> None:
    done = subprocess.run(serve_command(option, value), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"digits serve: error: argument {option}") and words in last, done.stderr


def test_body_limit_from_the_environment_is_checked_too(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DIGITS_MAX_BODY_MB": "inf"}
    command = serve_command("--port", str(free_port()), "--model", str(model_for_tests()))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "DIGITS_MAX_BODY_MB" in done.stderr

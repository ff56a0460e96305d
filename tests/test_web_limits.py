"""What one request may cost, and what every response carries: the API in-process (httpx, no socket).

Pixel cap checked from the image header, decoding off the event loop, the body
deadline, security headers everywhere, HEAD, CORS, the trusted-host check, offline
docs and readiness. Attacks on a real socket are in test_web_attacks.py.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from digit_recognizer.web.docs import ASSETS_URL
from digit_recognizer.web.server import CANVAS_PIXELS, Settings, create_app
from drawing import draw
from test_web_api import Api, assert_json_error, digit_png, model_for_tests, png_bytes, png_header_only


@pytest.fixture(scope="module")
def model_path() -> Path:
    return model_for_tests()


@pytest.fixture(scope="module")
def api(model_path: Path) -> Api:
    return Api(create_app(model_path))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose header (SOF0) claims width x height: what a 50-MP photo's header says."""
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


# --------------------------------------------------------------------------- pixels


def test_palette_png_of_7000x7000_is_refused_from_its_header_with_413(api: Api) -> None:
    # A header-only PNG: were it decoded, it would fail as truncated (422), not as too large.
    body = assert_json_error(api.predict_png(png_header_only(7000, 7000)), 413, "7000x7000", "megapixels")
    assert "shrink" in body["error"]


def test_50_megapixel_jpeg_is_refused_from_its_header_with_413(api: Api) -> None:
    response = api.post("/api/predict", content=jpeg_claiming(8660, 5774), headers={"Content-Type": "image/jpeg"})
    assert_json_error(response, 413, "8660x5774")


def test_multi_mode_refuses_oversized_images_too(api: Api) -> None:
    assert_json_error(api.predict_png(png_header_only(7000, 7000), "?multi=true"), 413, "megapixels")


def test_image_at_the_pixel_cap_is_read(model_path: Path) -> None:
    capped = Api(create_app(model_path, settings=Settings(max_pixels=600 * 600)))
    assert capped.predict_png(digit_png("4", size=(600, 600), box=(150, 100, 450, 500))).json()["digit"] == 4
    assert_json_error(capped.predict_png(png_header_only(601, 600)), 413, "0.36 megapixels")


def test_small_gray_images_are_preprocessed_on_the_loop_large_ones_in_their_own_pool(model_path: Path) -> None:
    app = create_app(model_path)
    recognizer = app.state.recognizer
    threads: list[str] = []
    original = recognizer.preprocess

    def recording_preprocess(image: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(image)

    recognizer.preprocess = recording_preprocess
    api = Api(app)
    side = int(CANVAS_PIXELS**0.5) + 100
    gray_canvas = draw("2", size=(280, 280), box=(60, 40, 220, 240))
    assert gray_canvas.mode == "L"
    large = digit_png("2", size=(side, side), box=(100, 100, side - 100, side - 100))
    for body in (png_bytes(gray_canvas), large, png_bytes(gray_canvas.convert("RGBA"))):  # RGBA: the page's canvas
        assert api.predict_png(body).json()["digit"] == 2
    assert threads[0] == "MainThread"
    assert threads[1].startswith("recognize-large"), threads
    assert threads[2].startswith("recognize_"), threads  # the canvas pool


# --------------------------------------------------------------------------- body deadline


def test_body_that_does_not_arrive_in_time_gets_json_408(model_path: Path) -> None:
    app = create_app(model_path, settings=Settings(body_timeout=0.2))

    async def drip() -> AsyncIterator[bytes]:
        yield b"\x89PNG"
        await asyncio.sleep(2)
        yield b"rest"

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post("/api/predict", content=drip(), headers={"Content-Type": "image/png"})

    response = asyncio.run(post())
    assert_json_error(response, 408, "0.2 s", "--body-timeout")
    assert response.headers["connection"] == "close"


def test_malformed_content_length_gets_json_400(api: Api) -> None:
    response = api.post("/api/predict", content=b"x", headers={"Content-Type": "image/png", "Content-Length": "1x"})
    assert_json_error(response, 400, "Content-Length")


# --------------------------------------------------------------------------- headers on every response


@pytest.mark.parametrize("path", ["/", "/static/index.html", "/static/app.js", "/api/health", "/nowhere", "/docs"])
def test_every_response_carries_the_security_headers(api: Api, path: str) -> None:
    headers = api.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_error_responses_carry_the_security_headers(api: Api) -> None:
    headers = api.predict_png(png_header_only(7000, 7000)).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]


def test_static_page_has_the_same_policy_as_the_root_page(api: Api) -> None:
    root, static = api.get("/"), api.get("/static/index.html")
    assert root.text == static.text
    assert root.headers["content-security-policy"] == static.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/model", "/static/style.css", "/docs"])
def test_head_answers_like_get_without_a_body(api: Api, path: str) -> None:
    get, head = api.get(path), api.request("HEAD", path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers.get("content-length") == get.headers.get("content-length")


# --------------------------------------------------------------------------- who may call


def test_cors_is_off_by_default(api: Api) -> None:
    response = api.get("/api/health", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_the_named_site(model_path: Path) -> None:
    api = Api(create_app(model_path, settings=Settings(cors_origins=("https://digits.example",))))
    allowed = api.get("/api/health", headers={"Origin": "https://digits.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://digits.example"
    other = api.get("/api/health", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = api.request(
        "OPTIONS",
        "/api/predict",
        headers={
            "Origin": "https://digits.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_any_host_is_answered_by_default(api: Api) -> None:
    assert api.get("/api/health", headers={"Host": "whatever.example"}).status_code == 200


def test_allowed_hosts_refuse_other_host_headers_with_json_400(model_path: Path) -> None:
    api = Api(create_app(model_path, settings=Settings(allowed_hosts=("digits.example.org", "*.example.net"))))
    assert api.get("/api/health", headers={"Host": "digits.example.org"}).status_code == 200
    assert api.get("/api/health", headers={"Host": "a.example.net:8000"}).status_code == 200
    body = assert_json_error(api.get("/api/health", headers={"Host": "evil.example"}), 400, "digits.example.org")
    assert "check the URL" in body["error"]


# --------------------------------------------------------------------------- docs and readiness


@pytest.mark.parametrize(("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
def test_api_docs_load_their_assets_from_this_server(api: Api, page: str, script: str) -> None:
    html = api.get(page)
    assert html.status_code == 200
    assert f"{ASSETS_URL}/{script}" in html.text
    assert "cdn" not in html.text and "fonts.googleapis" not in html.text
    asset = api.get(f"{ASSETS_URL}/{script}")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


def test_health_is_503_until_the_model_is_ready(model_path: Path) -> None:
    app = create_app(model_path)
    app.state.ready = False
    response = Api(app).get("/api/health")
    assert response.status_code == 503
    assert response.json()["ready"] is False
    app.state.ready = True
    assert Api(app).get("/api/health").json()["ready"] is True


def test_unexpected_500_carries_the_security_headers_too(model_path: Path) -> None:
    app = create_app(model_path)

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("internals")

    response = Api(app).get("/api/boom")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------- decoding bounded (issue 19)


def test_a_stuck_recognition_is_a_503_and_health_says_not_ready_until_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    testclient = pytest.importorskip("fastapi.testclient")
    app = create_app(model_for_tests(), threads=1, settings=Settings(recognition_timeout=0.5))
    release = threading.Event()
    real = app.state.recognizer.predict_number

    def stuck(*args: Any, **kwargs: Any) -> Any:
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(app.state.recognizer, "predict_number", stuck)
    with testclient.TestClient(app) as api:
        answer = api.post("/api/predict?multi=true", content=digit_png("7"), headers={"Content-Type": "image/png"})
        assert answer.status_code == 503 and "took over 0.5 s" in answer.json()["error"]
        health = api.get("/api/health")
        assert health.status_code == 503 and health.json()["ready"] is False
        release.set()
        for _ in range(200):
            if api.get("/api/health").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert api.get("/api/health").json()["ready"] is True


@pytest.mark.parametrize("make", ["looping_eps", "failing_eps", "corrupt_blp", "corrupt_avif", "ico_wrapping_png"])
def test_a_file_of_a_format_not_read_is_a_422_naming_it(api: Api, make: str) -> None:
    import hostile_files

    data = getattr(hostile_files, make)()
    answer = api.post("/api/predict", content=data, headers={"Content-Type": "image/png"})
    assert_json_error(answer, 422)
    assert "format" in answer.json()["error"]


def test_a_large_body_s_header_is_read_off_the_event_loop(monkeypatch: pytest.MonkeyPatch, api: Api) -> None:
    import digit_recognizer.web.server as server

    loop_thread = threading.get_ident()
    seen: list[int] = []
    real = server.check_pixels

    def spy(data: bytes, max_pixels: int) -> Any:
        seen.append(threading.get_ident())
        return real(data, max_pixels)

    monkeypatch.setattr(server, "check_pixels", spy)
    big = png_bytes(Image.effect_noise((300, 300), 64).convert("L"))
    assert len(big) > server.INLINE_HEADER_BYTES
    api.post("/api/predict", content=big, headers={"Content-Type": "image/png"})
    assert seen and seen[-1] != loop_thread


def test_static_files_beyond_the_slots_are_a_503_and_the_rest_are_served() -> None:
    from digit_recognizer.web.middleware import FileSlots

    started, release = asyncio.Event(), asyncio.Event()

    async def slow_file(scope: Any, receive: Any, send: Any) -> None:
        started.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"file"})

    slots = FileSlots(slow_file, 1, prefixes=("/static/",))

    async def get(path: str) -> int:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        await slots({"type": "http", "path": path}, None, send)  # type: ignore[arg-type]
        return int(sent[0]["status"])

    async def scenario() -> tuple[int, int, int]:
        first = asyncio.create_task(get("/static/app.js"))
        await started.wait()
        busy = await get("/static/style.css")
        release.set()
        return await first, busy, await get("/static/style.css")

    assert asyncio.run(scenario()) == (200, 503, 200)

"""The HTTP API in-process: httpx talks to the ASGI app directly, no socket, no server.

Recognition checks use the shipped model; $DIGITS_TEST_MODEL points the plumbing
at another model file (e.g. a dry-run model) while the shipped one is being trained.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from digit_recognizer import ModelError, Recognizer, __version__
from digit_recognizer.predict import result_for
from digit_recognizer.recognizer import shipped_model_path
from digit_recognizer.web.server import STATIC, create_app, pixels
from drawing import draw


def digit_png(digits: str, **options: Any) -> bytes:
    """Digits drawn like a person would (tests/drawing.py templates), as the PNG a client would send."""
    return png_bytes(draw(digits, **options))


def number_png(digits: str) -> bytes:
    return digit_png(digits, size=(800, 300), box=(40, 40, 760, 260))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be width x height: a decompression bomb in a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def model_for_tests() -> Path:
    path = Path(os.environ.get("DIGITS_TEST_MODEL") or shipped_model_path())
    assert path.is_file(), f"model {path} not found: the shipped model must be in the package"
    return path


class Api:
    """A synchronous httpx client for the ASGI app (each call runs its own event loop)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return asyncio.run(self._request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def predict_png(self, png: bytes, query: str = "") -> httpx.Response:
        return self.post(f"/api/predict{query}", content=png, headers={"Content-Type": "image/png"})

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, url, **kwargs)


@pytest.fixture(scope="module")
def model_path() -> Path:
    return model_for_tests()


@pytest.fixture(scope="module")
def api(model_path: Path) -> Api:
    return Api(create_app(model_path))


def assert_json_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status
    assert "Traceback" not in body["error"]
    for word in words:
        assert word in body["error"]
    return body


# --------------------------------------------------------------------------- the page


def test_page_and_its_assets_are_served_by_the_app(api: Api) -> None:
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css", "/static/favicon.svg"):
        assert asset in page.text
        assert api.get(asset).status_code == 200


def test_page_loads_nothing_from_other_sites() -> None:
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


def test_drawing_area_does_not_scroll_the_page_on_touch() -> None:
    assert "touch-action: none" in (STATIC / "style.css").read_text()


# --------------------------------------------------------------------------- predict


def test_raw_png_body_gives_the_same_json_as_digits_predict(api: Api, model_path: Path) -> None:
    png = digit_png("7")
    response = api.predict_png(png)
    assert response.status_code == 200
    assert response.json() == result_for(Recognizer.load(model_path), "body", png, multi=False)


def test_multipart_upload_uses_the_file_name_as_path(api: Api) -> None:
    response = api.post("/api/predict", files={"file": ("seven.png", digit_png("7"), "image/png")})
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "seven.png"
    assert len(body["probabilities"]) == 10
    assert 0.99 < sum(body["probabilities"]) <= 1 + 1e-5  # the rest is the chance of "not a digit"


def test_octet_stream_body_is_accepted_as_an_image(api: Api) -> None:
    response = api.post("/api/predict", content=digit_png("1"), headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200


@pytest.mark.parametrize("digit", range(10))
def test_drawn_digit_is_recognized(api: Api, digit: int) -> None:
    body = api.predict_png(digit_png(str(digit))).json()
    assert body["digit"] == digit, body
    assert body["confidence"] > 0.5


def test_large_photo_like_upload_is_recognized(api: Api) -> None:
    ink = np.asarray(draw("7", size=(1000, 1000), pen=60), dtype=np.int16)
    grain = np.random.default_rng(0).integers(0, 12, ink.shape)  # paper grain: PNG cannot compress it
    png = png_bytes(Image.fromarray(np.clip(ink - grain, 0, 255).astype(np.uint8)))
    assert len(png) > 256 * 1024, "a photo-sized upload, not a canvas"
    assert api.predict_png(png).json()["digit"] == 7


def test_multi_mode_reads_a_number_left_to_right_with_boxes(api: Api) -> None:
    body = api.predict_png(number_png("2025"), "?multi=true").json()
    assert body["number"] == "2025", body
    assert [d["digit"] for d in body["digits"]] == [2, 0, 2, 5]
    boxes = [d["box"] for d in body["digits"]]
    assert boxes == sorted(boxes), "digits come left to right"


def test_blank_canvas_reports_no_digit_with_a_reason(api: Api) -> None:
    body = api.predict_png(png_bytes(Image.new("L", (280, 280), 255)), "?preview=true").json()
    assert body["digit"] is None
    assert "blank" in body["reason"]
    assert body["probabilities"] == []
    assert "preview" not in body


def test_preview_is_the_28x28_image_the_model_sees(api: Api) -> None:
    png = digit_png("7")
    body = api.predict_png(png, "?preview=true").json()
    assert body["preview"] == pixels(Recognizer.load(model_for_tests()).preprocess(png))
    assert len(body["preview"]) == 28 and all(len(row) == 28 for row in body["preview"])
    assert "preview" not in api.predict_png(png).json(), "preview only when asked"


def test_multi_mode_preview_comes_with_each_digit(api: Api) -> None:
    body = api.predict_png(number_png("17"), "?multi=true&preview=true").json()
    assert len(body["digits"]) == 2
    for found in body["digits"]:
        assert len(found["preview"]) == 28


# --------------------------------------------------------------------------- bad requests


def test_text_body_is_refused_with_415_naming_the_accepted_types(api: Api) -> None:
    response = api.post("/api/predict", content=b"seven", headers={"Content-Type": "text/plain"})
    assert_json_error(response, 415, "text/plain", "image/png", "file")


def test_missing_content_type_is_refused_with_415(api: Api) -> None:
    assert_json_error(api.post("/api/predict", content=b"\x89PNG"), 415)


def test_data_that_is_not_an_image_gets_422_with_the_reason(api: Api) -> None:
    body = assert_json_error(api.predict_png(b"this is not a png"), 422, "cannot read the image")
    assert body["path"] == "body"


def test_empty_body_gets_422(api: Api) -> None:
    assert_json_error(api.predict_png(b""), 422, "empty")


def test_truncated_png_gets_422(api: Api) -> None:
    assert_json_error(api.predict_png(digit_png("7")[:200]), 422)


def test_decompression_bomb_is_refused(api: Api) -> None:
    assert_json_error(api.predict_png(png_header_only(30_000, 30_000)), 413, "megapixels")


def test_multipart_form_without_a_file_field_gets_422(api: Api) -> None:
    response = api.post("/api/predict", files={"image": ("seven.png", digit_png("7"), "image/png")})
    assert_json_error(response, 422, "'file'", "image")


def test_body_over_the_limit_gets_413_from_its_content_length(model_path: Path) -> None:
    small = Api(create_app(model_path, max_body_bytes=1000))
    response = small.predict_png(b"\0" * 1001)
    assert_json_error(response, 413, "1,000 bytes")


def test_streamed_body_over_the_limit_gets_413_while_counting(model_path: Path) -> None:
    small = Api(create_app(model_path, max_body_bytes=1000))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"\0" * 400

    response = small.post("/api/predict", content=chunks(), headers={"Content-Type": "image/png"})
    assert "content-length" not in response.request.headers, "the upload must be chunked for this test"
    assert_json_error(response, 413)


def test_multipart_over_the_limit_gets_413(model_path: Path) -> None:
    small = Api(create_app(model_path, max_body_bytes=1000))
    response = small.post("/api/predict", files={"file": ("big.png", b"\0" * 2000, "image/png")})
    assert_json_error(response, 413)


def test_body_limit_can_be_set_in_megabytes_from_the_environment(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITS_MAX_BODY_MB", "0.001")
    limited = Api(create_app(model_path))
    assert_json_error(limited.predict_png(b"\0" * 2000), 413, "1,048 bytes")


# --------------------------------------------------------------------------- errors are JSON


def test_unknown_path_gets_json_404_listing_the_endpoints(api: Api) -> None:
    assert_json_error(api.get("/nowhere"), 404, "/nowhere", "/api/predict")


def test_wrong_method_gets_json_405_naming_the_right_one(api: Api) -> None:
    response = api.get("/api/predict")
    assert_json_error(response, 405, "POST")
    assert response.headers["allow"] == "POST"


def test_invalid_query_parameter_gets_json_422(api: Api) -> None:
    assert_json_error(api.predict_png(digit_png("1"), "?multi=perhaps"), 422, "multi")


def test_unexpected_failure_is_a_json_500_without_a_traceback(model_path: Path) -> None:
    app = create_app(model_path)

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    body = assert_json_error(Api(app).get("/api/boom"), 500, "server log")
    assert "secret" not in body["error"]


# --------------------------------------------------------------------------- health, model card, startup


def test_health_names_the_loaded_model(api: Api, model_path: Path) -> None:
    assert api.get("/api/health").json() == {
        "status": "ok",
        "ready": True,
        "version": __version__,
        "model": model_path.name,
    }


def test_model_endpoint_returns_the_model_card(model_path: Path, tmp_path: Path) -> None:
    card = {"name": "digits", "test_accuracy": 0.99, "parameters": 141930}
    (tmp_path / "digits.onnx").write_bytes(model_path.read_bytes())
    (tmp_path / "digits.json").write_text(json.dumps(card))
    assert Api(create_app(tmp_path / "digits.onnx")).get("/api/model").json() == card


def test_model_without_a_card_says_so(model_path: Path, tmp_path: Path) -> None:
    (tmp_path / "bare.onnx").write_bytes(model_path.read_bytes())
    body = Api(create_app(tmp_path / "bare.onnx")).get("/api/model").json()
    assert body == {"name": "bare", "note": "no model card beside the model"}


def test_openapi_documents_both_ways_to_send_an_image(api: Api) -> None:
    schema = api.get("/openapi.json").json()
    body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"image/png", "multipart/form-data"} <= set(body)
    assert api.get("/docs").status_code == 200


def test_missing_model_fails_at_startup_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="--model"):
        create_app(tmp_path / "absent.onnx")


def test_unreadable_body_limit_setting_is_refused_with_an_example(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITS_MAX_BODY_MB", "lots")
    with pytest.raises(SystemExit, match="DIGITS_MAX_BODY_MB must be a number of megabytes, e.g. 5"):
        create_app(model_path)


def test_each_worker_runs_the_model_in_a_thread_per_core_it_has() -> None:
    from digit_recognizer.web.server import recognition_threads

    cores = os.cpu_count() or 1
    assert recognition_threads(1) == cores
    assert recognition_threads(cores) == 1
    assert recognition_threads(4 * cores) == 1


def test_threaded_app_answers_like_the_inline_one() -> None:
    bodies = [digit_png("3"), png_bytes(Image.new("L", (100, 100), 255)), b"not an image"]

    async def ask(threads: int) -> list[tuple[int, Any]]:
        transport = httpx.ASGITransport(app=create_app(threads=threads))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = []
            for body in bodies:
                response = await client.post("/api/predict", content=body, headers={"Content-Type": "image/png"})
                answers.append((response.status_code, response.json()))
            return answers

    inline, threaded = asyncio.run(ask(0)), asyncio.run(ask(2))
    assert inline == threaded
    (ok, three), (blank_status, blank), (bad_status, bad) = threaded
    assert ok == 200 and three["digit"] == 3
    assert blank_status == 200 and blank["digit"] is None and "blank" in blank["reason"]
    assert bad_status == 422 and "not an image" in bad["error"]


def test_touching_digits_are_read_with_a_preview_for_each(api: Api) -> None:
    from test_recognizer import touching

    body = api.predict_png(png_bytes(touching("25", overlap=0.3)), "?multi=true&preview=true").json()
    assert body["number"] == "25", body
    assert all(len(d["preview"]) == 28 for d in body["digits"])

"""POST /api/corrections: the page's "Wrong?", stored only when the server was started to store them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

fastapi_testclient = pytest.importorskip("fastapi.testclient", reason="the web extra is not installed")

from digit_recognizer.ink import read_ndjson  # noqa: E402
from digit_recognizer.web.corrections import CORRECTIONS_ENV  # noqa: E402
from digit_recognizer.web.server import create_app  # noqa: E402

SEVEN = [[[75, 205, 125], [55, 55, 235]]]  # [[xs], [ys]] on the 280x280 pad
ONE_AND_SEVEN = [[[150, 140], [45, 235]], [[355, 485, 405], [55, 55, 235]]]  # on a 700x280 pad


def client(monkeypatch: pytest.MonkeyPatch, folder: Path | None) -> Any:
    if folder is None:
        monkeypatch.delenv(CORRECTIONS_ENV, raising=False)
    else:
        monkeypatch.setenv(CORRECTIONS_ENV, str(folder))
    return fastapi_testclient.TestClient(create_app())


def test_without_a_corrections_folder_nothing_is_stored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    api = client(monkeypatch, None)
    assert api.get("/api/corrections").json() == {"enabled": False}
    answer = api.post("/api/corrections", json={"label": "1", "drawing": SEVEN})
    assert answer.status_code == 403
    assert "--corrections-dir" in answer.json()["error"]


def test_a_digit_is_stored_as_png_and_strokes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    api = client(monkeypatch, tmp_path)
    assert api.get("/api/corrections").json() == {"enabled": True}
    answer = api.post("/api/corrections", json={"label": "1", "drawing": SEVEN, "pen": 18})
    assert answer.status_code == 201 and answer.json() == {"label": "1", "saved": 1}
    (png,) = (tmp_path / "1").glob("*.png")
    (sample,) = read_ndjson(png.with_suffix(".ndjson"))
    assert sample.label == 1 and sample.strokes[0].width == 18 and len(sample.strokes[0].points) == 3


def test_a_number_is_stored_one_digit_per_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    api = client(monkeypatch, tmp_path)
    body = {"label": "14", "drawing": ONE_AND_SEVEN, "width": 700, "height": 280}
    answer = api.post("/api/corrections", json=body)
    assert answer.status_code == 201, answer.text
    assert [len(list((tmp_path / d).glob("*.ndjson"))) for d in ("1", "4")] == [1, 1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"label": "x", "drawing": SEVEN}, "0-9 only"),
        ({"label": "147", "drawing": ONE_AND_SEVEN, "width": 700}, "holds 2 digit(s) but the label has 3"),
        ({"label": "1", "drawing": [[[1, 2], [3]]]}, "same non-zero length"),
        ({"label": "1", "drawing": []}, "1 to 200 strokes"),
    ],
)
def test_a_bad_correction_is_a_json_422_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: dict[str, object], message: str
) -> None:
    answer = client(monkeypatch, tmp_path).post("/api/corrections", json=body)
    assert answer.status_code == 422 and message in answer.json()["error"]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_digits_serve_offers_the_corrections_folder_option() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "digit_recognizer", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--corrections-dir DIR" in done.stdout


# --------------------------------------------------------------------------- bounds (issue 19, items 4, 5, 10)


def test_storage_off_refuses_before_reading_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    from digit_recognizer.web.server import create_app as make_app

    monkeypatch.delenv(CORRECTIONS_ENV, raising=False)
    app = make_app()
    read: list[bytes] = []

    async def call() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            read.append(b"x")
            return {"type": "http.request", "body": b"[" * 1000, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"content-type", b"application/json"), (b"content-length", b"5000000"), (b"host", b"x")]
        scope = {"type": "http", "method": "POST", "path": "/api/corrections", "headers": headers, "query_string": b""}
        await app({**scope, "http_version": "1.1", "scheme": "http", "root_path": ""}, receive, send)
        return sent

    import asyncio

    sent = asyncio.run(call())
    assert sent[0]["status"] == 403 and not read


def test_a_body_over_the_corrections_limit_is_a_413(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from digit_recognizer.web.corrections import MAX_BODY_BYTES

    body = b'{"label": "1", "drawing": [[[' + b"1," * (MAX_BODY_BYTES // 2) + b"1], [1]]]}"
    answer = client(monkeypatch, tmp_path).post(
        "/api/corrections", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413 and "bytes" in answer.json()["error"]


def many_points(n: int) -> list[list[list[float]]]:
    return [[[100 + (i % 50) for i in range(n)], [100 + (i % 40) for i in range(n)]]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"drawing": many_points(20_000)}, "more than 10,000 points"),
        ({"drawing": SEVEN, "pen": 200}, "pen"),
        ({"drawing": SEVEN, "width": 4000, "height": 4000}, "width"),
        ({"drawing": [[[1e300, 2e300], [5, 6]]]}, "far outside"),
        ({"drawing": [[[-200, -250], [-200, -250]]]}, "blank"),
        ({"drawing": [[[0, 1999] * 200, [0, 1999] * 200]], "pen": 64, "width": 2000, "height": 2000}, "ink"),
    ],
    ids=["20,000 points", "pen 200", "4000 canvas", "1e300", "off the canvas", "too much ink"],
)
def test_a_correction_that_would_cost_too_much_or_is_nonsense_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, extra: dict[str, object], message: str
) -> None:
    answer = client(monkeypatch, tmp_path).post("/api/corrections", json={"label": "1", **extra})
    assert answer.status_code == 422 and message in answer.json()["error"], answer.text
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_json_nested_too_deeply_is_a_422(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = "[" * 100_000
    answer = client(monkeypatch, tmp_path).post(
        "/api/corrections", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code in (400, 422) and "Traceback" not in answer.text


def test_a_full_corrections_folder_refuses_more_with_a_507(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from digit_recognizer.web.corrections import QUOTA_ENV

    monkeypatch.setenv(QUOTA_ENV, "0.001")  # 1 KB: one stored digit fills it
    api = client(monkeypatch, tmp_path)
    assert api.post("/api/corrections", json={"label": "7", "drawing": SEVEN}).status_code == 201
    answer = api.post("/api/corrections", json={"label": "7", "drawing": SEVEN})
    assert answer.status_code == 507 and "full" in answer.json()["error"]
    assert len(list((tmp_path / "7").glob("*.png"))) == 1


def test_a_symlinked_digit_folder_is_not_followed_and_the_500_shows_no_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outside, folder = tmp_path / "outside", tmp_path / "corrections"
    outside.mkdir()
    folder.mkdir()
    (folder / "7").symlink_to(outside, target_is_directory=True)
    answer = client(monkeypatch, folder).post("/api/corrections", json={"label": "7", "drawing": SEVEN})
    assert answer.status_code == 500 and str(tmp_path) not in answer.text and "/" not in answer.json()["error"]
    assert not list(outside.iterdir())

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

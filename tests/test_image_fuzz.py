"""Truncated and mutated files of every format Pillow can write: never an uncaught exception.

A few hundred cases with a fixed seed, so the test is fast and repeatable;
benchmarks/bench_reliability.py runs thousands. Each case is a drawing saved in one
of Pillow's writable formats (PNG, JPEG, TIFF, EPS, ICO, PDF, ...), then cut short or
with random bytes changed. Whatever the bytes, the library answers or raises one
ImageError, `digits predict` gives each file a row, and the server answers 200, 413
or 422, never a 500.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import hostile_files as hostile
from digit_recognizer.imagefile import ImageError
from digit_recognizer.predict import predict_files
from digit_recognizer.recognizer import Recognizer

CASES = 300
ORIGINALS = hostile.writable_formats()
FUZZED = list(hostile.fuzzed(ORIGINALS, CASES))


def test_every_format_pillow_writes_is_in_the_fuzz() -> None:
    assert {"PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP", "EPS", "ICO", "PDF"} <= set(ORIGINALS)


def test_damaged_files_are_an_answer_or_one_image_error(recognizer: Recognizer) -> None:
    for name, data in FUZZED:
        for read in (recognizer.predict, recognizer.predict_number):
            try:
                read(data)
            except ImageError as exc:
                assert str(exc) and "\n" not in str(exc), name


def test_digits_predict_gives_every_damaged_file_a_row(tmp_path: Path) -> None:
    for name, data in FUZZED:
        (tmp_path / f"{name}.png").write_bytes(data)
    for multi in (False, True):
        out = io.StringIO()
        predict_files([tmp_path], as_json=True, multi=multi, jobs=1, progress=False, out=out)
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        assert len(rows) == len(FUZZED)


def test_the_server_answers_every_damaged_file_without_a_500() -> None:
    testclient = pytest.importorskip("fastapi.testclient", reason="the web extra is not installed")
    from digit_recognizer.web.server import create_app

    api = testclient.TestClient(create_app(), raise_server_exceptions=True)
    for name, data in FUZZED:
        for multi in ("false", "true"):
            answer = api.post(f"/api/predict?multi={multi}", content=data, headers={"Content-Type": "image/png"})
            assert answer.status_code in (200, 413, 422), (name, answer.text)
            assert "error" in answer.json() or answer.status_code == 200

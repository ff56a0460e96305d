"""The Recognizer API and the shipped model: what users of the library rely on."""

from __future__ import annotations

import inspect
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digit_recognizer
from digit_recognizer import ModelError, NumberPrediction, Prediction, Recognizer
from digit_recognizer.recognizer import shipped_model_path
from drawing import draw, touching  # noqa: F401 (touching: imported from here by other tests)


def test_public_api_is_exactly_what_init_exports() -> None:
    public = {
        name
        for name, value in vars(digit_recognizer).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(digit_recognizer.__all__)
    assert all(getattr(digit_recognizer, name).__doc__ for name in digit_recognizer.__all__)


def test_shipped_model_comes_with_a_model_card() -> None:
    recognizer = Recognizer.load()
    card = recognizer.card
    assert recognizer.path == shipped_model_path()
    assert card["metrics"]["test_accuracy"] >= 0.996
    assert card["training"]["command"].startswith("digits train")
    assert card["export"]["parity_max_abs_diff"] < 1e-5
    import hashlib

    assert hashlib.sha256(shipped_model_path().read_bytes()).hexdigest() == card["file"]["sha256"]


@pytest.mark.parametrize("digit", range(10))
def test_drawn_digits_are_recognized(recognizer: Recognizer, digit: int) -> None:
    prediction = recognizer.predict(draw(str(digit)))
    assert prediction.digit == digit
    assert len(prediction.probabilities) == 10 and sum(prediction.probabilities) == pytest.approx(1, abs=1e-4)
    assert prediction.confidence == max(prediction.probabilities)


def test_predict_accepts_paths_bytes_arrays_and_pil_images(recognizer: Recognizer, tmp_path: Path) -> None:
    image = draw("7")
    image.save(tmp_path / "seven.png")
    sources = [
        tmp_path / "seven.png",
        str(tmp_path / "seven.png"),
        (tmp_path / "seven.png").read_bytes(),
        image,
        np.asarray(image),
        np.asarray(image, dtype=np.float32) / 255,
    ]
    assert [recognizer.predict(s).digit for s in sources] == [7] * len(sources)


def test_empty_canvas_reports_no_digit(recognizer: Recognizer) -> None:
    prediction = recognizer.predict(Image.new("L", (280, 280), 255))
    assert prediction == Prediction(None, 0.0, (), "the image is blank: no ink found")
    assert prediction.to_dict()["digit"] is None and "reason" in prediction.to_dict()


def test_batch_keeps_order_and_marks_blank_images(recognizer: Recognizer) -> None:
    images = [draw("3"), Image.new("L", (100, 100), 0), draw("8", dark_on_light=False)]
    assert [p.digit for p in recognizer.predict_batch(images)] == [3, None, 8]


def test_top_k_lists_the_most_likely_digits_first(recognizer: Recognizer) -> None:
    top = recognizer.predict(draw("9")).top_k(3)
    assert top[0][0] == 9 and top[0][1] >= top[1][1] >= top[2][1]


def test_number_is_read_left_to_right_with_boxes(recognizer: Recognizer) -> None:
    result = recognizer.predict_number(draw("2025", size=(800, 300), box=(40, 40, 760, 260)))
    assert isinstance(result, NumberPrediction)
    assert result.number == "2025"
    boxes = [d.box for d in result.digits]
    assert boxes == sorted(boxes) and all(x1 > x0 and y1 > y0 for x0, y0, x1, y1 in boxes)
    as_json = result.to_dict()
    assert as_json["number"] == "2025" and len(as_json["digits"]) == 4 and "box" in as_json["digits"][0]


def test_blank_number_reports_no_digit(recognizer: Recognizer) -> None:
    result = recognizer.predict_number(Image.new("L", (400, 100), 255))
    assert result.number is None and result.digits == [] and result.reason


def test_preprocess_returns_what_the_model_sees(recognizer: Recognizer) -> None:
    x = recognizer.preprocess(draw("4"))
    assert x.shape == (28, 28)
    assert int(recognizer.probabilities(x[None]).argmax()) == 4


def test_one_recognizer_serves_many_threads(recognizer: Recognizer) -> None:
    images = [draw(str(d)) for d in range(10)]
    results: dict[int, list[int | None]] = {}

    def work(k: int) -> None:
        results[k] = [recognizer.predict(images[(k + i) % 10]).digit for i in range(10)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == [(k + i) % 10 for i in range(10)] for k in range(8))


def test_missing_model_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found.*digits train"):
        Recognizer.load(tmp_path / "nope.onnx")


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        Recognizer.load(tmp_path / "bad.onnx")


def test_recognition_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np; from digit_recognizer import Recognizer; "
        "r = Recognizer.load(); r.predict(np.eye(50)); r.predict_number(np.eye(50)); "
        "import digit_recognizer.cli, digit_recognizer.evaluation, digit_recognizer.predict; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_shipped_model_scores_at_least_99_6_percent_on_mnist_test(recognizer: Recognizer, mnist_test) -> None:  # type: ignore[no-untyped-def]
    probabilities = recognizer.probabilities(mnist_test.images.astype(np.float32) / 255)
    accuracy = float((probabilities.argmax(1) == mnist_test.labels).mean())
    assert accuracy >= 0.996, f"shipped model scores {accuracy:.4%} on the 10,000 MNIST test images"

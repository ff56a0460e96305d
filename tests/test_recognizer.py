"""The Recognizer API and the shipped model: what users of the library rely on."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digit_recognizer
from digit_recognizer import ModelError, NumberPrediction, Prediction, Recognizer
from digit_recognizer.recognizer import UNREADABLE, shipped_model_path
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
    # the ten digits' probabilities; the rest (here almost nothing) is the chance it is no digit at all
    assert len(prediction.probabilities) == 10 and 0.99 < sum(prediction.probabilities) <= 1 + 1e-5
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


# --------------------------------------------------------------------------- models passed with --model


def tiny_model(
    path: Path, *, classes: int = 10, input_type: str = "float", batch: int | str = "N", softmax: bool = True
) -> Path:
    """A one-layer ONNX model (flatten, linear, softmax or not) built with the onnx package."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    elem = {"float": TensorProto.FLOAT, "uint8": TensorProto.UINT8}[input_type]
    nodes = [helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT)]
    nodes += [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits" if softmax else "scores"]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", elem, [batch, 1, 28, 28])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, classes])],
        [
            numpy_helper.from_array(rng.normal(0, 0.5, (784, classes)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.normal(0, 1, classes).astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_a_model_with_five_classes_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="gives 5 scores per image; a digit model .* 10 scores"):
        Recognizer.load(tiny_model(tmp_path / "five.onnx", classes=5))


def test_a_model_with_uint8_input_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="takes uint8 input; .*float32"):
        Recognizer.load(tiny_model(tmp_path / "u8.onnx", input_type="uint8"))


def test_a_model_with_a_fixed_batch_of_eight_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="batches of exactly 8 images"):
        Recognizer.load(tiny_model(tmp_path / "b8.onnx", batch=8))


def test_a_batch_one_model_reads_batches_one_image_at_a_time(tmp_path: Path) -> None:
    one = Recognizer.load(tiny_model(tmp_path / "b1.onnx", batch=1))
    dynamic = Recognizer.load(tiny_model(tmp_path / "bn.onnx"))
    images = [draw(str(d)) for d in (1, 4, 7)]
    np.testing.assert_allclose(
        [p.probabilities for p in one.predict_batch(images)],
        [p.probabilities for p in dynamic.predict_batch(images)],
        atol=1e-5,
    )


def test_a_model_that_gives_logits_gets_a_softmax(tmp_path: Path) -> None:
    logits = Recognizer.load(tiny_model(tmp_path / "logits.onnx", softmax=False))
    probabilities = Recognizer.load(tiny_model(tmp_path / "probs.onnx"))
    seven = draw("7")
    read = logits.predict(seven)
    assert 0 <= read.confidence <= 1 and sum(read.probabilities) == pytest.approx(1, abs=1e-5)
    assert read.probabilities == pytest.approx(probabilities.predict(seven).probabilities, abs=1e-5)


def test_a_model_with_a_not_a_digit_class_is_accepted(tmp_path: Path) -> None:
    recognizer = Recognizer.load(tiny_model(tmp_path / "eleven.onnx", classes=11))
    assert recognizer.scores(np.zeros((3, 28, 28))).shape == (3, 11)


# --------------------------------------------------------------------------- predict_batch anywhere

BATCH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from PIL import Image
from digit_recognizer import Recognizer
from digit_recognizer.recognizer import _processes_are_safe
from drawing import draw

recognizer = Recognizer.load()
images = [draw(str(i % 10), size=(120, 120), box=(15, 15, 105, 105)) for i in range(130)]
images[5] = b"not an image"
print("processes at top level:", _processes_are_safe())
batch = recognizer.predict_batch(images)
print("same as one by one:", [p.digit for p in batch] == [recognizer.predict(im).digit if i != 5 else None
                                                          for i, im in enumerate(images)])
print("digits:", "".join("x" if p.digit is None else str(p.digit) for p in batch[:12]))
"""


def run_python(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize("how", ["script without a main guard", "python -c", "a script's thread", "guarded script"])
def test_predict_batch_works_wherever_python_runs(how: str, tmp_path: Path) -> None:
    code = BATCH_SCRIPT.format(tests=str(Path(__file__).parent))
    if how == "a script's thread":
        body = code.split("recognizer = Recognizer.load()", 1)
        code = (
            body[0]
            + "import threading\ndef work():\n    recognizer = Recognizer.load()"
            + body[1].replace("\n", "\n    ")
            + "\nt = threading.Thread(target=work)\nt.start()\nt.join()\n"
        )
    if how == "guarded script":
        head, rest = code.split("recognizer = Recognizer.load()", 1)
        code = head + 'if __name__ == "__main__":\n    recognizer = Recognizer.load()' + rest.replace("\n", "\n    ")
    (tmp_path / "script.py").write_text(code)
    out = run_python("-c", code, cwd=tmp_path) if how == "python -c" else run_python("script.py", cwd=tmp_path)
    assert out.count("same as one by one: True") == 1  # printed once: no worker re-ran the script
    assert "digits: 01234x678901" in out
    expected = {"script without a main guard": False, "a script's thread": False}.get(how, True)
    assert f"processes at top level: {expected}" in out


def test_a_bad_image_in_a_batch_fails_alone(recognizer: Recognizer, tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    images = [draw("2"), tmp_path / "broken.png", tmp_path / "missing.png", np.zeros((3, 3), dtype=object), draw("5")]
    read = recognizer.predict_batch(images * 20)
    assert [p.digit for p in read[:5]] == [2, None, None, None, 5] and len(read) == 100
    assert all(p.reason and p.reason.startswith(UNREADABLE) for p in read[1:4])
    assert "file not found" in (read[2].reason or "")


def test_predict_stream_answers_each_batch_as_predict_batch_does(recognizer: Recognizer) -> None:
    batches = [[draw(str((i + k) % 10)) for i in range(n)] for k, n in enumerate([70, 0, 3, 90, 65])]
    streamed = list(recognizer.predict_stream(iter(batches), jobs=2))
    assert [len(b) for b in streamed] == [len(b) for b in batches]
    assert [[p.digit for p in b] for b in streamed] == [[p.digit for p in recognizer.predict_batch(b)] for b in batches]


def test_predict_stream_goes_on_in_threads_when_a_worker_is_killed(recognizer: Recognizer) -> None:
    import signal

    from digit_recognizer import recognizer as module

    batches = [[draw(str((i + k) % 10)) for i in range(80)] for k in range(5)]
    stream = recognizer.predict_stream(iter(batches), jobs=2)
    first = next(stream)  # the pool is up, the next batches are in its workers' hands
    pool = module._pools[("process", 2)]
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    rest = list(stream)
    assert [[p.digit for p in b] for b in [first, *rest]] == [[(i + k) % 10 for i in range(80)] for k in range(5)]
    assert ("process", 2) not in module._pools  # a new pool is made on the next call


def test_reading_one_file_imports_only_what_it_uses(tmp_path: Path) -> None:
    """Start-up is most of `digits predict one.png` (issue 21): the number reader, worker pools
    and shared memory (multiprocessing), and EXIF turning (ImageOps) load when first needed."""
    draw("7").save(tmp_path / "seven.png")
    code = (
        "import sys, runpy; sys.argv = ['digits', 'predict', sys.argv[1]]\n"
        "try: runpy.run_module('digit_recognizer', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('digit_recognizer.ctc', 'digit_recognizer.combine', 'multiprocessing',"
        " 'PIL.ImageOps') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "seven.png")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]" and "seven.png" in result.stdout

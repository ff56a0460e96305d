"""The sequence reader's training side: composed numbers, the model, ONNX parity, resume, the recognizer with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digit_recognizer import Recognizer, ctc, unipen
from digit_recognizer.ink import InkSample, Stroke
from digit_recognizer.preprocess import load_ink
from digit_recognizer.training import numbers
from drawing import draw, touching

REPO = Path(__file__).resolve().parents[1]


def fake_writer(marker: float) -> numbers.Writer:
    """A writer whose every stroke carries its own pen width: strokes from another writer would show."""
    line = Stroke(marker, [(0.0, 0.0), (0.3, 1.0)])
    ring = Stroke(marker, [(0.5 + 0.4 * np.cos(a), 0.5 + 0.5 * np.sin(a)) for a in np.linspace(0, 6.3, 20)])
    return {d: [InkSample(d, (ring if d % 2 else line,), f"w{marker}")] for d in range(10)}


# --------------------------------------------------------------------------- composition


@pytest.mark.parametrize("length", [1, 3, 10])
def test_a_composed_number_has_the_asked_length_and_only_its_writers_strokes(length: int) -> None:
    rng = np.random.default_rng(length)
    writer = fake_writer(7.0)
    made = numbers.compose_unipen(writer, length, "overlapping", rng, vary=False)
    assert len(made.text) == length and made.image.dtype == np.uint8
    digits, _size, _h = numbers.compose_strokes(writer, made.text, "apart", rng, vary=False)
    assert len(digits) == length and len({s.width for d in digits for s in d}) == 1  # one writer, one pen


@pytest.mark.parametrize("spacing", numbers.SPACINGS)
def test_spacing_keeps_to_its_range(spacing: str) -> None:
    rng = np.random.default_rng(0)
    widths = [30.0, 20.0, 35.0, 25.0, 30.0]
    for _ in range(200):
        lefts, sizes, _base = numbers.layout(widths, spacing, 40.0, rng)
        w = [a * b for a, b in zip(widths, sizes, strict=True)]
        gaps = [lefts[k] - lefts[k - 1] - w[k - 1] for k in range(1, 5)]
        narrower = [min(w[k - 1], w[k]) for k in range(1, 5)]
        shares = [g / n for g, n in zip(gaps, narrower, strict=True)]
        if spacing == "apart":
            assert min(gaps) > 0
        elif spacing == "touching":
            assert all(-0.08 - 1e-9 <= s <= 0.02 + 1e-9 for s in shares)
        elif spacing == "overlapping":
            assert all(-1 / 3 - 1e-9 <= s <= 0 for s in shares)
        else:  # one pair fused, overlapping by a third to a half; the others apart
            assert sum(-0.5 - 1e-9 <= s <= -1 / 3 + 1e-9 for s in shares) == 1
            assert sum(s >= 0 for s in shares) == 3


def test_composed_numbers_reach_the_line_image_through_load_ink() -> None:
    rng = np.random.default_rng(1)
    writers = numbers.by_writer(unipen.load(("train",)).samples)
    writer = writers[sorted(writers)[0]]
    line = numbers.as_line(numbers.compose_unipen(writer, 4, "fused", rng).image)
    assert line is not None and line.shape[0] == ctc.LINE_HEIGHT and line.max() > 200


# --------------------------------------------------------------------------- model, export, trainer

torch = pytest.importorskip("torch", reason="training tests need the [train] extra")

from digit_recognizer.training.config import TrainingError  # noqa: E402
from digit_recognizer.training.sequence import (  # noqa: E402
    NumberNet,
    SequenceConfig,
    export_onnx,
    load_state,
    train_numbers,
)


def test_the_model_gives_one_frame_per_four_columns() -> None:
    net = NumberNet((4, 4, 4), 4).eval()
    assert net(torch.zeros(2, 1, ctc.LINE_HEIGHT, 48)).shape == (2, 12, ctc.CLASSES)


def test_onnx_export_of_a_tiny_model_matches_pytorch_at_any_width(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = NumberNet((4, 8, 8), 8)
    path = tmp_path / "tiny.onnx"
    assert export_onnx(net, path, torch.rand(3, 1, ctc.LINE_HEIGHT, 96)) < 1e-4
    reader = ctc.SequenceReader.load(path)
    assert reader is not None
    reading = reader.read(load_ink(touching("25", 0.3)))
    assert reading.log_probs.shape == (reading.line.image.shape[1] // ctc.STRIDE, ctc.CLASSES)
    assert np.allclose(np.exp(reading.log_probs).sum(1), 1)


def tiny(**changes: object) -> SequenceConfig:
    base = SequenceConfig(
        epochs=2, numbers=48, val_numbers=16, mnist_share=0.0, batch_size=16, channels=(4, 8, 8), hidden=8, threads=1
    )
    return SequenceConfig(**{**base.to_dict(), **changes})  # type: ignore[arg-type]


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digit_recognizer.training import sequence

    real = sequence.train_one_epoch
    calls = []

    def stop_at_second(*args: object, **kwargs: object) -> dict[str, float]:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sequence, "train_one_epoch", stop_at_second)
    with pytest.raises(SystemExit):
        train_numbers(tiny(), out=tmp_path)
    state = load_state(tmp_path / "last.pt")
    assert len(state["history"]) == 1
    monkeypatch.setattr(sequence, "train_one_epoch", real)
    train_numbers(tiny(), resume=tmp_path / "last.pt")
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["training"]["epochs_trained"] == 2 and card["output"]["blank"] == ctc.BLANK
    assert {d["license"] for d in card["data"]} >= {"CC BY 4.0"}
    with pytest.raises(TrainingError, match="finished run"):
        load_state(tmp_path / "last.pt")
    with pytest.raises(TrainingError, match="not found"):
        load_state(tmp_path / "missing.pt")


def test_the_cli_defaults_are_the_trainers() -> None:
    from digit_recognizer.cli import _sequence_defaults

    cfg = SequenceConfig().to_dict()
    assert all(cfg[k] == v for k, v in _sequence_defaults().items())


# --------------------------------------------------------------------------- the recognizer with and without it


def test_without_a_sequence_model_numbers_are_read_by_the_segmenter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctc, "shipped_model_path", lambda: Path("/nonexistent/number_ctc.onnx"))
    recognizer = Recognizer.load()
    assert recognizer.sequence is None
    assert recognizer.predict_number(touching("25", 0.3)).number == "25"


def test_reading_a_number_with_the_sequence_reader_never_imports_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "tiny.onnx"
    export_onnx(NumberNet((4, 8, 8), 8), path, torch.rand(1, 1, ctc.LINE_HEIGHT, 64))
    script = (
        "import sys; sys.path.insert(0, 'tests'); from drawing import touching;"
        "from digit_recognizer import Recognizer;"
        f"r = Recognizer.load(sequence_model={str(path)!r}); assert r.sequence is not None;"
        "found = r.predict_number(touching('2025', 0.3));"
        "assert all(d.box and 0 <= d.prediction.confidence <= 1 for d in found.digits), found;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_sequence_reading_keeps_a_box_and_a_confidence_for_every_digit(tmp_path: Path) -> None:
    from digit_recognizer.recognizer import _pieces_from_frames

    ink = load_ink(draw("2025", size=(800, 300), box=(40, 40, 760, 260)))
    line = ctc.line_image(ink)
    t = line.image.shape[1] // ctc.STRIDE
    labels = [ctc.BLANK] * t
    for k, d in enumerate((2, 0, 2, 5)):
        labels[(2 * k + 1) * t // 8] = d
    log_probs = np.log(np.where(np.eye(ctc.CLASSES)[labels] > 0, 0.9, 0.01))
    text, spans = ctc.best_path(log_probs)
    pieces = _pieces_from_frames(ink, ctc.Reading(text, spans, log_probs, line))
    assert text == "2025" and len(pieces) == 4
    lefts = [box[0] for box, _ in pieces]
    assert lefts == sorted(lefts) and all(image.shape == (28, 28) for _, image in pieces)
    assert 20 <= pieces[0][0][0] <= 140 and 660 <= pieces[-1][0][2] <= 800

"""The drawing app's logic, without a display: strokes, the off-screen image, undo, throttling,
what the panel and --verbose say, saving corrections, and the CLI's failures.

The real window is tested in test_desktop_gui.py (under Xvfb, with real pointer events).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_recognizer import NumberPrediction, Prediction, Recognizer
from digit_recognizer.desktop import (
    DEFAULT_BRUSH,
    PAPER_DIGIT,
    PAPER_NUMBER,
    PROMPT_DIGIT,
    PROMPT_NUMBER,
    Drawing,
    Recognition,
    Throttle,
    corrections_dir,
    log_line,
    parse_number_correction,
    readout,
    recognize,
    save_correction,
    save_number_correction,
)
from digit_recognizer.evaluation import evaluate_folder

# Digits as pen paths on the 280x280 paper, drawn the way a person draws them with a mouse.
# (test_desktop_gui.py draws the same paths with the real pointer.)
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    1: [[(150, 45), (140, 235)]],
    7: [[(75, 55), (205, 55), (125, 235)]],
    0: [[(140 + 62 * np.sin(t), 140 - 92 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 48)]],
    4: [[(170, 40), (65, 170), (215, 170)], [(170, 40), (170, 240)]],
}


def pen_points(path: list[tuple[float, float]], step: float = 6.0) -> list[tuple[float, float]]:
    """The pointer positions a mouse would report along a path, about ``step`` paper pixels apart."""
    points = [path[0]]
    for a, b in pairwise(path):
        n = max(1, int(np.hypot(b[0] - a[0], b[1] - a[1]) // step))
        points += [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(1, n + 1)]
    return points


def draw(drawing: Drawing, digit: int, dx: float = 0) -> Drawing:
    for path in STROKES[digit]:
        points = [(x + dx, y) for x, y in pen_points(path)]
        drawing.begin_stroke(points[0], DEFAULT_BRUSH)
        for point in points[1:]:
            drawing.extend_stroke(point)
    return drawing


def ink(drawing: Drawing) -> np.ndarray:
    return np.asarray(drawing.image()) < 128


# --------------------------------------------------------------------------- strokes


def test_a_fast_mouse_move_draws_a_continuous_line_not_dots() -> None:
    drawing = Drawing()
    drawing.begin_stroke((40, 140), 20)
    drawing.extend_stroke((240, 140))  # one big jump, as when the mouse moves fast
    assert ink(drawing)[140, 40:241].all()


def test_strokes_have_round_caps() -> None:
    drawing = Drawing()
    drawing.begin_stroke((100, 140), 20)
    drawing.extend_stroke((180, 140))
    mask = ink(drawing)
    assert mask[140, 92] and not mask[140, 88]  # the cap reaches ~half a width past the end
    assert not mask[131, 91]  # ...but its corner is rounded off, not square


def test_tiny_pointer_moves_add_no_points() -> None:
    drawing = Drawing()
    drawing.begin_stroke((100, 100), 20)
    assert not drawing.extend_stroke((100.4, 100.3))
    assert drawing.extend_stroke((110, 100))
    assert len(drawing.strokes[0].points) == 2


def test_a_click_without_moving_leaves_a_dot() -> None:
    drawing = Drawing()
    drawing.begin_stroke((140, 140), 20)
    assert ink(drawing)[140, 140] and ink(drawing).sum() > 200


def test_undo_removes_only_the_last_stroke() -> None:
    four = draw(Drawing(), 4)
    first_stroke_only = Drawing()
    first_stroke_only.strokes = [four.strokes[0]]
    first_stroke_only.resize(PAPER_DIGIT)  # re-renders from the strokes
    assert four.undo() is not None
    assert len(four.strokes) == 1
    assert np.array_equal(ink(four), ink(first_stroke_only))


def test_undo_on_an_empty_drawing_does_nothing() -> None:
    assert Drawing().undo() is None


def test_clear_leaves_blank_paper() -> None:
    drawing = draw(Drawing(), 7)
    drawing.clear()
    assert drawing.is_empty and not ink(drawing).any()


def test_number_paper_keeps_the_strokes_already_drawn() -> None:
    drawing = draw(Drawing(), 7)
    before = ink(drawing)
    drawing.resize(PAPER_NUMBER)
    assert drawing.image().size == PAPER_NUMBER
    assert np.array_equal(ink(drawing)[:, :280], before)


def test_the_image_handed_out_is_a_copy() -> None:
    drawing = Drawing()
    image = drawing.image()
    draw(drawing, 1)
    assert not (np.asarray(image) < 128).any()


# --------------------------------------------------------------------------- throttling


def test_live_recognition_may_run_at_once_the_first_time() -> None:
    assert Throttle().delay(now=5.0) == 0


def test_live_recognition_waits_for_the_interval() -> None:
    throttle = Throttle(interval_s=0.12)
    throttle.record(started=10.0, cost_s=0.005)
    assert throttle.delay(now=10.05) == pytest.approx(0.07)
    assert throttle.delay(now=10.2) == 0


def test_slow_recognition_is_spaced_out_so_drawing_stays_smooth() -> None:
    throttle = Throttle(interval_s=0.12, max_share=0.25)
    throttle.record(started=0.0, cost_s=0.1)  # a slow machine: 100 ms per reading
    assert throttle.delay(now=0.1) == pytest.approx(0.3)  # at most 25 % of the time spent reading


# --------------------------------------------------------------------------- panel and log


def reading(result: Prediction | NumberPrediction, ms: float = 2.1) -> Recognition:
    return Recognition(result, [], ms)


def probs(top: int, p: float, second: int | None = None, p2: float = 0.0) -> tuple[float, ...]:
    rest = (1 - p - p2) / (9 - (second is not None))
    values = [rest] * 10
    values[top] = p
    if second is not None:
        values[second] = p2
    return tuple(values)


def test_an_empty_canvas_shows_a_prompt_not_a_digit() -> None:
    blank = reading(Prediction(None, 0.0, reason="the image is blank"))
    for shown in (readout(None, False), readout(blank, False)):
        assert shown.headline == "" and shown.detail == PROMPT_DIGIT
        assert shown.highlight is None and not any(shown.bars)
    assert readout(None, True).detail == PROMPT_NUMBER


def test_a_confident_digit_is_shown_large_with_its_confidence_and_ten_bars() -> None:
    shown = readout(reading(Prediction(7, 0.98, probs(7, 0.98))), False)
    assert (shown.headline, shown.detail, shown.highlight) == ("7", "98% sure", 7)
    assert len(shown.bars) == 10 and shown.bars[7] == 0.98


def test_an_unsure_digit_names_the_runner_up() -> None:
    shown = readout(reading(Prediction(4, 0.45, probs(4, 0.45, 9, 0.40))), False)
    assert shown.detail == "45% sure, or maybe 9 (40%)"


def test_a_number_is_shown_whole_with_bars_for_its_least_sure_digit() -> None:
    from digit_recognizer import DigitInNumber

    one = DigitInNumber(Prediction(1, 0.99, probs(1, 0.99)), (0, 0, 10, 10))
    seven = DigitInNumber(Prediction(7, 0.70, probs(7, 0.70, 1, 0.2)), (20, 0, 30, 10))
    shown = readout(reading(NumberPrediction("17", [one, seven])), True)
    assert shown.headline == "17"
    assert shown.detail.startswith("69% sure of every digit")
    assert shown.highlight == 7 and shown.bars[7] == 0.70


def test_verbose_log_line_has_digit_confidence_and_time() -> None:
    line = log_line(reading(Prediction(7, 0.98, probs(7, 0.98)), ms=2.1))
    assert line == "recognized digit 7 confidence 0.98 in 2.1 ms"


def test_verbose_log_line_for_numbers_and_blanks() -> None:
    from digit_recognizer import DigitInNumber

    digit = DigitInNumber(Prediction(4, 0.9, probs(4, 0.9)), (0, 0, 1, 1))
    assert log_line(reading(NumberPrediction("44", [digit, digit]), 3.0)) == (
        "recognized number 44 confidence 0.81 in 3.0 ms"
    )
    blank = log_line(reading(Prediction(None, 0.0, reason="the image is blank"), 0.4))
    assert blank == "recognized no digit (the image is blank) in 0.4 ms"


# --------------------------------------------------------------------------- recognition (shipped model)


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_a_drawn_digit_is_recognized(recognizer: Recognizer, digit: int) -> None:
    result = recognize(recognizer, draw(Drawing(), digit).image(), number_mode=False)
    assert isinstance(result.result, Prediction)
    assert result.result.digit == digit, result.result
    assert [a.shape for a in result.seen] == [(28, 28)]


def test_digits_drawn_side_by_side_are_read_as_a_number(recognizer: Recognizer) -> None:
    drawing = Drawing(PAPER_NUMBER)
    for i, digit in enumerate([4, 1, 7]):
        draw(drawing, digit, dx=280 * i)
    result = recognize(recognizer, drawing.image(), number_mode=True)
    assert isinstance(result.result, NumberPrediction)
    assert result.result.number == "417"
    assert len(result.seen) == 3


def test_a_blank_drawing_is_no_digit(recognizer: Recognizer) -> None:
    for number_mode in (False, True):
        result = recognize(recognizer, Drawing().image(), number_mode)
        assert not result.seen and result.result.reason
        assert readout(result, number_mode).headline == ""


# --------------------------------------------------------------------------- corrections


def test_corrections_folder_follows_the_environment(tmp_path: Path) -> None:
    assert corrections_dir({"DIGITS_CORRECTIONS_DIR": str(tmp_path)}) == tmp_path
    xdg = corrections_dir({"XDG_DATA_HOME": "/data"})
    assert xdg == Path("/data/digit-recognizer/corrections")
    assert corrections_dir({}) == Path.home() / ".local/share/digit-recognizer/corrections"


def test_a_correction_is_saved_as_a_png_in_its_digit_folder(tmp_path: Path) -> None:
    image = draw(Drawing(), 7).image()
    when = datetime(2026, 1, 2, 3, 4, 5, 678)
    path = save_correction(image, 7, tmp_path, when)
    assert path == tmp_path / "7" / "20260102-030405-000678.png"
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(image))
    assert save_correction(image, 7, tmp_path, when) != path  # same instant: a second file, not an overwrite


def test_a_correction_must_be_a_digit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0-9"):
        save_correction(Drawing().image(), 12, tmp_path)


def test_a_number_correction_needs_one_digit_per_digit_found() -> None:
    assert parse_number_correction(" 4 17", found=3) == [4, 1, 7]
    with pytest.raises(ValueError, match="Type 3 digit"):
        parse_number_correction("41", found=3)
    with pytest.raises(ValueError, match="0-9 only"):
        parse_number_correction("4a7", found=3)


def test_saved_corrections_are_ready_for_digits_evaluate(recognizer: Recognizer, tmp_path: Path) -> None:
    save_correction(draw(Drawing(), 7).image(), 7, tmp_path)
    number = Drawing(PAPER_NUMBER)
    draw(number, 1)
    draw(number, 0, dx=280)
    found = recognize(recognizer, number.image(), number_mode=True).result
    assert isinstance(found, NumberPrediction)
    saved = save_number_correction(number.image(), [1, 0], [d.box for d in found.digits], tmp_path)
    assert [p.parent.name for p in saved] == ["1", "0"]
    report = evaluate_folder(recognizer.path, tmp_path)
    assert report.n == 3 and report.accuracy == 1.0


# --------------------------------------------------------------------------- the command's failures


def digits_draw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "digit_recognizer", "draw", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_a_bad_model_path_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    done = digits_draw("--model", str(tmp_path / "nope.onnx"), env=dict(os.environ))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "nope.onnx" in done.stderr and "Traceback" not in done.stderr


def test_without_a_display_it_suggests_serve_or_predict(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = digits_draw(env=env)
    assert done.returncode == 2, done.stderr
    assert "digits serve" in done.stderr and "digits predict" in done.stderr
    assert "Traceback" not in done.stderr


def test_number_mode_cuts_digits_that_touch_and_shows_what_the_model_saw(recognizer: Recognizer) -> None:
    from test_recognizer import touching

    reading = recognize(recognizer, touching("25", overlap=0.3), number_mode=True)
    assert isinstance(reading.result, NumberPrediction) and reading.result.number == "25"
    assert len(reading.seen) == 2 and all(x.shape == (28, 28) for x in reading.seen)

"""The drawing app's logic, without a display: strokes, the off-screen image, undo, throttling,
what the panel and --verbose say, saving corrections, and the CLI's failures.

The real window is tested in test_desktop_gui.py (under Xvfb, with real pointer events).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_recognizer import NumberPrediction, Prediction, Recognizer, desktop
from digit_recognizer.corrections import forget, number_items, parse_number, save_all
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
    readout,
    recognize,
    save_correction,
)
from digit_recognizer.desktop.logic import DRAW_BIGGER, Job, Reader, Reading, Recent, is_small, model_picture
from digit_recognizer.evaluation import evaluate_folder
from digit_recognizer.ink import Stroke, read_ndjson
from digit_recognizer.preprocess import BLANK

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
        drawing.end_stroke()
    return drawing


def ink(drawing: Drawing) -> np.ndarray:
    return np.asarray(drawing.image()) < 128


# --------------------------------------------------------------------------- strokes


def test_a_fast_mouse_move_draws_a_continuous_line_not_dots() -> None:
    drawing = Drawing()
    drawing.begin_stroke((40, 140), 20)
    drawing.extend_stroke((240, 140))  # one big jump, as when the mouse moves fast
    drawing.end_stroke()
    assert ink(drawing)[140, 40:241].all()


def test_a_small_digit_drawn_with_a_wide_brush_gets_a_thinner_pen_for_the_model() -> None:
    small = Drawing()
    small.begin_stroke((140, 120), 20)
    small.extend_stroke((140, 160))  # a "1" 40 px tall with a 20 px brush: a blob on screen
    column = ink(small)[140]
    assert 3 <= column.sum() <= 10  # the model gets a pen of about a seventh of the height
    big = draw(Drawing(), 1)
    assert ink(big)[140].sum() >= 18  # a normal-size digit keeps the brush the user chose


def test_a_small_drawing_is_told_to_draw_bigger() -> None:
    small = [Stroke(20, [(140, 120), (140, 160)])]
    assert is_small(small, PAPER_DIGIT) and not is_small(draw(Drawing(), 1).strokes, PAPER_DIGIT)
    shown = readout(Recognition(Prediction(1, 0.9, probs(1, 0.9)), [], 1.0, small=True), False)
    assert DRAW_BIGGER in shown.detail


def test_tiny_pointer_moves_add_no_points() -> None:
    drawing = Drawing()
    drawing.begin_stroke((100, 100), 20)
    assert not drawing.extend_stroke((100.4, 100.3))
    assert drawing.extend_stroke((110, 100))
    assert len(drawing.strokes[0].points) == 2


def test_a_click_without_moving_leaves_a_dot() -> None:
    drawing = Drawing()
    drawing.begin_stroke((140, 140), 20)
    assert ink(drawing)[140, 140] and ink(drawing).sum() >= 9


def test_undo_removes_only_the_last_stroke_and_redo_brings_it_back() -> None:
    four = draw(Drawing(), 4)
    both = ink(four)
    first_stroke_only = Drawing()
    first_stroke_only.history.add(four.strokes[0])
    assert four.undo()
    assert len(four.strokes) == 1
    assert np.array_equal(ink(four), ink(first_stroke_only))
    assert four.redo() and np.array_equal(ink(four), both)


def test_undo_on_an_empty_drawing_does_nothing() -> None:
    assert not Drawing().undo()


def test_undo_is_refused_while_the_pen_is_down() -> None:
    drawing = Drawing()
    drawing.begin_stroke((150, 45), 20)
    drawing.extend_stroke((150, 100))
    assert not drawing.undo()  # Ctrl+Z mid-stroke: the stroke is kept whole
    drawing.end_stroke()
    assert drawing.undo() and drawing.is_empty
    assert not drawing.extend_stroke((150, 200))  # moves after the pen is up draw nothing


def test_clear_can_be_undone() -> None:
    drawing = draw(Drawing(), 7)
    before = ink(drawing)
    assert drawing.clear() and drawing.is_empty
    assert drawing.undo() and np.array_equal(ink(drawing), before)


def test_switching_to_the_smaller_paper_keeps_every_stroke_as_drawn_and_on_the_paper() -> None:
    drawing = Drawing(PAPER_NUMBER)
    for i, digit in enumerate([4, 1, 7]):
        draw(drawing, digit, dx=280 * i)
    drawn = drawing.snapshot()
    drawing.undo()  # the 7 is undone: redo must bring it back on the paper too
    drawing.set_paper(PAPER_DIGIT)
    drawing.redo()
    assert drawing.snapshot() == drawn  # nothing moved, nothing shrank
    for stroke in drawing.strokes:
        x0, y0, x1, y1 = stroke.box()
        assert x0 >= 0 and y0 >= 0 and x1 <= drawing.size[0] and y1 <= drawing.size[1]
    drawing.set_paper(PAPER_NUMBER)
    assert drawing.snapshot() == drawn and drawing.size == PAPER_NUMBER


def test_an_empty_drawing_gets_the_modes_own_paper() -> None:
    drawing = Drawing(PAPER_NUMBER)
    drawing.set_paper(PAPER_DIGIT)
    assert drawing.size == PAPER_DIGIT


def test_clear_leaves_blank_paper() -> None:
    drawing = draw(Drawing(), 7)
    drawing.clear()
    assert drawing.is_empty and not ink(drawing).any()


def test_number_paper_keeps_the_strokes_already_drawn() -> None:
    drawing = draw(Drawing(), 7)
    before = ink(drawing)
    drawing.set_paper(PAPER_NUMBER)
    assert drawing.image().size == PAPER_NUMBER
    assert np.array_equal(ink(drawing)[:, :280], before)


def test_a_drawing_brought_back_from_the_recent_list_can_be_undone() -> None:
    drawing = draw(Drawing(), 7)
    seven = drawing.snapshot()
    drawing.clear()
    draw(drawing, 1)
    drawing.show(seven)
    assert drawing.snapshot() == seven
    assert drawing.undo() and len(drawing.strokes) == 1


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


def test_a_stray_mark_says_why_it_is_not_a_digit() -> None:
    shown = readout(reading(Prediction(None, 0.0, reason="a tap or dots, not a digit: draw a digit")), False)
    assert shown.headline == "?" and "a tap or dots" in shown.detail


def test_an_empty_canvas_shows_a_prompt_not_a_digit() -> None:
    blank = reading(Prediction(None, 0.0, reason=BLANK))
    for shown in (readout(None, False), readout(blank, False)):
        assert shown.headline == "" and shown.detail == PROMPT_DIGIT
        assert shown.highlight is None and not any(shown.bars)
    assert readout(None, True).detail == PROMPT_NUMBER


def test_a_confident_digit_is_shown_large_with_its_confidence_and_ten_bars() -> None:
    shown = readout(reading(Prediction(7, 0.98, probs(7, 0.98))), False)
    assert (shown.headline, shown.detail, shown.highlight) == ("7", "98% sure", 7)
    assert len(shown.bars) == 10 and shown.bars[7] == 0.98


def test_an_unsure_digit_is_shown_as_unsure_with_the_runner_up() -> None:
    shown = readout(reading(Prediction(4, 0.45, probs(4, 0.45, 9, 0.40))), False)
    assert shown.headline == "4 or 9?"
    assert shown.detail == "not sure: 45%, or maybe 9 (40%)"
    assert shown.answer == "4"  # what Ctrl+C copies


def test_a_number_is_shown_whole_with_bars_for_its_least_sure_digit() -> None:
    from digit_recognizer import DigitInNumber

    one = DigitInNumber(Prediction(1, 0.99, probs(1, 0.99)), (0, 0, 10, 10))
    seven = DigitInNumber(Prediction(7, 0.70, probs(7, 0.70, 1, 0.2)), (20, 0, 30, 10))
    shown = readout(reading(NumberPrediction("17", [one, seven])), True)
    assert shown.headline == "17?" and shown.answer == "17"  # the 7 is unsure (70%)
    assert shown.detail.startswith("not sure of the 7 (or 1?)")
    assert shown.highlight == 7 and shown.bars[7] == 0.70
    sure = DigitInNumber(Prediction(7, 0.95, probs(7, 0.95)), (20, 0, 30, 10))
    assert readout(reading(NumberPrediction("17", [one, sure])), True).detail.startswith("94% sure of every digit")


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


def test_a_correction_is_saved_as_a_png_and_its_strokes_in_its_digit_folder(tmp_path: Path) -> None:
    drawing = draw(Drawing(), 7)
    image = drawing.image()
    when = datetime(2026, 1, 2, 3, 4, 5, 678)
    path = save_correction(image, 7, tmp_path, when, strokes=drawing.snapshot())
    assert path == tmp_path / "7" / "20260102-030405-000678.png"
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(image))
    (sample,) = read_ndjson(path.with_suffix(".ndjson"))
    assert sample.label == 7 and [s.width for s in sample.strokes] == [s.width for s in drawing.strokes]
    assert np.allclose(sample.strokes[0].points, drawing.strokes[0].points, atol=0.01)
    assert save_correction(image, 7, tmp_path, when) != path  # same instant: a second file, not an overwrite
    assert not list(tmp_path.rglob(".*"))  # no temporary files left


def test_a_correction_must_be_a_digit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0-9"):
        save_correction(Drawing().image(), 12, tmp_path)


def test_a_typed_number_must_be_digits() -> None:
    assert parse_number(" 4 17") == [4, 1, 7]
    with pytest.raises(ValueError, match="Type 3 digit"):
        parse_number("41", found=3)
    with pytest.raises(ValueError, match="0-9 only"):
        parse_number("4a7")


def number_drawing(*digits: int) -> Drawing:
    drawing = Drawing(PAPER_NUMBER)
    for i, digit in enumerate(digits):
        draw(drawing, digit, dx=280 * i)
    return drawing


def test_saved_corrections_are_ready_for_digits_evaluate(recognizer: Recognizer, tmp_path: Path) -> None:
    save_correction(draw(Drawing(), 7).image(), 7, tmp_path)
    number = number_drawing(1, 0)
    found = recognize(recognizer, number.image(), number_mode=True).result
    assert isinstance(found, NumberPrediction)
    items = number_items(number.image(), [1, 0], [d.box for d in found.digits], number.snapshot())
    saved = save_all(items, tmp_path)
    assert [p.parent.name for p in saved] == ["1", "0"]
    one, zero = (next(read_ndjson(p.with_suffix(".ndjson"))) for p in saved)
    assert (len(one.strokes), len(zero.strokes)) == (1, 1)  # each digit keeps the strokes of its own box
    report = evaluate_folder(recognizer.path, tmp_path)
    assert report.n == 3 and report.accuracy == 1.0


def test_a_number_correction_is_saved_all_or_nothing(tmp_path: Path) -> None:
    number = number_drawing(4, 1, 7)
    boxes = [(280 * i + 40, 30, 280 * i + 240, 250) for i in range(3)]
    items = number_items(number.image(), [4, 1, 7], boxes, number.snapshot())
    (tmp_path / "1").write_text("a file where the folder for 1 should be")
    with pytest.raises(OSError):
        save_all(items, tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / "1"]  # nothing of the 4 or 7 kept
    (tmp_path / "1").unlink()
    saved = save_all(items, tmp_path)
    assert len(list(tmp_path.rglob("*.png"))) == 3 and len(list(tmp_path.rglob("*.ndjson"))) == 3
    forget(saved)  # a mistyped correction taken back
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.ndjson"))


def test_a_number_correction_needs_one_digit_per_digit_box(tmp_path: Path) -> None:
    number = number_drawing(4, 1)
    with pytest.raises(ValueError, match="Type 2 digit"):
        number_items(number.image(), [4, 1, 7], [(0, 0, 280, 280), (280, 0, 560, 280)], number.snapshot())


# --------------------------------------------------------------------------- the worker and the recent list


def test_the_reader_answers_on_its_thread_and_keeps_only_the_newest_waiting_job(recognizer: Recognizer) -> None:
    reader = Reader(recognizer)
    seven, one = draw(Drawing(), 7).snapshot(), draw(Drawing(), 1).snapshot()
    for seq in range(1, 20):  # a burst: most jobs are replaced before they start
        reader.submit(Job(seq, seven if seq < 19 else one, PAPER_DIGIT, False))
    answers: list[tuple[Job, object]] = []
    deadline = time.monotonic() + 30
    while not any(job.seq == 19 for job, _ in answers) and time.monotonic() < deadline:
        answers += reader.take()
        time.sleep(0.01)
    reader.close()
    newest = [r for job, r in answers if job.seq == 19]
    assert newest and isinstance(newest[0], Recognition) and newest[0].result.digit == 1
    assert len(answers) < 19  # jobs overtaken while waiting were never run


def test_the_recent_list_keeps_the_newest_readings_once() -> None:
    recent = Recent(size=3)
    seven = draw(Drawing(), 7).snapshot()
    assert recent.add(Reading("7", seven, False))
    assert not recent.add(Reading("7", seven, False))  # the same drawing read again
    assert not recent.add(Reading("", (), False))  # no answer: nothing to keep
    for answer in ("1", "2", "3"):
        recent.add(Reading(answer, (Stroke(20, [(0, int(answer))]),), False))
    assert [r.answer for r in recent.items] == ["3", "2", "1"]


def test_a_number_drawn_stroke_by_stroke_is_one_recent_reading() -> None:
    recent = Recent()
    strokes = [Stroke(20, [(x, 0), (x, 100)]) for x in (0, 100, 200, 300)]
    for n, answer in enumerate(["2", "20", "202", "2025"], start=1):  # each pen lift is read
        recent.add(Reading(answer, tuple(strokes[:n]), True))
    recent.add(Reading("202", tuple(strokes[:3]), True))  # the 5 undone: still the same drawing
    assert [r.answer for r in recent.items] == ["202"]
    recent.add(Reading("1", (Stroke(20, [(5, 5)]),), True))  # a new drawing
    assert [r.answer for r in recent.items] == ["1", "202"]


def test_the_model_picture_is_drawn_from_strokes_alone() -> None:
    drawing = draw(Drawing(), 7)
    assert np.array_equal(np.asarray(model_picture(drawing.snapshot(), PAPER_DIGIT)), np.asarray(drawing.image()))


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
    assert "on a server): use `digits serve`" in done.stderr  # one sentence, not "...): Use"
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_number_mode_cuts_digits_that_touch_and_shows_what_the_model_saw(recognizer: Recognizer) -> None:
    from test_recognizer import touching

    reading = recognize(recognizer, touching("25", overlap=0.3), number_mode=True)
    assert isinstance(reading.result, NumberPrediction) and reading.result.number == "25"
    assert len(reading.seen) == 2 and all(x.shape == (28, 28) for x in reading.seen)


def test_the_desktop_modules_import_each_other_without_a_loop() -> None:
    import ast

    folder = Path(desktop.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
        imports[path.stem] = {name for name in found if name and (folder / f"{name}.py").is_file()}

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in imports[start])

    loops = [name for name in imports if reaches(name, name)]
    assert not loops, f"modules in an import loop: {loops}"

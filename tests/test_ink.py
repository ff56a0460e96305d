"""ink: the drawing model shared by the apps, corrections and training."""

from __future__ import annotations

import numpy as np
import pytest

from digit_recognizer.ink import History, InkFormatError, InkSample, Stroke, parse_sample, render, render_fitted


def stroke(*points: tuple[float, float], width: float = 10) -> Stroke:
    return Stroke(width, list(points))


def test_undo_and_redo_walk_the_changes_back_and_forth() -> None:
    history = History()
    a, b = stroke((0, 0), (10, 10)), stroke((5, 5))
    history.add(a)
    history.add(b)
    assert history.undo() and history.strokes == [a]
    assert history.redo() and history.strokes == [a, b]
    assert not history.redo()


def test_clear_is_undoable_and_a_new_stroke_empties_redo() -> None:
    history = History()
    a = stroke((0, 0))
    history.add(a)
    assert history.clear() and history.is_empty
    assert not history.clear()  # nothing left to clear: no new entry
    assert history.undo() and history.strokes == [a]
    history.undo()
    history.add(stroke((1, 1)))
    assert not history.can_redo


def test_an_earlier_drawing_brought_back_is_one_undoable_change() -> None:
    history = History()
    a, b = stroke((0, 0)), stroke((9, 9))
    history.add(a)
    history.replace([b])
    assert history.strokes == [b]
    assert history.undo() and history.strokes == [a]


def test_every_stroke_includes_undone_and_cleared_ones_once() -> None:
    history = History()
    a, b = stroke((0, 0)), stroke((9, 9))
    history.add(a)
    history.add(b)
    history.undo()  # b can be redone: still held
    assert sorted(map(id, history.every_stroke())) == sorted(map(id, [a, b]))
    history.clear()  # a new change: b cannot come back any more; a can (undo the clear)
    assert [id(s) for s in history.every_stroke()] == [id(a)]


def test_a_stroke_growing_after_it_was_added_is_seen_by_undo_and_redo() -> None:
    history = History()
    s = stroke((0, 0))
    history.add(s)
    s.points.append((20, 20))  # the pen is still moving
    history.undo()
    history.redo()
    assert history.strokes[0].points == [(0, 0), (20, 20)]


def test_render_draws_round_capped_strokes_black_on_white() -> None:
    image = np.asarray(render([stroke((100, 140), (180, 140), width=20)], (280, 280)))
    assert image[140, 140] < 50 and image[10, 10] == 255
    assert image[140, 92] < 128 and image[140, 88] > 128  # the cap reaches half a width past the end
    assert image[131, 91] > 128  # ...rounded, not square


def test_render_fitted_places_the_ink_at_the_share_of_height_asked() -> None:
    canvas = render_fitted([stroke((0, 0), (0, 100), width=1)], (280, 280), height_share=0.5, centre=(140, 140), pen=4)
    rows = np.flatnonzero((canvas < 128).any(axis=1))
    assert 134 <= rows[-1] - rows[0] <= 146  # 50% of 280, plus the pen


def test_a_sample_survives_the_json_lines_format() -> None:
    sample = InkSample(7, (stroke((1.234, 2), (3, 4.5), width=18),), writer="me")
    again = parse_sample(sample.to_json(source="desktop"))
    assert again.label == 7 and again.writer == "me" and again.strokes[0].width == 18
    assert again.strokes[0].points == [(1.23, 2.0), (3.0, 4.5)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"label": "12", "drawing": [[[1], [2]]]}', "not a digit"),
        ('{"label": "1", "drawing": [[[1, 2], [2]]]}', "same non-zero length"),
        ('{"label": "1"}', "missing field 'drawing'"),
        ("not json", "not valid JSON"),
    ],
)
def test_a_bad_line_is_an_error_that_says_where_and_why(line: str, message: str) -> None:
    with pytest.raises(InkFormatError, match=message) as error:
        parse_sample(line, "file.ndjson:3")
    assert str(error.value).startswith("file.ndjson:3")

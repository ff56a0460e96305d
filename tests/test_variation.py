"""Another take of a real digit, and the styles the data lacks, drawn from its strokes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from digit_recognizer import synth, unipen, variation
from digit_recognizer.ink import InkSample, Stroke, bounding_box
from digit_recognizer.training.handwriting import as_model_input


@pytest.fixture(scope="module")
def train_digits() -> dict[int, list[InkSample]]:
    samples = unipen.load(("train",)).samples
    return {d: [s for s in samples if s.label == d][:40] for d in range(10)}


def box(strokes: list[Stroke]) -> tuple[float, float, float, float]:
    found = bounding_box([Stroke(0.0, s.points) for s in strokes])
    assert found is not None
    return found


def size(strokes: list[Stroke]) -> tuple[float, float]:
    x0, y0, x1, y1 = box(strokes)
    return x1 - x0, y1 - y0


def test_another_take_moves_every_stroke_a_little_and_keeps_the_digit_whole(
    train_digits: dict[int, list[InkSample]],
) -> None:
    rng = np.random.default_rng(0)
    for sample in train_digits[5][:20]:
        take = variation.vary(sample.strokes, rng)
        points = np.array([p for s in take for p in s.points])
        assert np.isfinite(points).all()
        assert len(take) >= len(sample.strokes)  # a pen lift can split a stroke, nothing is lost
        (w0, h0), (w1, h1) = size(list(sample.strokes)), size(take)
        assert 0.6 < h1 / h0 < 1.6 and 0.4 < (w1 + 1) / (w0 + 1) < 2.5
        assert take[0].points[0] != sample.strokes[0].points[0]


def test_another_take_is_the_same_for_the_same_seed(train_digits: dict[int, list[InkSample]]) -> None:
    sample = train_digits[3][0]
    one = variation.vary(sample.strokes, np.random.default_rng(7))
    two = variation.vary(sample.strokes, np.random.default_rng(7))
    assert [s.points for s in one] == [s.points for s in two]


def test_a_long_stroke_is_sometimes_broken_by_a_pen_lift(train_digits: dict[int, list[InkSample]]) -> None:
    rng = np.random.default_rng(1)
    lifted = sum(len(variation.vary(s.strokes, rng)) > len(s.strokes) for s in train_digits[0] for _ in range(5))
    assert 0 < lifted < 0.3 * 5 * len(train_digits[0])


def test_a_flag_rises_from_the_left_to_the_top_of_the_one(train_digits: dict[int, list[InkSample]]) -> None:
    rng = np.random.default_rng(2)
    for sample in train_digits[1][:20]:
        flagged = variation.one_with_flag(sample.strokes, rng, foot=False)
        (_, y0, _, y1), (_, fy0, _, fy1) = box(list(sample.strokes)), box(flagged)
        top = min((p for s in sample.strokes for p in s.points), key=lambda p: p[1])
        start = max(flagged, key=lambda s: s.length()).points[0]
        assert start[0] < top[0] - 0.1 * (y1 - y0) and start[1] > top[1]  # below and left of the top
        assert math.isclose(fy0, y0) and math.isclose(fy1, y1)  # within the stem's height
        assert len(flagged) == len(sample.strokes)  # drawn in one go with the stem


def test_a_foot_is_one_more_stroke_across_the_bottom_of_the_one(train_digits: dict[int, list[InkSample]]) -> None:
    sample = train_digits[1][0]
    footed = variation.one_with_flag(sample.strokes, np.random.default_rng(3), foot=True)
    assert len(footed) == len(sample.strokes) + 1
    (x0, y0), (x1, y1) = footed[-1].points[0], footed[-1].points[-1]
    assert abs(y1 - y0) < 0.1 * size(list(sample.strokes))[1] < abs(x1 - x0)


def test_a_crossbar_crosses_the_seven_near_its_middle(train_digits: dict[int, list[InkSample]]) -> None:
    rng = np.random.default_rng(4)
    for sample in train_digits[7][:20]:
        crossed = variation.seven_crossed(sample.strokes, rng)
        bar = crossed[-1]
        _, y0, _, y1 = box(list(sample.strokes))
        height = y1 - y0
        middle = (bar.points[0][1] + bar.points[-1][1]) / 2
        assert y0 + 0.35 * height < middle < y0 + 0.7 * height
        assert abs(bar.points[-1][0] - bar.points[0][0]) > 0.25 * height


def test_a_looped_two_has_a_small_loop_and_the_same_size(train_digits: dict[int, list[InkSample]]) -> None:
    sample = train_digits[2][0]
    looped = variation.two_looped(sample.strokes, np.random.default_rng(5))
    assert sum(len(s.points) for s in looped) == sum(len(s.points) for s in sample.strokes) + 12
    w, h = size(list(sample.strokes))
    lw, lh = size(looped)
    assert lw < 1.3 * w + 1 and lh < 1.3 * h + 1


def test_a_cursive_nine_has_a_small_head_on_a_long_tail(train_digits: dict[int, list[InkSample]]) -> None:
    rng = np.random.default_rng(6)
    for sample in train_digits[9][:10]:
        _, y0, _, y1 = box(list(sample.strokes))
        neck = y0 + 0.45 * (y1 - y0)  # where the head ends, in the written digit
        _, cy0, _, cy1 = box(variation.nine_long_tail(sample.strokes, rng))
        assert (cy1 - neck) / (neck - cy0) > 1.3 * (y1 - neck) / (neck - y0)


def test_a_flat_lower_loop_makes_the_eight_shorter(train_digits: dict[int, list[InkSample]]) -> None:
    sample = train_digits[8][0]
    assert size(variation.eight_flat_loop(sample.strokes, np.random.default_rng(8)))[1] < size(list(sample.strokes))[1]


@pytest.mark.parametrize("label", sorted(variation.GENERATED_STYLES))
def test_every_generated_style_yields_a_picture_the_apps_can_read(
    label: int, train_digits: dict[int, list[InkSample]]
) -> None:
    rng = np.random.default_rng(label)
    for sample in train_digits[label][:10]:
        made = variation.generated_style(label, sample.strokes, rng)
        assert made is not None and made[0] in variation.GENERATED_STYLES[label]
        for style in synth.STYLES.values():
            x = as_model_input(style(made[1], rng))
            assert x is not None and x.max() > 200


def test_digits_without_a_generated_style_get_none(train_digits: dict[int, list[InkSample]]) -> None:
    assert variation.generated_style(0, train_digits[0][0].strokes, np.random.default_rng(0)) is None

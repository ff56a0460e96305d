"""The sequence reader's recognition side (numpy only): decoding, the forward algorithm, the combination."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from digit_recognizer import ctc
from digit_recognizer.combine import SEGMENTER_SURE, SEQUENCE_SURE, choose
from digit_recognizer.ctc import BLANK, CLASSES, best_path, digit_columns, line_image, log_probability, log_softmax
from digit_recognizer.preprocess import load_ink
from drawing import draw, touching


def frames(*labels: int, sure: float = 0.9) -> np.ndarray:
    """(T, CLASSES) log probabilities: each frame sure of its label, the rest shared."""
    p = np.full((len(labels), CLASSES), (1 - sure) / (CLASSES - 1))
    p[np.arange(len(labels)), labels] = sure
    return np.log(p)


def collapse(alignment: tuple[int, ...]) -> str:
    out, previous = [], BLANK
    for label in alignment:
        if label != BLANK and label != previous:
            out.append(str(label))
        previous = label
    return "".join(out)


def brute_force(log_probs: np.ndarray, text: str) -> float:
    """log of the sum, over every frame labelling that collapses to ``text``, of its probability."""
    total = 0.0
    for alignment in itertools.product(range(CLASSES), repeat=len(log_probs)):
        if collapse(alignment) == text:
            total += math.exp(sum(log_probs[t, a] for t, a in enumerate(alignment)))
    return math.log(total) if total > 0 else -math.inf


# --------------------------------------------------------------------------- decoding


def test_best_path_merges_repeats_and_drops_blanks() -> None:
    text, spans = best_path(frames(1, 1, BLANK, 1, 7, 7, BLANK))
    assert text == "117"
    assert spans == [(0, 2), (3, 4), (4, 6)]


def test_best_path_of_only_blanks_is_empty() -> None:
    assert best_path(frames(BLANK, BLANK, BLANK)) == ("", [])


@pytest.mark.parametrize("text", ["", "3", "11", "12", "101"])
def test_forward_algorithm_equals_the_sum_over_every_alignment(text: str) -> None:
    rng = np.random.default_rng(len(text))
    log_probs = log_softmax(rng.normal(0, 1.5, size=(5, CLASSES)))
    assert log_probability(log_probs, text) == pytest.approx(brute_force(log_probs, text), abs=1e-9)


def test_a_string_too_long_for_the_frames_is_impossible() -> None:
    log_probs = log_softmax(np.zeros((3, CLASSES)))
    assert log_probability(log_probs, "11") > -math.inf  # 1, blank, 1
    assert log_probability(log_probs, "111") == -math.inf  # needs five frames


def test_the_decoded_string_is_the_likeliest_of_its_neighbours() -> None:
    log_probs = frames(2, BLANK, 5, 5, BLANK)
    assert log_probability(log_probs, "25") > max(log_probability(log_probs, s) for s in ("2", "5", "255", "52"))


# --------------------------------------------------------------------------- the line image


def test_line_image_has_the_fixed_height_and_a_width_in_whole_frames() -> None:
    line = line_image(load_ink(draw("2025", size=(800, 300), box=(40, 40, 760, 260))))
    assert line.image.shape[0] == ctc.LINE_HEIGHT and line.image.shape[1] % ctc.STRIDE == 0
    assert line.image.max() > 0.9 and line.image[:, :2].max() == 0  # ink inside, a blank margin
    assert 2 < line.image.shape[1] / ctc.LINE_HEIGHT < 5  # four digits, each narrower than tall


def test_both_polarities_give_the_same_line() -> None:
    dark = line_image(load_ink(draw("47", size=(400, 200), dark_on_light=True)))
    light = line_image(load_ink(draw("47", size=(400, 200), dark_on_light=False)))
    assert dark.image.shape == light.image.shape
    assert np.abs(dark.image - light.image).mean() < 0.02


def test_digit_columns_split_between_neighbouring_digits() -> None:
    ink = load_ink(touching("25", 0.3))
    line = line_image(ink)
    t = line.image.shape[1] // ctc.STRIDE
    labels = [BLANK] * t
    labels[t // 4], labels[3 * t // 4] = 2, 5
    reading = ctc.Reading("25", [(t // 4, t // 4 + 1), (3 * t // 4, 3 * t // 4 + 1)], frames(*labels), line)
    (a0, a1), (b0, b1) = digit_columns(reading, (10, 500))
    assert a0 == 10 and b1 == 500 and a1 == b0 and 10 < a1 < 500


# --------------------------------------------------------------------------- combining both readers


def test_the_sequence_reader_settles_the_count_of_touching_digits() -> None:
    # The segmenter reads one blob as "8" (unsure); its 2-digit alternative "00" scores a little lower.
    readings = [("8", -1.0), ("00", -2.5), ("800", -9.0)]
    ctc_scores = {"8": -12.0, "00": -0.2, "800": -20.0}
    choice = choose(readings, ctc_scores.__getitem__, "00", weakest=0.6)
    assert (choice.index, choice.text) == (1, "00")


def test_a_sure_segmenter_reading_that_the_sequence_reader_also_likes_stays() -> None:
    readings = [("25", -0.3), ("2", -6.0), ("255", -7.0)]
    ctc_scores = {"25": -1.0, "2": -9.0, "255": -4.0}
    assert choose(readings, ctc_scores.__getitem__, "255", weakest=0.95).index == 0


def test_the_sequence_string_is_taken_only_when_it_is_sure_and_the_segmenter_is_not() -> None:
    readings = [("17", -1.0), ("1", -4.0)]
    ctc_scores = {"17": -8.0, "1": -15.0, "77": -0.1}
    unsure = choose(readings, ctc_scores.__getitem__, "77", weakest=SEGMENTER_SURE - 0.2)
    sure = choose(readings, ctc_scores.__getitem__, "77", weakest=SEGMENTER_SURE + 0.1)
    assert (unsure.index, unsure.text) == (None, "77")
    assert sure.index == 0
    ctc_scores["77"] = SEQUENCE_SURE - 1.0  # not sure enough of its own string
    assert choose(readings, ctc_scores.__getitem__, "77", weakest=0.3).index == 0


def test_with_a_count_given_only_readings_of_that_count_compete() -> None:
    readings = [("12", -3.0), ("1", -0.5), ("123", -4.0)]
    ctc_scores = {"12": -6.0, "1": -0.1, "123": -5.0, "9": -0.1}
    choice = choose(readings, ctc_scores.__getitem__, "9", weakest=0.2, digits=2)
    assert (choice.index, choice.text) == (0, "12")

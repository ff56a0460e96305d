"""What the window decides, with no Tk in it, so the tests check it without a display.

``Drawing``: the strokes (an ``ink.History``, so undo, redo and an undoable Clear) and
the picture the model reads, rendered off-screen from them. ``Reader``: recognition on
a worker thread, newest drawing first, stale answers dropped. ``readout``: the words
and bars shown for a reading. ``Throttle``: when live recognition may run while the
pen moves. ``Recent``: the last readings, to bring one back.

Why an off-screen picture: the original apps grabbed the screen, which works on Windows
only and captures the wrong area on scaled displays. The strokes are kept in "paper"
pixels that do not depend on the window's size or the screen's DPI, so the model sees
the same picture however the window is sized.
"""

from __future__ import annotations

import contextlib
import math
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .. import ink
from ..ink import Point, Stroke
from ..preprocess import BLANK, NoDigit
from ..recognizer import NumberPrediction, Prediction, Recognizer

PAPER_DIGIT = (280, 280)  # paper size for one digit: 10x MNIST's 28x28, in paper pixels
PAPER_NUMBER = (840, 280)  # number mode: room for three or four digits side by side
DEFAULT_BRUSH = 24  # pen width on screen, in pixels of a 96 dpi screen: the same in both modes, at any size
BRUSH_RANGE = (6, 48)  # the brush slider's limits, in the same pixels
MIN_STEP = 1.0  # paper pixels: pointer moves shorter than this add no point to a stroke
PEN_SHARE = 1 / 7  # the model's pen is at most this share of the drawing's size (small digits stay legible)
MIN_PEN = 4.0  # paper pixels: the thinnest pen the model is given (a tap stays a visible dot)
SMALL_SHARE = 0.3  # a drawing under this share of the paper's height gets "draw bigger"
LIVE_INTERVAL_S = 0.12  # live recognition at most this often while drawing
LIVE_MAX_SHARE = 0.25  # ...and never more than this share of the time, so the pen never stutters
SWITCH_INTERVAL_S = 0.001  # how often Python threads take turns (see Reader)

PROMPT_DIGIT = "Draw a digit in the white box"
PROMPT_NUMBER = "Draw a number: digits side by side"
DRAW_BIGGER = "small drawing: draw bigger for a surer reading"


# --------------------------------------------------------------------------- the drawing


class Drawing:
    """The strokes drawn so far on a paper of ``size``, and the picture the model reads."""

    def __init__(self, size: tuple[int, int] = PAPER_DIGIT) -> None:
        self.size = size
        self.history = ink.History()
        self._drawing_stroke = False  # between pen down and pen up

    @property
    def strokes(self) -> list[Stroke]:
        return self.history.strokes

    @property
    def is_empty(self) -> bool:
        return self.history.is_empty

    @property
    def pen_is_down(self) -> bool:
        return self._drawing_stroke

    def begin_stroke(self, point: Point, width: float) -> None:
        self.history.add(Stroke(width, [point]))
        self._drawing_stroke = True

    def extend_stroke(self, point: Point) -> bool:
        """Continue the stroke being drawn to ``point``; False when the move is too small or no pen is down."""
        if not self._drawing_stroke or not self.strokes:
            return False
        stroke = self.strokes[-1]
        if math.dist(stroke.points[-1], point) < MIN_STEP:
            return False
        stroke.points.append(point)
        return True

    def end_stroke(self) -> None:
        self._drawing_stroke = False

    def undo(self) -> bool:
        """Take back the last change (a stroke, a Clear); never while a stroke is being drawn."""
        return not self._drawing_stroke and self.history.undo()

    def redo(self) -> bool:
        return not self._drawing_stroke and self.history.redo()

    def clear(self) -> bool:
        self._drawing_stroke = False
        return self.history.clear()

    def show(self, strokes: Sequence[Stroke]) -> None:
        """Bring back an earlier drawing (undoable)."""
        self._drawing_stroke = False
        self.history.replace([Stroke(s.width, list(s.points)) for s in strokes])

    def set_paper(self, size: tuple[int, int]) -> None:
        """Change the paper (digit or number mode) and keep every stroke as drawn.

        Nothing is moved or scaled: a mode switch is not an edit, so there is nothing for
        undo to restore. The paper grows past ``size`` where strokes the history holds
        (shown, undone or cleared) reach further, so none falls outside it, now or after
        an undo; the window then shows the wider paper at a smaller scale.
        """
        box = ink.bounding_box(self.history.every_stroke())
        reach = (0.0, 0.0) if box is None else (box[2], box[3])
        self.size = (max(size[0], math.ceil(reach[0])), max(size[1], math.ceil(reach[1])))

    def snapshot(self) -> tuple[Stroke, ...]:
        """A copy of the strokes, safe to hand to another thread while drawing goes on."""
        return tuple(Stroke(s.width, list(s.points)) for s in self.strokes)

    def image(self) -> Image.Image:
        """The picture the model reads (mode "L", black on white): see ``model_picture``."""
        return model_picture(self.snapshot(), self.size)


def model_picture(strokes: Sequence[Stroke], size: tuple[int, int]) -> Image.Image:
    """The strokes drawn for the model, the pen thinned for small drawings.

    A small digit drawn with a wide brush is a blob on screen; MNIST's pen is about a
    seventh of the digit's height, so the model gets the same path with at most that pen.
    """
    return ink.render(with_fitting_pen(strokes), size)


def with_fitting_pen(strokes: Sequence[Stroke]) -> list[Stroke]:
    box = ink.bounding_box([Stroke(0.0, s.points) for s in strokes if s.points])
    if box is None:
        return list(strokes)
    most = max(MIN_PEN, max(box[2] - box[0], box[3] - box[1]) * PEN_SHARE)
    return [Stroke(min(s.width, most), s.points) for s in strokes]


def drawing_height(strokes: Sequence[Stroke]) -> float | None:
    """The height of the pen's path (pen width left out); None for no strokes."""
    box = ink.bounding_box([Stroke(0.0, s.points) for s in strokes if s.points])
    return None if box is None else box[3] - box[1]


def is_small(strokes: Sequence[Stroke], size: tuple[int, int]) -> bool:
    height = drawing_height(strokes)
    return height is not None and height < SMALL_SHARE * size[1]


# --------------------------------------------------------------------------- recognition


@dataclass(frozen=True)
class Recognition:
    """One reading of the drawing: the result, the 28x28 images the model saw, and the time taken."""

    result: Prediction | NumberPrediction
    seen: list[np.ndarray]
    elapsed_ms: float
    small: bool = False  # the drawing is small: the window says "draw bigger"


def recognize(recognizer: Recognizer, image: Image.Image, number_mode: bool, small: bool = False) -> Recognition:
    """Read a digit (or, in number mode, a number) from the picture, keeping what the model saw."""
    started = time.perf_counter()
    result: Prediction | NumberPrediction
    seen: list[np.ndarray] = []
    if number_mode:
        result = recognizer.predict_number(image)
        seen = [d.image for d in result.digits if d.image is not None]
    else:
        try:
            seen = [recognizer.preprocess(image)]
            result = Prediction.from_probabilities(recognizer.scores(seen[0][None])[0])
        except NoDigit as blank:
            result = Prediction(None, 0.0, reason=str(blank))
    return Recognition(result, seen, (time.perf_counter() - started) * 1000, small)


@dataclass(frozen=True)
class Job:
    """A drawing to read: ``seq`` numbers requests so only the newest answer is shown."""

    seq: int
    strokes: tuple[Stroke, ...]
    size: tuple[int, int]
    number_mode: bool
    final: bool = False  # the reading on pen release (or Enter), kept in the recent list
    started: float = 0.0  # time.perf_counter() when it was asked for


class Reader:
    """Recognition on a worker thread, so the pen never waits for the model.

    ``submit`` never blocks: a job waiting to start is replaced by a newer one (only the
    latest drawing matters). ``take`` returns finished readings; the window polls it
    with ``after`` while a job is out and shows a reading only if it is the newest.
    """

    def __init__(self, recognizer: Recognizer) -> None:
        # Python hands the GIL over every 5 ms by default: while the worker runs Python code the
        # pen would wait that long for each pointer event. 1 ms keeps the window responsive.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self.recognizer = recognizer
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._done: queue.Queue[tuple[Job, Recognition | Exception]] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="digits-reader", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        while True:
            try:
                self._jobs.put_nowait(job)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._jobs.get_nowait()  # an older job that has not started: drop it

    def take(self) -> list[tuple[Job, Recognition | Exception]]:
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.submit(None)  # type: ignore[arg-type]

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                image = model_picture(job.strokes, job.size)
                reading: Recognition | Exception = recognize(
                    self.recognizer, image, job.number_mode, is_small(job.strokes, job.size)
                )
            except Exception as exc:  # shown in the status line; the app keeps running
                reading = exc
            self._done.put((job, reading))


class Throttle:
    """Decides when live recognition may run while the user draws.

    At most once per ``interval_s``, and, should recognition be slow on this machine, never
    more than ``max_share`` of the time: a reading a tenth of a second old is still fresh
    to the eye. The reading on pen release is not throttled.
    """

    def __init__(self, interval_s: float = LIVE_INTERVAL_S, max_share: float = LIVE_MAX_SHARE) -> None:
        self.interval_s = interval_s
        self.max_share = max_share
        self._last_start = -math.inf
        self._last_cost = 0.0

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` before the next live recognition (0: go ahead)."""
        gap = max(self.interval_s, self._last_cost / self.max_share)
        return max(0.0, self._last_start + gap - now)

    def record(self, started: float, cost_s: float) -> None:
        """Note a recognition that began at ``started`` and took ``cost_s`` seconds."""
        self._last_start = started
        self._last_cost = cost_s


# --------------------------------------------------------------------------- what is shown


@dataclass(frozen=True)
class Readout:
    """What the side panel shows: everything as text and numbers, so it is testable without Tk."""

    headline: str  # the digit or number, large ("7 or 1?" when unsure); empty when there is nothing
    detail: str  # the confidence, or the prompt on an empty canvas
    bars: tuple[float, ...]  # one probability per digit 0-9 (all zero when empty)
    highlight: int | None  # the bar drawn in the accent colour
    caption: str  # what the bars are about
    answer: str = ""  # the reading as text to copy (Ctrl+C) and keep in the recent list


def readout(recognition: Recognition | None, number_mode: bool) -> Readout:
    """The words and bars for a recognition (None: the empty-canvas prompt).

    "Draw bigger" comes only with an answer: a dot or a dash is "not a digit", and
    drawing it bigger would not make it one.
    """
    result = recognition.result if recognition else None
    hint = f"\n{DRAW_BIGGER}" if recognition and recognition.small else ""
    if isinstance(result, Prediction) and result.digit is not None:
        headline = str(result.digit)
        if result.unsure:
            headline = f"{result.digit} or {result.top_k(2)[1][0]}?"
        return Readout(
            headline,
            sureness(result) + hint,
            result.probabilities,
            result.digit,
            "chance of each digit",
            str(result.digit),
        )
    if isinstance(result, NumberPrediction) and result.number is not None:
        return _number_readout(result, hint)
    if (
        isinstance(result, Prediction)
        and result.reason
        and recognition
        and (recognition.seen or result.reason != BLANK)
    ):
        return Readout("?", result.reason, result.probabilities or (0.0,) * 10, None, "")
    return Readout("", PROMPT_NUMBER if number_mode else PROMPT_DIGIT, (0.0,) * 10, None, "")


def sureness(prediction: Prediction) -> str:
    text = f"{prediction.confidence:.0%} sure"
    if prediction.unsure:
        second, p2 = prediction.top_k(2)[1]
        text = f"not sure: {prediction.confidence:.0%}, or maybe {second} ({p2:.0%})"
    return text


def _number_readout(number: NumberPrediction, hint: str) -> Readout:
    weakest = min(number.digits, key=lambda d: d.prediction.confidence).prediction
    per_digit = "  ".join(f"{d.prediction.digit}: {d.prediction.confidence:.0%}" for d in number.digits)
    caption = f"bars: the least sure digit, {weakest.digit}" if len(number.digits) > 1 else "chance of each digit"
    text = number.number or ""
    if weakest.unsure:
        detail = f"not sure of the {weakest.digit} (or {weakest.top_k(2)[1][0]}?)\n{per_digit}"
        headline = f"{text}?"
    else:
        detail = f"{number.confidence:.0%} sure of every digit\n{per_digit}"
        headline = text
    return Readout(headline, detail + hint, weakest.probabilities, weakest.digit, caption, text)


def log_line(recognition: Recognition) -> str:
    """One line for --verbose, e.g. ``recognized digit 7 confidence 0.98 in 2.1 ms``."""
    result, ms = recognition.result, recognition.elapsed_ms
    if isinstance(result, Prediction) and result.digit is not None:
        return f"recognized digit {result.digit} confidence {result.confidence:.2f} in {ms:.1f} ms"
    if isinstance(result, NumberPrediction) and result.number is not None:
        return f"recognized number {result.number} confidence {result.confidence:.2f} in {ms:.1f} ms"
    return f"recognized no digit ({result.reason}) in {ms:.1f} ms"


# --------------------------------------------------------------------------- recent readings


@dataclass(frozen=True)
class Reading:
    """A reading kept in the recent list: what was read, and the drawing to bring back."""

    answer: str
    strokes: tuple[Stroke, ...]
    number_mode: bool


class Recent:
    """The last few readings, newest first: one per drawing, the same drawing kept once.

    Every pen lift is read, but a drawing of "2025" is one reading, not "2", "20", "202"
    and "2025": a reading of the newest drawing with strokes added or taken away (one
    holds the other's strokes, in order) replaces it instead of pushing out older ones.
    """

    def __init__(self, size: int = 6, on_change: Callable[[], None] | None = None) -> None:
        self.items: deque[Reading] = deque(maxlen=size)
        self.on_change = on_change

    def add(self, reading: Reading) -> bool:
        if not reading.answer or (self.items and self.items[0] == reading):
            return False
        if self.items and _continues(self.items[0].strokes, reading.strokes):
            self.items.popleft()
        self.items.appendleft(reading)
        if self.on_change:
            self.on_change()
        return True


def _continues(older: Sequence[Stroke], newer: Sequence[Stroke]) -> bool:
    """One drawing is the other with strokes added at the end (or undone from it)."""
    shorter, longer = sorted((tuple(older), tuple(newer)), key=len)
    return bool(shorter) and longer[: len(shorter)] == shorter

"""`digits draw`: a Tk window to draw digits with the mouse and see them recognized as you draw.

The module reads top to bottom: the logic first, in plain classes with no Tk in them
(``Drawing``: strokes rendered off-screen with Pillow; ``Throttle``: when live recognition
may run; ``recognize`` and ``readout``: a result and the words shown for it; saving
corrections), then the window (``DrawingApp``), then ``run`` for the CLI. Keeping Tk out of
the logic lets the tests check it without a display; the real window is tested under Xvfb.

Why an off-screen image: the original apps grabbed the screen, which works on Windows only
and captures the wrong area on scaled displays. Here every stroke is drawn twice, on the Tk
canvas for the eye and into a Pillow image for the model, in "paper" coordinates that do not
depend on the window's size or the screen's DPI, so the model sees the same picture however
the window is sized.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

from .preprocess import NoDigit
from .recognizer import ModelError, NumberPrediction, Prediction, Recognizer

if TYPE_CHECKING:
    import tkinter as tk

Point = tuple[float, float]

PAPER_DIGIT = (280, 280)  # paper size for one digit: 10x MNIST's 28x28, in paper pixels
PAPER_NUMBER = (840, 280)  # number mode: room for three or four digits side by side
DEFAULT_BRUSH = 20  # pen width in paper pixels: a 200 px tall digit gets MNIST's ~1:8 stroke-to-height ratio
BRUSH_RANGE = (6, 48)  # the brush slider's limits, paper pixels
MIN_STEP = 1.0  # paper pixels: pointer moves shorter than this add no point to a stroke
LIVE_INTERVAL_S = 0.12  # live recognition at most this often while drawing
LIVE_MAX_SHARE = 0.25  # ...and never more than this share of the time, so the pen never stutters
INK, PAPER = 0, 255  # black ink on white paper, like a pen; preprocessing detects the polarity

SHORTCUTS = "Enter recognise · Esc/Delete clear · Ctrl+Z undo · Ctrl+S save PNG · Ctrl+M number mode · [ ] brush"
PROMPT_DIGIT = "Draw a digit in the white box"
PROMPT_NUMBER = "Draw a number: digits side by side"


# --------------------------------------------------------------------------- drawing


@dataclass
class Stroke:
    """One press-drag-release of the pen: its width and the points it passed, in paper pixels."""

    width: float
    points: list[Point] = field(default_factory=list)


class Drawing:
    """The strokes drawn so far and the off-screen image they make, which is what gets recognized.

    Each segment is a line with a disc at its end, so strokes have round caps and joins like a
    felt pen, and fast mouse moves give continuous lines instead of scattered dots.
    """

    def __init__(self, size: tuple[int, int] = PAPER_DIGIT) -> None:
        self.size = size
        self.strokes: list[Stroke] = []
        self._image = Image.new("L", size, PAPER)
        self._pen = ImageDraw.Draw(self._image)

    @property
    def is_empty(self) -> bool:
        return not self.strokes

    def image(self) -> Image.Image:
        """A copy of the picture (mode "L", white paper, black ink), safe to keep or save."""
        return self._image.copy()

    def begin_stroke(self, point: Point, width: float) -> None:
        self.strokes.append(Stroke(width, [point]))
        self._dab(point, width)

    def extend_stroke(self, point: Point) -> bool:
        """Continue the current stroke to ``point``; False when the move is too small to matter."""
        if not self.strokes:
            return False
        stroke = self.strokes[-1]
        last = stroke.points[-1]
        if math.dist(last, point) < MIN_STEP:
            return False
        stroke.points.append(point)
        self._segment(last, point, stroke.width)
        return True

    def undo(self) -> Stroke | None:
        """Remove the last stroke (and redraw the rest); None when there was nothing to undo."""
        if not self.strokes:
            return None
        stroke = self.strokes.pop()
        self._render_all()
        return stroke

    def clear(self) -> None:
        self.strokes.clear()
        self._render_all()

    def resize(self, size: tuple[int, int]) -> None:
        """Change the paper (digit or number mode), keeping the strokes where they were."""
        self.size = size
        self._render_all()

    def _render_all(self) -> None:
        self._image = Image.new("L", self.size, PAPER)
        self._pen = ImageDraw.Draw(self._image)
        for stroke in self.strokes:
            self._dab(stroke.points[0], stroke.width)
            for a, b in pairwise(stroke.points):
                self._segment(a, b, stroke.width)

    def _segment(self, a: Point, b: Point, width: float) -> None:
        self._pen.line([a, b], fill=INK, width=round(width))
        self._dab(b, width)

    def _dab(self, point: Point, width: float) -> None:
        r = width / 2
        x, y = point
        self._pen.ellipse([x - r, y - r, x + r, y + r], fill=INK)


# --------------------------------------------------------------------------- throttling


class Throttle:
    """Decides when live recognition may run while the user draws.

    At most once per ``interval_s``, and, should recognition be slow on this machine, never
    more than ``max_share`` of the time: the pen must stay smooth, and a reading a tenth of a
    second old is still fresh to the eye. The final reading on mouse release is not throttled.
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


# --------------------------------------------------------------------------- recognition


@dataclass(frozen=True)
class Recognition:
    """One reading of the drawing: the result, the 28x28 images the model saw, and the time taken."""

    result: Prediction | NumberPrediction
    seen: list[np.ndarray]
    elapsed_ms: float


def recognize(recognizer: Recognizer, image: Image.Image, number_mode: bool) -> Recognition:
    """Read a digit (or, in number mode, a number) from the drawing, keeping what the model saw.

    Done here rather than with ``Recognizer.predict`` so the preview shows exactly the arrays
    that went into the model, without preprocessing the drawing twice.
    """
    started = time.perf_counter()
    result: Prediction | NumberPrediction
    seen: list[np.ndarray] = []
    if number_mode:
        result = recognizer.predict_number(image)
        seen = [d.image for d in result.digits if d.image is not None]
    else:
        try:
            seen = [recognizer.preprocess(image)]
            result = Prediction.from_probabilities(recognizer.probabilities(seen[0][None])[0])
        except NoDigit as blank:
            result = Prediction(None, 0.0, reason=str(blank))
    return Recognition(result, seen, (time.perf_counter() - started) * 1000)


@dataclass(frozen=True)
class Readout:
    """What the side panel shows: everything as text and numbers, so it is testable without Tk."""

    headline: str  # the digit or number, large; empty when there is nothing to show
    detail: str  # the confidence, or the prompt on an empty canvas
    bars: tuple[float, ...]  # one probability per digit 0-9 (all zero when empty)
    highlight: int | None  # the bar drawn in the accent colour
    caption: str  # what the bars are about


def readout(recognition: Recognition | None, number_mode: bool) -> Readout:
    """The words and bars for a recognition (None: the empty-canvas prompt)."""
    result = recognition.result if recognition else None
    if isinstance(result, Prediction) and result.digit is not None:
        return Readout(str(result.digit), _sureness(result), result.probabilities, result.digit, "chance of each digit")
    if isinstance(result, NumberPrediction) and result.number is not None:
        return _number_readout(result)
    return Readout("", PROMPT_NUMBER if number_mode else PROMPT_DIGIT, (0.0,) * 10, None, "")


def _sureness(prediction: Prediction) -> str:
    text = f"{prediction.confidence:.0%} sure"
    (_, _), (second, p2) = prediction.top_k(2)
    if prediction.confidence < 0.6:
        text += f", or maybe {second} ({p2:.0%})"
    return text


def _number_readout(number: NumberPrediction) -> Readout:
    least = min(number.digits, key=lambda d: d.prediction.confidence).prediction
    per_digit = "  ".join(f"{d.prediction.digit}: {d.prediction.confidence:.0%}" for d in number.digits)
    caption = f"bars: the least sure digit, {least.digit}" if len(number.digits) > 1 else "chance of each digit"
    detail = f"{number.confidence:.0%} sure of every digit\n{per_digit}"
    return Readout(number.number or "", detail, least.probabilities, least.digit, caption)


def log_line(recognition: Recognition) -> str:
    """One line for --verbose, e.g. ``recognized digit 7 confidence 0.98 in 2.1 ms``."""
    result, ms = recognition.result, recognition.elapsed_ms
    if isinstance(result, Prediction) and result.digit is not None:
        return f"recognized digit {result.digit} confidence {result.confidence:.2f} in {ms:.1f} ms"
    if isinstance(result, NumberPrediction) and result.number is not None:
        return f"recognized number {result.number} confidence {result.confidence:.2f} in {ms:.1f} ms"
    return f"recognized no digit ({result.reason}) in {ms:.1f} ms"


# --------------------------------------------------------------------------- corrections


def corrections_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where "Wrong?" saves labelled drawings: $DIGITS_CORRECTIONS_DIR, else the XDG data folder.

    The layout (``<dir>/<digit>/<timestamp>.png``) is what ``digits evaluate --images DIR``
    reads, so a user's corrections double as a test set of their own handwriting.
    """
    if env.get("DIGITS_CORRECTIONS_DIR"):
        return Path(env["DIGITS_CORRECTIONS_DIR"]).expanduser()
    data_home = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "digit-recognizer" / "corrections"


def save_correction(image: Image.Image, digit: int, root: Path, when: datetime | None = None) -> Path:
    """Save ``image`` as an example of ``digit`` and return its path (never overwrites)."""
    if not 0 <= digit <= 9:
        raise ValueError(f"a correction is one digit 0-9, got {digit}")
    folder = root / str(digit)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"{stamp}.png"
    for n in range(1, 1000):
        if not path.exists():
            break
        path = folder / f"{stamp}-{n}.png"
    image.save(path)
    return path


def parse_number_correction(text: str, found: int) -> list[int]:
    """The digits the user typed for a number, checked against how many digits were found."""
    answer = text.strip().replace(" ", "")
    if not answer.isdigit() or not answer.isascii():
        raise ValueError(f"Type the right number using the digits 0-9 only (got {text!r}).")
    if len(answer) != found:
        raise ValueError(f"Type {found} digit(s), one for each digit found in the drawing (got {len(answer)}).")
    return [int(c) for c in answer]


def save_number_correction(
    image: Image.Image, digits: Iterable[int], boxes: Iterable[tuple[int, int, int, int]], root: Path
) -> list[Path]:
    """Save each digit of a number, cut out with a margin, in its own label folder."""
    when = datetime.now()
    paths = []
    for digit, box in zip(digits, boxes, strict=True):
        paths.append(save_correction(_cut_out(image, box), digit, root, when))
    return paths


def _cut_out(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The digit in ``box`` on a square of paper with a margin, like a single-digit drawing."""
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) * 1.4) + 8
    square = Image.new("L", (side, side), PAPER)
    square.paste(image.crop(box), ((side - (x1 - x0)) // 2, (side - (y1 - y0)) // 2))
    return square


def preview_image(
    arrays: list[np.ndarray], box: tuple[int, int], backdrop: tuple[int, int, int] = (0, 0, 0)
) -> Image.Image:
    """What the model saw (28x28 arrays, left to right), enlarged with hard pixels, centred on ``box``.

    Always the same size, so the preview can be updated in place: a new, differently sized image
    would make Tk lay the whole window out again, which costs more than the recognition itself.
    """
    strip = Image.fromarray((np.clip(side_by_side(arrays), 0, 1) * 255).astype(np.uint8), "L").convert("RGB")
    zoom = min(box[0] / strip.width, box[1] / strip.height)
    strip = strip.resize((max(1, int(strip.width * zoom)), max(1, int(strip.height * zoom))), Image.Resampling.NEAREST)
    frame = Image.new("RGB", box, backdrop)
    frame.paste(strip, ((box[0] - strip.width) // 2, (box[1] - strip.height) // 2))
    return frame


def side_by_side(arrays: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """The 28x28 images of a number in one strip, separated by a thin grey gap."""
    if not arrays:
        return np.zeros((28, 28), np.float32)
    strip: list[np.ndarray] = []
    for a in arrays:
        strip += [a, np.full((28, gap), 0.35, np.float32)]
    return np.hstack(strip[:-1])


def cannot_save_correction(exc: OSError) -> str:
    """The message shown when a correction cannot be written, with the fix."""
    return f"Could not save the correction ({exc}); set DIGITS_CORRECTIONS_DIR to a writable folder."


# --------------------------------------------------------------------------- the window


ACCENT, BAR, BACKDROP = "#2563eb", "#cbd5e1", "#e5e7eb"


class DrawingApp:
    """The window: a canvas to draw on, the result panel, buttons and shortcuts.

    Everything it decides is done by the classes above; this class only turns events into
    calls on them and their results into widgets.
    """

    def __init__(
        self,
        root: tk.Tk,
        recognizer: Recognizer,
        *,
        number_mode: bool = False,
        log: Callable[[str], None] | None = None,
        corrections: Path | None = None,
    ) -> None:
        import tkinter as tk
        from tkinter import font, ttk

        self.root, self.recognizer, self.log = root, recognizer, log
        self.corrections = corrections or corrections_dir()
        self.drawing = Drawing(PAPER_NUMBER if number_mode else PAPER_DIGIT)
        self.throttle = Throttle()
        self.last: Recognition | None = None
        self.scale = 1.0  # screen pixels per paper pixel
        self._pending: str | None = None  # Tk "after" id of a scheduled live recognition
        self._stroke_items: list[int] = []
        self._dpi = root.winfo_fpixels("1i") / 96  # 1.0 on a standard screen, 2.0 on a "200 %" one

        root.title("Digit recognizer")
        root.minsize(int(480 * self._dpi), int(360 * self._dpi))
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        base = font.nametofont("TkDefaultFont").actual()
        self.fonts = {  # sizes in points: Tk scales them to the screen's DPI
            "headline": font.Font(root, family=base["family"], size=54, weight="bold"),
            "detail": font.Font(root, family=base["family"], size=12),
            "small": font.Font(root, family=base["family"], size=9),
        }
        self.number_mode = tk.BooleanVar(root, value=number_mode)
        self.brush = tk.DoubleVar(root, value=DEFAULT_BRUSH)
        self._build(tk, ttk)
        self._build_bars()
        self._bind_keys()
        self._fit_board()
        self.show(None)

    # -- layout ---------------------------------------------------------------------

    def _build(self, tk: Any, ttk: Any) -> None:
        from PIL import ImageTk  # needs tkinter, so imported only with the window

        root = self.root
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)
        pad = int(8 * self._dpi)
        surface = ttk.Style(root).lookup("TFrame", "background") or None  # plain tk widgets match the theme

        self.board = tk.Frame(root, background=BACKDROP)
        self.board.grid(row=0, column=0, sticky="nsew", padx=pad, pady=pad)
        self.canvas = tk.Canvas(self.board, background="white", highlightthickness=0, borderwidth=0, cursor="pencil")
        self.canvas.place(relx=0.5, rely=0.5, anchor="center")
        self.board.bind("<Configure>", lambda e: self._fit_canvas(e.width, e.height))
        self.canvas.bind("<ButtonPress-1>", self._pen_down)
        self.canvas.bind("<B1-Motion>", self._pen_move)
        self.canvas.bind("<ButtonRelease-1>", self._pen_up)

        panel = ttk.Frame(root, padding=pad)
        panel.grid(row=0, column=1, sticky="ns")
        self.headline = tk.Label(panel, font=self.fonts["headline"], width=5, anchor="center", background=surface)
        self.headline.pack(fill="x")
        # Fixed sizes: a panel that grew with its text would shrink the canvas under the pen.
        self.detail = tk.Label(panel, font=self.fonts["detail"], width=28, height=2, background=surface)
        self.detail.pack(fill="x")
        ttk.Label(panel, text="what the model sees", font=self.fonts["small"]).pack(pady=(pad, 0))
        self._preview_box = (int(220 * self._dpi), round(28 * 3 * self._dpi))
        self._preview_photo = ImageTk.PhotoImage("RGB", self._preview_box, master=root)
        red, green, blue = root.winfo_rgb(surface or "white")  # 16-bit channels
        self._backdrop = (red // 257, green // 257, blue // 257)
        self.preview = tk.Label(panel, image=self._preview_photo, borderwidth=0, background=surface)
        self.preview.pack()
        self.bars = tk.Canvas(panel, highlightthickness=0, width=self._preview_box[0], background=surface)
        self.bars.pack(pady=(pad, 0))
        self.caption = ttk.Label(panel, font=self.fonts["small"], width=34, anchor="center")
        self.caption.pack()

        tools = ttk.Frame(root, padding=(pad, 0, pad, 0))
        tools.grid(row=1, column=0, columnspan=2, sticky="ew")
        for text, command in [
            ("Recognise", self.recognize_now),
            ("Clear", self.clear),
            ("Undo", self.undo),
            ("Wrong?", self.ask_correction),
            ("Save PNG…", self.save_as),
        ]:
            ttk.Button(tools, text=text, command=command).pack(side="left", padx=(0, pad // 2))
        ttk.Checkbutton(tools, text="Number mode", variable=self.number_mode, command=self._mode_changed).pack(
            side="left", padx=pad
        )
        ttk.Label(tools, text="Brush").pack(side="left")
        ttk.Scale(
            tools, from_=BRUSH_RANGE[0], to=BRUSH_RANGE[1], variable=self.brush, length=int(110 * self._dpi)
        ).pack(side="left")

        self.correction = ttk.Frame(root, padding=(pad, pad // 2))
        self.correction.grid(row=2, column=0, columnspan=2, sticky="ew")
        self._build_correction(tk, ttk)
        self.correction.grid_remove()

        ttk.Label(root, text=SHORTCUTS, font=self.fonts["small"], foreground="#555").grid(
            row=3, column=0, columnspan=2, sticky="w", padx=pad, pady=(pad // 2, 0)
        )
        self.status = ttk.Label(root, font=self.fonts["small"], wraplength=int(700 * self._dpi))
        self.status.grid(row=4, column=0, columnspan=2, sticky="w", padx=pad, pady=(0, pad // 2))

    def _build_correction(self, tk: Any, ttk: Any) -> None:
        frame = self.correction
        self.correction_prompt = ttk.Label(frame)
        self.correction_prompt.pack(side="left")
        self.digit_buttons = ttk.Frame(frame)
        for d in range(10):
            ttk.Button(self.digit_buttons, text=str(d), width=2, command=lambda d=d: self.correct_digit(d)).pack(
                side="left"
            )
        self.number_entry = ttk.Entry(frame, width=12)
        self.number_entry.bind("<Return>", lambda e: self.correct_number())
        self.number_save = ttk.Button(frame, text="Save", command=self.correct_number)
        ttk.Button(frame, text="Cancel", command=self.close_correction).pack(side="right")

    def _bind_keys(self) -> None:
        bind = self.root.bind
        for key in ("<Return>", "<KP_Enter>"):
            bind(key, self._outside_entry(self.recognize_now))
        bind("<Escape>", self._on_escape)
        bind("<Delete>", self._outside_entry(self.clear))
        controls: dict[str, Callable[[], object]] = {
            "z": self.undo,
            "s": self.save_as,
            "m": self._toggle_mode,
            "q": self.root.destroy,
        }
        for letter, action in controls.items():
            for key in (letter, letter.upper()):  # Caps Lock on or not
                bind(f"<Control-{key}>", self._ignoring_event(action))
        bind("<bracketleft>", lambda e: self._change_brush(-2))
        bind("<bracketright>", lambda e: self._change_brush(+2))
        bind("<Key>", self._digit_key)

    @staticmethod
    def _ignoring_event(action: Callable[[], object]) -> Callable[[Any], None]:
        def handler(event: Any) -> None:
            action()

        return handler

    def _outside_entry(self, action: Callable[[], object]) -> Callable[[Any], None]:
        """Keys that mean something else while typing a correction (Enter, Delete) are left to it."""

        def handler(event: Any) -> None:
            if event.widget is not self.number_entry:
                action()

        return handler

    def _fit_board(self) -> None:
        """Size the drawing area for the current paper; the window follows (and stays resizable)."""
        w, h = self.drawing.size
        fit = min(440 / w, 440 / h) if w == h else min(760 / w, 300 / h)
        self.board.configure(width=int(w * fit * self._dpi) + 16, height=int(h * fit * self._dpi) + 16)
        self.root.geometry("")  # let the window take its natural size again after a mode change

    def _fit_canvas(self, width: int, height: int) -> None:
        """Scale the paper to the room the board has, keeping its shape, and redraw the strokes."""
        w, h = self.drawing.size
        margin = 8
        self.scale = max(0.1, min((width - margin) / w, (height - margin) / h))
        self.canvas.configure(width=round(w * self.scale), height=round(h * self.scale))
        self._redraw_strokes()

    # -- drawing --------------------------------------------------------------------

    def _paper_point(self, event: Any) -> Point:
        return (event.x / self.scale, event.y / self.scale)

    def _pen_down(self, event: Any) -> None:
        self.drawing.begin_stroke(self._paper_point(event), float(self.brush.get()))
        self._stroke_items.append(self._draw_stroke(self.drawing.strokes[-1]))

    def _pen_move(self, event: Any) -> None:
        if self.drawing.extend_stroke(self._paper_point(event)):
            self.canvas.coords(self._stroke_items[-1], *self._screen_coords(self.drawing.strokes[-1]))
            self._schedule_live()

    def _pen_up(self, event: Any) -> None:
        self._pen_move(event)
        self.recognize_now()

    def _draw_stroke(self, stroke: Stroke) -> int:
        width = stroke.width * self.scale
        coords = self._screen_coords(stroke)
        return self.canvas.create_line(*coords, width=width, fill="black", capstyle="round", joinstyle="round")

    def _screen_coords(self, stroke: Stroke) -> list[float]:
        points = stroke.points if len(stroke.points) > 1 else stroke.points * 2  # a dot: a zero-length line
        return [c * self.scale for p in points for c in p]

    def _redraw_strokes(self) -> None:
        self.canvas.delete("all")
        self._stroke_items = [self._draw_stroke(s) for s in self.drawing.strokes]

    def _change_brush(self, step: float) -> None:
        self.brush.set(min(BRUSH_RANGE[1], max(BRUSH_RANGE[0], self.brush.get() + step)))

    # -- actions --------------------------------------------------------------------

    def recognize_now(self) -> Recognition:
        """Read the drawing now (Enter, the button, and every mouse release), and show the result."""
        self._cancel_live()
        started = time.perf_counter()
        recognition = recognize(self.recognizer, self.drawing.image(), self.number_mode.get())
        self.throttle.record(started, recognition.elapsed_ms / 1000)
        self.show(recognition)
        if self.log:
            self.log(log_line(recognition))
        return recognition

    def _schedule_live(self) -> None:
        if self._pending is None:
            delay = self.throttle.delay(time.perf_counter())
            self._pending = self.root.after(int(delay * 1000), self._live)

    def _live(self) -> None:
        self._pending = None
        self.recognize_now()

    def _cancel_live(self) -> None:
        if self._pending is not None:
            self.root.after_cancel(self._pending)
            self._pending = None

    def clear(self) -> None:
        self._cancel_live()
        self.drawing.clear()
        self._redraw_strokes()
        self.close_correction()
        self.show(None)

    def undo(self) -> None:
        if self.drawing.undo() is None:
            return
        self.canvas.delete(self._stroke_items.pop())
        if self.drawing.is_empty:
            self.show(None)
        else:
            self.recognize_now()

    def _toggle_mode(self) -> None:
        self.number_mode.set(not self.number_mode.get())
        self._mode_changed()

    def _mode_changed(self) -> None:
        self.drawing.resize(PAPER_NUMBER if self.number_mode.get() else PAPER_DIGIT)
        self.close_correction()
        self._fit_board()
        self._fit_canvas(self.board.winfo_width(), self.board.winfo_height())
        if self.drawing.is_empty:
            self.show(None)
        else:
            self.recognize_now()

    def _on_escape(self, event: Any) -> None:
        if self.correction.winfo_ismapped():
            self.close_correction()
        else:
            self.clear()

    # -- showing results ------------------------------------------------------------

    def show(self, recognition: Recognition | None) -> None:
        self.last = recognition
        view = readout(recognition, self.number_mode.get())
        self.headline.configure(text=view.headline, font=self._headline_font(len(view.headline)))
        self.detail.configure(text=view.detail)
        self.caption.configure(text=view.caption)
        self._show_preview(recognition.seen if recognition else [])
        self._show_bars(view)

    def _headline_font(self, chars: int) -> Any:
        """The headline shrinks for long numbers so the panel keeps its width (changed only when needed:
        a font change makes Tk lay the window out again)."""
        size = 54 if chars <= 4 else max(14, 54 * 4 // chars)
        if self.fonts["headline"].cget("size") != size:
            self.fonts["headline"].configure(size=size)
        return self.fonts["headline"]

    def _show_preview(self, seen: list[np.ndarray]) -> None:
        self._preview_photo.paste(preview_image(seen, self._preview_box, self._backdrop))

    def _build_bars(self) -> None:
        """Ten rows (digit, bar, percentage), made once; each reading only moves and recolours them."""
        c, small = self.bars, self.fonts["small"]
        line = small.metrics("linespace") + 2
        width = int(c.cget("width"))
        self._bar_x, self._bar_w = small.measure("00"), width - small.measure("00") - small.measure("100%") - 6
        c.configure(height=line * 10)
        self._bar_rows: list[tuple[int, int, float, float]] = []  # (bar item, value item, top, bottom)
        for d in range(10):
            top, bottom = d * line + 2, (d + 1) * line - 2
            c.create_text(0, (top + bottom) / 2, text=str(d), anchor="w", font=small)
            c.create_rectangle(self._bar_x, top, self._bar_x + self._bar_w, bottom, fill="#f1f5f9", outline="")
            bar = c.create_rectangle(self._bar_x, top, self._bar_x + 1, bottom, fill=BAR, outline="")
            value = c.create_text(width, (top + bottom) / 2, anchor="e", font=small)
            self._bar_rows.append((bar, value, top, bottom))

    def _show_bars(self, view: Readout) -> None:
        for d, (p, (bar, value, top, bottom)) in enumerate(zip(view.bars, self._bar_rows, strict=True)):
            self.bars.coords(bar, self._bar_x, top, self._bar_x + max(1.0, p * self._bar_w), bottom)
            self.bars.itemconfigure(bar, fill=ACCENT if d == view.highlight else BAR)
            self.bars.itemconfigure(value, text=f"{p:.0%}" if view.highlight is not None else "")

    def say(self, text: str) -> None:
        self.status.configure(text=text)

    # -- corrections and saving -----------------------------------------------------

    def ask_correction(self) -> None:
        """Open the "right answer" row: ten digit buttons, or a box to type the right number."""
        if self.drawing.is_empty or self.last is None or not self._has_answer(self.last):
            self.say("Draw a digit first; then, if I read it wrong, tell me the right one.")
            return
        result = self.last.result
        for widget in (self.digit_buttons, self.number_entry, self.number_save):
            widget.pack_forget()
        if isinstance(result, NumberPrediction):
            self.correction_prompt.configure(text="The right number is:")
            self.number_entry.delete(0, "end")
            self.number_entry.insert(0, result.number or "")  # edit the wrong digit, keep the rest
            self.number_entry.select_range(0, "end")
            self.number_entry.pack(side="left", padx=4)
            self.number_save.pack(side="left")
            self.number_entry.focus_set()
        else:
            self.correction_prompt.configure(text="The right digit is (click or press 0-9):")
            self.digit_buttons.pack(side="left", padx=4)
        self.correction.grid()

    @staticmethod
    def _has_answer(recognition: Recognition) -> bool:
        result = recognition.result
        return result.number is not None if isinstance(result, NumberPrediction) else result.digit is not None

    def close_correction(self) -> None:
        self.correction.grid_remove()
        self.root.focus_set()

    def _digit_key(self, event: Any) -> None:
        if self.correction.winfo_ismapped() and self.digit_buttons.winfo_ismapped() and event.char.isdigit():
            self.correct_digit(int(event.char))

    def correct_digit(self, digit: int) -> None:
        try:
            path = save_correction(self.drawing.image(), digit, self.corrections)
        except OSError as exc:
            self.say(cannot_save_correction(exc))
            return
        self.close_correction()
        self.say(f"Thanks! Saved as {digit}: {path}")

    def correct_number(self) -> None:
        result = self.last.result if self.last else None
        if not isinstance(result, NumberPrediction) or result.number is None:
            return
        try:
            digits = parse_number_correction(self.number_entry.get(), len(result.digits))
            paths = save_number_correction(
                self.drawing.image(), digits, [d.box for d in result.digits], self.corrections
            )
        except ValueError as exc:
            self.say(str(exc))
            return
        except OSError as exc:
            self.say(cannot_save_correction(exc))
            return
        self.close_correction()
        self.say(f"Thanks! Saved {len(paths)} labelled digit(s) under {self.corrections}")

    def save_as(self) -> None:
        from tkinter import filedialog

        if self.drawing.is_empty:
            self.say("Nothing to save yet: draw something first.")
            return
        name = filedialog.asksaveasfilename(
            parent=self.root, defaultextension=".png", filetypes=[("PNG image", "*.png")], initialfile="drawing.png"
        )
        if not name:
            return
        try:
            self.drawing.image().save(name, "PNG")
        except (OSError, ValueError) as exc:
            self.say(f"Could not save {name} ({exc}).")
            return
        self.say(f"Saved {name}")


# --------------------------------------------------------------------------- CLI entry


class NoDisplay(Exception):
    """No window can be opened here; the message suggests the commands that work without one."""


def open_root() -> tk.Tk:
    """The Tk root window, or NoDisplay with advice when there is no screen (SSH, a server)."""
    advice = "Use `digits serve` and open the page in a browser, or `digits predict IMAGE` to read image files."
    try:
        import tkinter as tk
    except ImportError:
        raise NoDisplay(f"tkinter is not installed (Debian/Ubuntu: apt-get install python3-tk). {advice}") from None
    try:
        root = tk.Tk(className="digits")
    except tk.TclError as exc:
        where = "DISPLAY is not set" if not os.environ.get("DISPLAY") else f"DISPLAY={os.environ['DISPLAY']}"
        raise NoDisplay(
            f"cannot open a window ({where}: {exc}). Without a screen (over SSH, on a server): {advice}"
        ) from None
    return root


def run(model: str | None = None, multi: bool = False, verbose: bool = False) -> int:
    """Open the drawing window and return the exit status (2: bad model or no display)."""
    try:
        recognizer = Recognizer.load(model)
        root = open_root()
    except (ModelError, NoDisplay) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if verbose else None
    DrawingApp(root, recognizer, number_mode=multi, log=log)
    if verbose:
        print(f"model {recognizer.path}; corrections go to {corrections_dir()}", file=sys.stderr, flush=True)
    root.mainloop()
    return 0

"""The parts of the window around the canvas: the result panel, the recent readings, the correction row.

Every part has a fixed size, decided when it is built: a panel that grew with its
text would make Tk lay the window out again and move the canvas under the pen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from PIL import Image

from .logic import Reading, Readout
from .theme import Palette

DETAIL_LINES = 4  # the hint under the answer: confidence, per-digit figures, "draw bigger", and a wrapped line
CONFIRM_S = 10.0  # "Thanks! Saved ..." goes away after this many seconds (or when the next drawing starts)


class ResultPanel:
    """The reading: the answer large, its confidence, what the model saw, and a bar per digit."""

    def __init__(self, parent: Any, fonts: dict[str, Any], dpi: float, palette: Palette) -> None:
        import tkinter as tk
        from tkinter import ttk

        from PIL import ImageTk  # needs tkinter, so imported only with the window

        self.palette = palette
        self.frame = ttk.Frame(parent, padding=int(8 * dpi))
        pad = int(8 * dpi)
        width = int(240 * dpi)
        # The headline and the hint sit in frames of fixed pixel size: their text never changes the layout.
        self.headline = ttk.Label(
            _fixed_box(self.frame, width, fonts["headline"].metrics("linespace") + 4),
            font=fonts["headline"],
            anchor="center",
        )
        self.headline.pack(fill="both", expand=True)
        self._headline_font, self._headline_size = fonts["headline"], int(fonts["headline"].cget("size"))
        self.detail_box = _fixed_box(self.frame, width, fonts["small"].metrics("linespace") * DETAIL_LINES + 4)
        self.detail = ttk.Label(self.detail_box, font=fonts["small"], wraplength=width, justify="center", anchor="n")
        self.detail.pack(side="top", fill="x")  # from the top: a longer hint loses its last line, never its first
        ttk.Label(self.frame, text="what the model sees", font=fonts["small"]).pack(pady=(pad // 2, 0))
        self.preview_box = (width, round(28 * 2.5 * dpi))
        self._photo = ImageTk.PhotoImage("RGB", self.preview_box, master=parent)
        red, green, blue = parent.winfo_rgb(palette.surface)  # 16-bit channels
        self._backdrop = (red // 257, green // 257, blue // 257)
        ttk.Label(self.frame, image=self._photo, borderwidth=0).pack()
        self.bars = tk.Canvas(self.frame, highlightthickness=0, width=width, background=palette.surface)
        self.bars.pack(pady=(pad // 2, 0))
        self.caption = ttk.Label(self.frame, font=fonts["small"], width=34, anchor="center")
        self.caption.pack()
        self._build_bars(fonts["small"])

    def show(self, view: Readout, seen: list[np.ndarray]) -> None:
        self.headline.configure(text=view.headline)
        self._fit_headline(len(view.headline))
        self.detail.configure(text=view.detail)
        self.caption.configure(text=view.caption)
        self._photo.paste(preview_image(seen, self.preview_box, self._backdrop))
        for d, (p, (bar, value, top, bottom)) in enumerate(zip(view.bars, self._rows, strict=True)):
            self.bars.coords(bar, self._bar_x, top, self._bar_x + max(1.0, p * self._bar_w), bottom)
            self.bars.itemconfigure(bar, fill=self.palette.accent if d == view.highlight else self.palette.bar)
            self.bars.itemconfigure(value, text=f"{p:.0%}" if view.highlight is not None else "")

    def _fit_headline(self, chars: int) -> None:
        """Long numbers get a smaller font (changed only when needed; the box around it keeps its size)."""
        size = self._headline_size if chars <= 4 else max(12, self._headline_size * 4 // chars)
        if int(self._headline_font.cget("size")) != size:
            self._headline_font.configure(size=size)

    def _build_bars(self, small: Any) -> None:
        """Ten rows (digit, bar, percentage), made once; each reading only moves and recolours them."""
        c = self.bars
        line = small.metrics("linespace") + 1
        width = int(c.cget("width"))
        self._bar_x, self._bar_w = small.measure("00"), width - small.measure("00") - small.measure("100%") - 6
        c.configure(height=line * 10)
        self._rows: list[tuple[int, int, float, float]] = []  # (bar item, value item, top, bottom)
        for d in range(10):
            top, bottom = d * line + 2, (d + 1) * line - 2
            ink, track = self.palette.ink, self.palette.track
            c.create_text(0, (top + bottom) / 2, text=str(d), anchor="w", font=small, fill=ink)
            c.create_rectangle(self._bar_x, top, self._bar_x + self._bar_w, bottom, fill=track, outline="")
            bar = c.create_rectangle(self._bar_x, top, self._bar_x + 1, bottom, fill=self.palette.bar, outline="")
            value = c.create_text(width, (top + bottom) / 2, anchor="e", font=small, fill=ink)
            self._rows.append((bar, value, top, bottom))


class RecentBar:
    """The last readings as small buttons, newest first: a click brings that drawing back.

    The buttons are made once, with a fixed width, in a strip as wide as the window; a new
    reading changes their text, so the window keeps its size when an answer appears.
    """

    def __init__(self, parent: Any, on_pick: Callable[[Reading], None], size: int = 6) -> None:
        from tkinter import ttk

        self.frame = ttk.Frame(parent)
        ttk.Label(self.frame, text="Recent:").pack(side="left")
        self._on_pick = on_pick
        self._readings: list[Reading] = []
        self.buttons = [
            ttk.Button(self.frame, width=6, takefocus=False, command=partial(self._pick, i)) for i in range(size)
        ]

    def show(self, readings: list[Reading]) -> None:
        """Shown buttons only change their text; one is packed the first time it is needed."""
        self._readings = readings[: len(self.buttons)]
        for i, button in enumerate(self.buttons):
            answer = self._readings[i].answer if i < len(self._readings) else ""
            button.configure(text=answer if len(answer) <= 6 else answer[:5] + "…")
            if answer and not button.winfo_ismapped():
                button.pack(side="left", padx=(0, 2))
            elif not answer:
                button.pack_forget()

    def _pick(self, index: int) -> None:
        if index < len(self._readings):
            self._on_pick(self._readings[index])


class CorrectionRow:
    """ "Wrong?": ten digit buttons, or a box to type the right number; then "Thanks! Saved ...".

    Its row is always there. ``state`` is what it shows: None, "digit", "number" or "saved";
    the confirmation closes by itself after ``CONFIRM_S`` seconds.
    """

    def __init__(
        self, parent: Any, on_digit: Callable[[int], None], on_number: Callable[[], None], on_close: Callable[[], None]
    ) -> None:
        from tkinter import ttk

        self.frame = ttk.Frame(parent)
        self.prompt = ttk.Label(self.frame)
        self.digit_buttons = ttk.Frame(self.frame)
        for d in range(10):
            ttk.Button(self.digit_buttons, text=str(d), width=2, command=partial(on_digit, d)).pack(side="left")
        self.number_entry = ttk.Entry(self.frame, width=12)
        self.number_entry.bind("<Return>", lambda e: on_number())
        self.save_button = ttk.Button(self.frame, text="Save", command=on_number)
        self.cancel = ttk.Button(self.frame, text="Cancel", command=on_close)
        self.take_back = ttk.Button(self.frame, text="Take it back")
        self.state: str | None = None
        self._timer: str | None = None

    @property
    def is_open(self) -> bool:
        """Asking for the right answer (the confirmation is not asking anything)."""
        return self.state in ("digit", "number")

    def open_saved(self, message: str, on_take_back: Callable[[], None], seconds: float | None = None) -> None:
        """After a correction was saved: say where, with a button to take it back (a mistyped label)."""
        seconds = CONFIRM_S if seconds is None else seconds
        self._clear("saved")
        self.prompt.configure(text=message)
        self.prompt.pack(side="left")
        self.take_back.configure(command=on_take_back)
        self.take_back.pack(side="left", padx=4)
        self._timer = self.frame.after(int(seconds * 1000), self.dismiss_confirmation)

    def dismiss_confirmation(self) -> None:
        """Close "Thanks! Saved ..." (its time is up, or a new drawing starts); a question stays open."""
        if self.state == "saved":
            self.close()

    def open_digit(self) -> None:
        self._clear("digit")
        self.prompt.configure(text="The right digit is (click or press 0-9):")
        self.prompt.pack(side="left")
        self.digit_buttons.pack(side="left", padx=4)
        self.cancel.pack(side="left", padx=4)

    def open_number(self, guess: str) -> None:
        self._clear("number")
        self.prompt.configure(text="The right number is:")
        self.prompt.pack(side="left")
        self.number_entry.delete(0, "end")
        self.number_entry.insert(0, guess)  # edit the wrong digit, keep the rest
        self.number_entry.select_range(0, "end")
        self.number_entry.pack(side="left", padx=4)
        self.save_button.pack(side="left")
        self.cancel.pack(side="left", padx=4)
        self.number_entry.focus_set()

    def close(self) -> None:
        self._clear(None)

    @property
    def wants_digits(self) -> bool:
        return self.state == "digit"

    def _clear(self, state: str | None) -> None:
        if self._timer is not None:
            self.frame.after_cancel(self._timer)
            self._timer = None
        self.state = state
        for widget in (
            self.prompt,
            self.digit_buttons,
            self.number_entry,
            self.save_button,
            self.cancel,
            self.take_back,
        ):
            widget.pack_forget()


def _fixed_box(parent: Any, width: int, height: int) -> Any:
    """A frame of fixed pixel size, packed in ``parent``: what it holds never resizes the window."""
    from tkinter import ttk

    box = ttk.Frame(parent, width=width, height=height)
    box.pack_propagate(False)
    box.pack()
    return box


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

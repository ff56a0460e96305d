"""The window: a canvas to draw on, the result panel, buttons, shortcuts and corrections.

Everything it decides is done in ``logic`` (no Tk there); this class turns events into
calls on it and readings into widgets. Recognition runs on the ``Reader``'s thread: the
window hands it a copy of the strokes and polls for the answer with ``after``, so
drawing never waits for the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import corrections as saved
from ..ink import Point, Stroke
from ..recognizer import Recognizer
from . import settings as remembered
from . import theme
from .corrections import Corrector
from .logic import (
    BRUSH_RANGE,
    PAPER_DIGIT,
    PAPER_NUMBER,
    Drawing,
    Job,
    Reader,
    Reading,
    Recent,
    Recognition,
    Throttle,
    log_line,
    readout,
)
from .panels import CorrectionRow, RecentBar, ResultPanel

SHORTCUTS = (
    "Enter recognize · Esc/Delete clear · Ctrl+Z undo · Ctrl+Y redo · Ctrl+C copy · Ctrl+S save PNG"
    " · Ctrl+M number mode · [ ] brush"
)
STATUS_S = 8.0  # a status message clears after this many seconds
POLL_MS = 3  # how often the window looks for a finished reading while one is out


class DrawingApp:
    """The drawing window (see the module docstring)."""

    def __init__(
        self,
        root: Any,
        recognizer: Recognizer,
        *,
        number_mode: bool | None = None,
        log: Callable[[str], None] | None = None,
        corrections: Path | None = None,
        settings_file: Path | None = None,
        theme_name: str | None = None,
    ) -> None:
        import tkinter as tk
        from tkinter import font, ttk

        self.root, self.recognizer, self.log = root, recognizer, log
        self.corrections = corrections or saved.corrections_dir()
        self.settings_file = settings_file
        self.settings, problem = remembered.load(settings_file) if settings_file else (remembered.Settings(), None)
        if number_mode is None:
            number_mode = self.settings.number_mode
        self.drawing = Drawing(PAPER_NUMBER if number_mode else PAPER_DIGIT)
        self.reader = Reader(recognizer)
        self.throttle = Throttle()
        self.recent = Recent(on_change=lambda: self.recent_bar.show(list(self.recent.items)))
        self.last: Recognition | None = None
        self.on_shown: Callable[[Job, Recognition], None] | None = None  # for the benchmark
        self.scale = 1.0  # screen pixels per paper pixel
        self._seq = 0  # number of the newest reading asked for; older answers are dropped
        self._live: str | None = None  # Tk "after" id of a scheduled live reading
        self._polling = False
        self._status_timer: str | None = None
        self._stroke_items: list[int] = []
        self._dpi = root.winfo_fpixels("1i") / 96  # 1.0 on a standard screen, 1.5 at 144 dpi
        self.corrector: Corrector  # "Wrong?", made with the correction row in _build

        root.title(f"Digit recognizer · model {recognizer.path.name}")
        self.palette = theme.apply(root, theme_name)  # light or dark, as the system is
        base = font.nametofont("TkDefaultFont").actual()
        self.fonts = {  # sizes in points: Tk scales them to the screen's DPI
            "headline": font.Font(root, family=base["family"], size=40, weight="bold"),
            "small": font.Font(root, family=base["family"], size=9),
        }
        self.number_mode = tk.BooleanVar(root, value=number_mode)
        self.brush = tk.DoubleVar(root, value=self.settings.brush)
        self._build(tk, ttk)
        self._bind_keys()
        self._fit_window()
        root.protocol("WM_DELETE_WINDOW", self.quit)
        self.show(None)
        self.say(problem or f"Model: {recognizer.path.name} ({model_description(recognizer)})")

    # -- layout ---------------------------------------------------------------------

    def _build(self, tk: Any, ttk: Any) -> None:
        root, pad = self.root, int(6 * self._dpi)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)
        root.configure(background=self.palette.surface)

        self.board = ttk.Frame(root, width=1, height=1)  # the window's own colour: no box around the paper
        self.board.grid(row=0, column=0, sticky="nsew", padx=pad, pady=pad)
        self.canvas = tk.Canvas(
            self.board,
            background="white",
            highlightthickness=1,
            highlightbackground=self.palette.backdrop,
            borderwidth=0,
            cursor="pencil",
        )
        self.canvas.place(relx=0.5, rely=0.5, anchor="center")
        self.board.bind("<Configure>", lambda e: self._fit_canvas(e.width, e.height))
        self.canvas.bind("<ButtonPress-1>", self._pen_down)
        self.canvas.bind("<B1-Motion>", self._pen_move)
        self.canvas.bind("<ButtonRelease-1>", self._pen_up)

        self.panel = ResultPanel(root, self.fonts, self._dpi, self.palette)
        self.panel.frame.grid(row=0, column=1, sticky="n")

        strip = ttk.Frame(root, padding=(pad, 0))
        strip.grid(row=1, column=0, columnspan=2, sticky="ew")
        self.recent_bar = RecentBar(strip, self.show_reading)
        self.recent_bar.frame.pack(side="left")
        self.brush_label = ttk.Label(strip, width=12, anchor="e")
        self.brush_label.pack(side="right")
        ttk.Scale(
            strip, from_=BRUSH_RANGE[0], to=BRUSH_RANGE[1], variable=self.brush, length=int(100 * self._dpi)
        ).pack(side="right")
        self.brush.trace_add("write", lambda *_: self._brush_changed())
        self._brush_changed()

        tools = ttk.Frame(root, padding=(pad, pad // 2))
        tools.grid(row=2, column=0, columnspan=2, sticky="ew")
        for text, command in [
            ("Recognize", self.recognize_now),
            ("Clear", self.clear),
            ("Undo", self.undo),
            ("Redo", self.redo),
            ("Wrong?", lambda: self.corrector.ask()),
            ("Save PNG…", self.save_as),
        ]:
            ttk.Button(tools, text=text, command=command, width=-7).pack(side="left", padx=(0, pad // 2))
        ttk.Checkbutton(tools, text="Number mode", variable=self.number_mode, command=self._mode_changed).pack(
            side="left", padx=pad
        )

        # The correction row keeps its height when empty: opening it never moves anything.
        holder = ttk.Frame(root, height=ttk.Button(root).winfo_reqheight() + 4)
        holder.grid(row=3, column=0, columnspan=2, sticky="ew", padx=pad)
        holder.pack_propagate(False)
        self.correction = CorrectionRow(
            holder, lambda d: self.corrector.digit(d), lambda: self.corrector.number(), lambda: self.corrector.close()
        )
        self.correction.frame.pack(side="left", fill="y")
        self.corrector = Corrector(  # "Wrong?"
            self.correction,
            self.drawing,
            lambda: self.last,
            self.recognizer,
            self.corrections,
            self.say,
            root.focus_set,
        )

        self.shortcuts = ttk.Label(root, text=SHORTCUTS, font=self.fonts["small"], foreground=self.palette.muted)
        self.shortcuts.grid(row=4, column=0, columnspan=2, sticky="w", padx=pad)
        self.status = ttk.Label(root, font=self.fonts["small"], anchor="w")
        self.status.grid(row=5, column=0, columnspan=2, sticky="ew", padx=pad, pady=(0, pad // 2))

    def _fit_window(self) -> None:
        """Give the canvas the room the screen allows (at most 700x420 points), the same in both modes.

        The board keeps its size when the mode changes (the paper is scaled inside it), so
        the window never grows past the screen or moves the canvas under the pen.
        """
        root, pad = self.root, int(6 * self._dpi)
        screen_w, screen_h = root.winfo_screenwidth(), root.winfo_screenheight()
        self.shortcuts.configure(wraplength=screen_w - 2 * pad - 16)  # two lines on a small screen
        root.update_idletasks()
        below = sum(root.grid_bbox(0, row)[3] for row in range(1, 6))  # the rows under the board
        board_w = min(int(700 * self._dpi), screen_w - self.panel.frame.winfo_reqwidth() - 2 * pad - 16)
        room_h = screen_h - below - 2 * pad - 56  # leave room for the title bar and a panel of the desktop
        panel_h = self.panel.frame.winfo_reqheight() - 2 * pad
        board_h = min(int(420 * self._dpi), max(room_h, panel_h))
        self.board.configure(width=max(200, board_w), height=max(150, board_h))
        root.update_idletasks()
        root.minsize(min(root.winfo_reqwidth(), screen_w), min(root.winfo_reqheight(), screen_h))
        if self.settings.width and self.settings.height:
            width = min(max(self.settings.width, root.winfo_reqwidth()), screen_w)
            height = min(max(self.settings.height, root.winfo_reqheight()), screen_h)
            root.geometry(f"{width}x{height}")

    def _fit_canvas(self, width: int, height: int) -> None:
        """Scale the paper to the room the board has, keeping its shape, and redraw the strokes."""
        w, h = self.drawing.size
        margin = 8
        self.scale = max(0.1, min((width - margin) / w, (height - margin) / h))
        self.canvas.configure(width=round(w * self.scale), height=round(h * self.scale))
        self._redraw_strokes()

    def _bind_keys(self) -> None:
        bind = self.root.bind
        for key in ("<Return>", "<KP_Enter>"):
            bind(key, self._outside_entry(self.recognize_now))
        bind("<Escape>", self._on_escape)
        bind("<Delete>", self._outside_entry(self.clear))
        controls: dict[str, Callable[[], object]] = {
            "z": self.undo,
            "y": self.redo,
            "c": self.copy,
            "s": self.save_as,
            "m": self._toggle_mode,
            "q": self.quit,
        }
        for letter, action in controls.items():
            for key in (letter, letter.upper()):  # Caps Lock on or not
                bind(f"<Control-{key}>", self._outside_entry(action))
        bind("<Control-Shift-Z>", self._outside_entry(self.redo))
        bind("<bracketleft>", self._outside_entry(lambda: self._change_brush(-2)))
        bind("<bracketright>", self._outside_entry(lambda: self._change_brush(+2)))
        bind("<Key>", self.corrector.digit_key)

    def _outside_entry(self, action: Callable[[], object]) -> Callable[[Any], str | None]:
        """Keys that mean something else while typing a correction (Enter, Delete, Ctrl+Z, Ctrl+C...) are left to it."""

        def handler(event: Any) -> str | None:
            if event.widget is self.correction.number_entry:
                return None
            action()
            return "break"

        return handler

    # -- drawing --------------------------------------------------------------------

    def _paper_point(self, event: Any) -> Point:
        return (event.x / self.scale, event.y / self.scale)

    def _pen_down(self, event: Any) -> None:
        self.correction.dismiss_confirmation()  # "Thanks! Saved ..." was about the drawing before
        self.drawing.begin_stroke(self._paper_point(event), self._paper_width())
        self._stroke_items.append(self._draw_stroke(self.drawing.strokes[-1]))

    def _pen_move(self, event: Any) -> None:
        """Each move adds a short segment: Tk then redraws only that spot, not the whole stroke."""
        if self.drawing.extend_stroke(self._paper_point(event)):
            stroke = self.drawing.strokes[-1]
            (ax, ay), (bx, by) = stroke.points[-2], stroke.points[-1]
            s = self.scale
            self.canvas.create_line(
                ax * s, ay * s, bx * s, by * s, width=stroke.width * s, capstyle="round", tags="segment"
            )
            self._schedule_live()

    def _pen_up(self, event: Any) -> None:
        if not self.drawing.pen_is_down:
            return
        self._pen_move(event)
        self.drawing.end_stroke()
        self.recognize_now()
        # The finished stroke becomes one line again (one canvas item per stroke), while the model reads it.
        self.canvas.delete("segment")
        self.canvas.coords(self._stroke_items[-1], *self._screen_coords(self.drawing.strokes[-1]))

    def _draw_stroke(self, stroke: Stroke) -> int:
        coords = self._screen_coords(stroke)
        return self.canvas.create_line(
            *coords, width=stroke.width * self.scale, fill="black", capstyle="round", joinstyle="round"
        )

    def _screen_coords(self, stroke: Stroke) -> list[float]:
        points = stroke.points if len(stroke.points) > 1 else stroke.points * 2  # a dot: a zero-length line
        return [c * self.scale for p in points for c in p]

    def _redraw_strokes(self) -> None:
        self.canvas.delete("all")
        self._stroke_items = [self._draw_stroke(s) for s in self.drawing.strokes]

    def _paper_width(self) -> float:
        """The brush, in pixels of a 96 dpi screen, as a pen width on the paper: it draws what it says."""
        return float(self.brush.get()) * self._dpi / self.scale

    def _change_brush(self, step: float) -> None:
        self.brush.set(min(BRUSH_RANGE[1], max(BRUSH_RANGE[0], self.brush.get() + step)))

    def _brush_changed(self) -> None:
        self.brush_label.configure(text=f"Brush {self.brush.get():.0f} px")

    # -- reading --------------------------------------------------------------------

    def recognize_now(self, final: bool = True) -> None:
        """Ask for a reading of the drawing as it is now (pen release, Enter, the button)."""
        self._cancel_live()
        self._seq += 1
        if self.drawing.is_empty:
            self.show(None)
            return
        started = time.perf_counter()
        self.reader.submit(
            Job(self._seq, self.drawing.snapshot(), self.drawing.size, self.number_mode.get(), final, started)
        )
        if not self._polling:
            self._polling = True
            self.root.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        newest = None
        for job, reading in self.reader.take():
            self.throttle.record(job.started, time.perf_counter() - job.started)
            if job.seq == self._seq:
                newest = (job, reading)
        if newest is None:
            self.root.after(POLL_MS, self._poll)
            return
        self._polling = False
        job, reading = newest
        if isinstance(reading, Exception):
            self.say(f"Could not read the drawing: {reading}")
            return
        self.show(reading)
        if job.final:
            self.recent.add(Reading(readout(reading, job.number_mode).answer, job.strokes, job.number_mode))
        if self.on_shown:
            self.on_shown(job, reading)

    def _schedule_live(self) -> None:
        if self._live is None:
            delay = self.throttle.delay(time.perf_counter())
            self._live = self.root.after(int(delay * 1000), self._live_reading)

    def _live_reading(self) -> None:
        self._live = None
        self.recognize_now(final=False)

    def _cancel_live(self) -> None:
        if self._live is not None:
            self.root.after_cancel(self._live)
            self._live = None

    def show(self, recognition: Recognition | None) -> None:
        self.last = recognition
        self.panel.show(readout(recognition, self.number_mode.get()), recognition.seen if recognition else [])
        if recognition and self.log:
            self.log(log_line(recognition))

    @property
    def headline(self) -> Any:
        return self.panel.headline

    @property
    def detail(self) -> Any:
        return self.panel.detail

    # -- actions --------------------------------------------------------------------

    def _changed(self) -> None:
        """After undo, redo, clear or a drawing brought back: redraw and read again."""
        self._redraw_strokes()
        self.corrector.close()
        self.recognize_now(final=False)

    def clear(self) -> None:
        if self.drawing.clear():
            self._changed()
            self.say("Cleared (Ctrl+Z brings it back).")

    def undo(self) -> None:
        if self.drawing.pen_is_down:
            return  # the stroke being drawn is not finished: undo would cut it in two
        if self.drawing.undo():
            self._changed()

    def redo(self) -> None:
        if self.drawing.redo():
            self._changed()

    def show_reading(self, reading: Reading) -> None:
        """A recent reading clicked: its drawing comes back (Ctrl+Z returns to the one before)."""
        self.drawing.show(reading.strokes)
        self.number_mode.set(reading.number_mode)
        self._set_paper()
        self._changed()

    def copy(self) -> None:
        answer = readout(self.last, self.number_mode.get()).answer
        if not answer:
            self.say("Nothing to copy yet: draw a digit first.")
            return
        self.root.clipboard_clear()
        self.root.clipboard_append(answer)
        self.say(f"Copied {answer}")

    def _toggle_mode(self) -> None:
        self.number_mode.set(not self.number_mode.get())
        self._mode_changed()

    def _mode_changed(self) -> None:
        """The drawing stays as drawn (no stroke moves, so undo has nothing to restore) and is read again."""
        self._set_paper()
        self.corrector.close()
        self.correction.dismiss_confirmation()
        self.recognize_now()

    def _set_paper(self) -> None:
        self.drawing.set_paper(PAPER_NUMBER if self.number_mode.get() else PAPER_DIGIT)
        self._fit_canvas(self.board.winfo_width(), self.board.winfo_height())

    def _on_escape(self, event: Any) -> None:
        if self.correction.is_open:
            self.corrector.close()
        else:
            self.clear()

    def say(self, text: str) -> None:
        """A message in the status line; it clears by itself after STATUS_S seconds."""
        self.status.configure(text=text)
        if self._status_timer is not None:
            self.root.after_cancel(self._status_timer)
        self._status_timer = self.root.after(int(STATUS_S * 1000), lambda: self.status.configure(text=""))

    def quit(self) -> None:
        self.settings.brush = float(self.brush.get())
        self.settings.number_mode = bool(self.number_mode.get())
        self.settings.width, self.settings.height = self.root.winfo_width(), self.root.winfo_height()
        if self.settings_file:
            remembered.save(self.settings, self.settings_file)
        self.reader.close()
        self._cancel_live()
        if self._status_timer is not None:
            self.root.after_cancel(self._status_timer)
        self.root.destroy()

    # -- saving -----------------------------------------------------------------------

    def save_as(self) -> None:
        from tkinter import filedialog

        if self.drawing.is_empty:
            self.say("Nothing to save yet: draw something first.")
            return
        name = filedialog.asksaveasfilename(
            parent=self.root,
            defaultextension=".png",
            filetypes=[("PNG image", "*.png")],
            initialfile="drawing.png",
            initialdir=self.settings.save_folder or None,
        )
        if not name:
            return
        try:
            self.drawing.image().save(name, "PNG")
        except (OSError, ValueError) as exc:
            self.say(f"Could not save {name} ({exc}).")
            return
        self.settings.save_folder = str(Path(name).parent)
        self.say(f"Saved {name}")


def model_description(recognizer: Recognizer) -> str:
    """A few words from the model card: its name and test accuracy when known."""
    card = recognizer.card or {}
    words = [str(card.get("name") or "no model card")]
    accuracy = (card.get("metrics") or {}).get("test_accuracy") if isinstance(card.get("metrics"), dict) else None
    if isinstance(accuracy, (int, float)):
        words.append(f"{accuracy:.2%} on MNIST test")
    return ", ".join(words)

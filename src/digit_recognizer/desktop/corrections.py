""" "Wrong?" in the window: ask for the right answer, save it, take it back.

What is saved, and how (PNG and strokes, all or nothing), is ``digit_recognizer.corrections``,
shared with the web app; this class only connects it to the window's correction row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import corrections as saved
from ..recognizer import NumberPrediction
from .logic import readout

if TYPE_CHECKING:
    from .window import DrawingApp


class Corrector:
    def __init__(self, app: DrawingApp) -> None:
        self.app = app
        self.last_saved: list[Path] = []

    def ask(self) -> None:
        """Open the "right answer" row: ten digit buttons, or a box to type the right number."""
        app = self.app
        answer = readout(app.last, app.number_mode.get()).answer
        if app.drawing.is_empty or app.last is None or not answer:
            app.say("Draw a digit first; then, if I read it wrong, tell me the right one.")
            return
        if isinstance(app.last.result, NumberPrediction):
            app.correction.open_number(answer)
        else:
            app.correction.open_digit()

    def close(self) -> None:
        if self.app.correction.is_open:
            self.app.correction.close()
            self.app.root.focus_set()

    def digit_key(self, event: Any) -> None:
        if self.app.correction.wants_digits and event.char.isdigit() and event.char.isascii():
            self.digit(int(event.char))

    def digit(self, digit: int) -> None:
        drawing = self.app.drawing
        self._save([saved.Labelled(digit, drawing.image(), drawing.snapshot())], f"as {digit}")

    def number(self) -> None:
        """Save a number, one digit per file pair; any number of digits typed is accepted
        when the recognizer can read the drawing as that many digits."""
        app = self.app
        result = app.last.result if app.last else None
        if not isinstance(result, NumberPrediction) or result.number is None:
            return
        try:
            digits = saved.parse_number(app.correction.number_entry.get())
            if len(digits) != len(result.digits):
                result = self._read_as(len(digits)) or result
            boxes = [d.box for d in result.digits]
            items = saved.number_items(app.drawing.image(), digits, boxes, app.drawing.snapshot())
        except ValueError as exc:
            app.say(str(exc))
            return
        self._save(items, f"as {''.join(map(str, digits))}, one file per digit,")

    def _read_as(self, count: int) -> NumberPrediction | None:
        """The number read again as exactly ``count`` digits (the segmentation's count hint)."""
        again = self.app.recognizer.predict_number(self.app.drawing.image(), digits=count)
        return again if len(again.digits) == count else None

    def _save(self, items: list[saved.Labelled], what: str) -> None:
        app = self.app
        try:
            self.last_saved = saved.save_all(items, app.corrections, source="desktop")
        except OSError as exc:
            app.say(saved.cannot_save(exc))
            return
        where = self.last_saved[0] if len(self.last_saved) == 1 else app.corrections
        app.correction.open_saved(f"Thanks! Saved {what} in {where}", self.take_back)
        app.root.focus_set()

    def take_back(self) -> None:
        """Remove the correction just saved (a mistyped label)."""
        saved.forget(self.last_saved)
        self.app.correction.close()
        self.app.say(f"Taken back: {len(self.last_saved)} correction(s) removed.")
        self.last_saved = []

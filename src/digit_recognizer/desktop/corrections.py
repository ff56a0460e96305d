""" "Wrong?" in the window: ask for the right answer, save it, take it back.

What is saved, and how (PNG and strokes, all or nothing), is ``digit_recognizer.corrections``,
shared with the web app; this class only connects it to the window's correction row. It is
given what it works on (the row, the drawing, the reading shown, a way to say something)
rather than the window, so the window imports it and not the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import corrections as saved
from ..recognizer import NumberPrediction, Recognizer
from .logic import Drawing, Recognition, readout
from .panels import CorrectionRow


class Corrector:
    """The "Wrong?" actions on ``row`` for the reading ``shown()`` of ``drawing``."""

    def __init__(
        self,
        row: CorrectionRow,
        drawing: Drawing,
        shown: Callable[[], Recognition | None],
        recognizer: Recognizer,
        folder: Path,
        say: Callable[[str], None],
        refocus: Callable[[], None],
    ) -> None:
        self.row, self.drawing, self.shown, self.recognizer = row, drawing, shown, recognizer
        self.folder, self.say, self.refocus = folder, say, refocus
        self.last_saved: list[Path] = []

    def ask(self) -> None:
        """Open the "right answer" row: ten digit buttons, or a box to type the right number."""
        last = self.shown()
        answer = readout(last, False).answer
        if self.drawing.is_empty or last is None or not answer:
            self.say("Draw a digit first; then, if I read it wrong, tell me the right one.")
            return
        if isinstance(last.result, NumberPrediction):
            self.row.open_number(answer)
        else:
            self.row.open_digit()

    def close(self) -> None:
        if self.row.is_open:
            self.row.close()
            self.refocus()

    def digit_key(self, event: Any) -> None:
        if self.row.wants_digits and event.char.isdigit() and event.char.isascii():
            self.digit(int(event.char))

    def digit(self, digit: int) -> None:
        drawing = self.drawing
        self._save([saved.Labelled(digit, drawing.image(), drawing.snapshot())], f"as {digit}")

    def number(self) -> None:
        """Save a number, one digit per file pair; any number of digits typed is accepted
        when the recognizer can read the drawing as that many digits."""
        last = self.shown()
        result = last.result if last else None
        if not isinstance(result, NumberPrediction) or result.number is None:
            return
        drawing = self.drawing
        try:
            digits = saved.parse_number(self.row.number_entry.get())
            if len(digits) != len(result.digits):
                result = self._read_as(len(digits)) or result
            boxes = [d.box for d in result.digits]
            items = saved.number_items(drawing.image(), digits, boxes, drawing.snapshot())
        except ValueError as exc:
            self.say(str(exc))
            return
        self._save(items, f"as {''.join(map(str, digits))}, one file per digit,")

    def _read_as(self, count: int) -> NumberPrediction | None:
        """The number read again as exactly ``count`` digits (the segmentation's count hint)."""
        again = self.recognizer.predict_number(self.drawing.image(), digits=count)
        return again if len(again.digits) == count else None

    def _save(self, items: list[saved.Labelled], what: str) -> None:
        try:
            self.last_saved = saved.save_all(items, self.folder, source="desktop")
        except OSError as exc:
            self.say(saved.cannot_save(exc))
            return
        where = self.last_saved[0] if len(self.last_saved) == 1 else self.folder
        self.row.open_saved(f"Thanks! Saved {what} in {where}", self.take_back)
        self.refocus()

    def take_back(self) -> None:
        """Remove the correction just saved (a mistyped label)."""
        saved.forget(self.last_saved)
        self.row.close()
        self.say(f"Taken back: {len(self.last_saved)} correction(s) removed.")
        self.last_saved = []

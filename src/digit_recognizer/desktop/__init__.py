"""`digits draw`: a Tk window to draw digits with the mouse and see them recognized as you draw.

Read in this order: ``logic`` (the drawing, recognition on a worker thread, the words
shown: no Tk, tested without a display), ``panels`` (the parts around the canvas),
``window`` (the window that wires them to events), ``corrections`` ("Wrong?"),
``settings`` (what is remembered between runs), ``theme`` (light or dark, as the system is).
Corrections are written by ``digit_recognizer.corrections``, shared with the web app.
``run`` below is what the CLI calls.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..corrections import corrections_dir, save_correction
from ..recognizer import ModelError, Recognizer
from .logic import (
    DEFAULT_BRUSH,
    PAPER_DIGIT,
    PAPER_NUMBER,
    PROMPT_DIGIT,
    PROMPT_NUMBER,
    Drawing,
    Recognition,
    Throttle,
    log_line,
    readout,
    recognize,
)
from .settings import settings_path
from .window import SHORTCUTS, DrawingApp

__all__ = [
    "DEFAULT_BRUSH",
    "PAPER_DIGIT",
    "PAPER_NUMBER",
    "PROMPT_DIGIT",
    "PROMPT_NUMBER",
    "SHORTCUTS",
    "Drawing",
    "DrawingApp",
    "NoDisplay",
    "Recognition",
    "Throttle",
    "corrections_dir",
    "log_line",
    "readout",
    "recognize",
    "run",
    "save_correction",
]


class NoDisplay(Exception):
    """No window can be opened here; the message suggests the commands that work without one."""


def open_root() -> Any:
    """The Tk root window, or NoDisplay with advice when there is no screen (SSH, a server)."""
    advice = "use `digits serve` and open the page in a browser, or `digits predict IMAGE` to read image files."
    try:
        import tkinter as tk
    except ImportError:
        raise NoDisplay(f"tkinter is not installed (Debian/Ubuntu: apt-get install python3-tk); {advice}") from None
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
    DrawingApp(root, recognizer, number_mode=True if multi else None, log=log, settings_file=settings_path())
    if verbose:
        print(f"model {recognizer.path}; corrections go to {corrections_dir()}", file=sys.stderr, flush=True)
    root.mainloop()
    return 0

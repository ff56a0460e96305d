"""Where a person's own data lives: their corrections and the personal model `digits adapt` makes.

One place for these paths, so the apps that save corrections ("Wrong?"), `digits adapt`
that learns from them, and the apps that then use the personal model all agree. The
XDG data folder (``$XDG_DATA_HOME``, else ``~/.local/share``) holds them, not the
cache: they are the user's work and must survive a cache clean-up. Torch-free and
light: the apps import it at start-up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from .recognizer import shipped_model_path

APP = "digit-recognizer"
SHIPPED = "shipped"  # the value of --model that asks for the model inside the package


def data_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_DATA_HOME/digit-recognizer``, else ``~/.local/share/digit-recognizer``."""
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP


def corrections_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where "Wrong?" saves labelled drawings: ``$DIGITS_CORRECTIONS_DIR``, else the data folder's ``corrections``.

    The layout (``<dir>/<digit>/<timestamp>.png``, strokes in ``<timestamp>.ndjson`` beside
    it) is what ``digits evaluate --images DIR`` and ``digits adapt`` read.
    """
    if env.get("DIGITS_CORRECTIONS_DIR"):
        return Path(env["DIGITS_CORRECTIONS_DIR"]).expanduser()
    return data_home(env) / "corrections"


def personal_model_path(env: Mapping[str, str] = os.environ) -> Path:
    """Where `digits adapt` writes the personal model by default (its card and weights beside it)."""
    return data_home(env) / "personal" / "model.onnx"


def resolve_model(arg: str | None, env: Mapping[str, str] = os.environ) -> tuple[Path, str]:
    """The model the apps should load for ``--model arg``, and a short description to show the user.

    None (no ``--model``): the personal model when `digits adapt` has made one, else the
    shipped model; ``"shipped"``: the shipped model even when a personal one exists;
    anything else: that file (checked when it is loaded, as before).
    """
    if arg == SHIPPED:
        return shipped_model_path(), "shipped model"
    if arg is not None:
        path = Path(arg).expanduser()
        return path, f"model {path}"
    personal = personal_model_path(env)
    if personal.is_file():
        return personal, f"your personal model ({_adapted_from(personal)}; --model shipped for the standard one)"
    return shipped_model_path(), "shipped model"


def _adapted_from(model: Path) -> str:
    """ "learned from 120 corrections on 2026-11-21" from the model's card, or its path when the card says nothing."""
    try:
        adapted = json.loads(model.with_suffix(".json").read_text())["adapted"]
        return f"learned from {adapted['corrections']} corrections on {adapted['date'][:10]}"
    except (OSError, ValueError, KeyError, TypeError):
        return str(model)

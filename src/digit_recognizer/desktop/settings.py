"""The window's remembered settings: brush, mode, window size, the folder Save PNG last used.

A small JSON file in the user config folder (``$XDG_CONFIG_HOME/digit-recognizer/desktop.json``,
default ``~/.config/...``; ``$DIGITS_CONFIG_DIR`` overrides the folder). It is written
atomically (a temporary file renamed over the old one), so a crash never leaves half
a file; a file that cannot be read is ignored with a message, never an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .logic import BRUSH_RANGE, DEFAULT_BRUSH


@dataclass
class Settings:
    brush: float = DEFAULT_BRUSH
    number_mode: bool = False
    width: int = 0  # window size in screen pixels; 0: the natural size
    height: int = 0
    save_folder: str = ""


def settings_path(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("DIGITS_CONFIG_DIR"):
        return Path(env["DIGITS_CONFIG_DIR"]).expanduser() / "desktop.json"
    config_home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "digit-recognizer" / "desktop.json"


def load(path: Path) -> tuple[Settings, str | None]:
    """The settings in ``path`` (defaults when there is none) and a message when the file was bad."""
    if not path.exists():
        return Settings(), None
    try:
        raw = json.loads(path.read_text("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        return _checked(raw), None
    except (OSError, ValueError, TypeError) as exc:
        return Settings(), f"Settings in {path} ignored ({exc}); they will be written again."


def _checked(raw: dict[str, Any]) -> Settings:
    known = {f.name: f.type for f in fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    settings = Settings(**values)
    if isinstance(settings.brush, bool) or not isinstance(settings.brush, (int, float)):
        raise ValueError(f"brush {settings.brush!r} is not a number")
    settings.brush = min(BRUSH_RANGE[1], max(BRUSH_RANGE[0], float(settings.brush)))
    if not isinstance(settings.number_mode, bool):
        raise ValueError(f"number_mode {settings.number_mode!r} is not true or false")
    for name in ("width", "height"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 20_000:
            raise ValueError(f"{name} {value!r} is not a window size")
    if not isinstance(settings.save_folder, str):
        raise ValueError(f"save_folder {settings.save_folder!r} is not a folder name")
    return settings


def save(settings: Settings, path: Path) -> str | None:
    """Write the settings atomically; a message when that failed (the app goes on without)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".desktop-", delete=False) as out:
            json.dump(asdict(settings), out, indent=1)
        os.replace(out.name, path)
    except OSError as exc:
        return f"Could not remember the settings in {path} ({exc})."
    return None

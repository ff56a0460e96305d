"""The window's look: the Sun Valley ttk theme (sv-ttk), light or dark as the system is, and its colours.

Classic Tk widgets look the same on every system, and dated; Sun Valley is a maintained
ttk theme (PyPI: sv-ttk) that looks current on Linux, macOS and Windows and has a dark
variant. The system's choice is read with darkdetect (macOS, Windows, GNOME); where it
cannot tell, the light variant is used. ``$DIGITS_THEME`` (light, dark or auto) overrides.

Sun Valley sizes its fonts in pixels, which stay small on a 144 dpi screen; they are
given point sizes here, so Tk scales them with the screen like the rest of the window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

THEME_ENV = "DIGITS_THEME"
THEMES = ("light", "dark")
FONT_POINTS = {  # Sun Valley's named fonts, in points (its pixel sizes at 96 dpi)
    "SunValleyCaptionFont": 9,
    "SunValleyBodyFont": 10,
    "SunValleyBodyStrongFont": 10,
    "SunValleyBodyLargeFont": 13,
    "SunValleySubtitleFont": 15,
    "SunValleyTitleFont": 21,
    "SunValleyTitleLargeFont": 30,
    "SunValleyDisplayFont": 51,
}


@dataclass(frozen=True)
class Palette:
    """The colours drawn by hand (canvases, the preview), matching the theme's widgets."""

    name: str
    surface: str  # the window's background, as the theme paints it
    ink: str  # text
    muted: str  # secondary text
    accent: str  # the answer's bar
    bar: str  # the other bars
    track: str  # behind a bar
    backdrop: str  # the line around the white paper


PALETTES = {
    "light": Palette("light", "#fafafa", "#1c1c1c", "#5d5d5d", "#005fb8", "#9aa6b4", "#e6e8eb", "#d0d0d0"),
    "dark": Palette("dark", "#1c1c1c", "#fafafa", "#b4b4b4", "#57c8ff", "#5b6573", "#2d3136", "#3a3a3a"),
}


def preferred(env: Mapping[str, str] = os.environ) -> str:
    """'light' or 'dark': $DIGITS_THEME when it names one, else the system's setting, else light."""
    wanted = env.get(THEME_ENV, "auto").strip().lower()
    if wanted in THEMES:
        return wanted
    try:
        import darkdetect

        return "dark" if darkdetect.isDark() else "light"
    except Exception:  # no way to tell on this system (darkdetect asks the desktop)
        return "light"


def apply(root: Any, name: str | None = None) -> Palette:
    """Give ``root`` the Sun Valley theme (``name``, or the preferred one) and return its colours."""
    from tkinter import font, ttk

    import sv_ttk

    name = name if name in THEMES else preferred()
    sv_ttk.set_theme(name, root)
    family = font.nametofont("TkDefaultFont", root).actual("family")
    for font_name, points in FONT_POINTS.items():
        named = font.nametofont(font_name, root)
        if "segoe" not in named.actual("family").lower():  # Segoe UI is Windows': elsewhere, the system's font
            named.configure(family=family)
        named.configure(size=points)
    palette = PALETTES[name]
    surface = ttk.Style(root).lookup(".", "background") or palette.surface
    return Palette(**{**palette.__dict__, "surface": surface})

"""The real drawing window under Xvfb, driven with real pointer and key events from xdotool.

The window runs in this process (so a test can read the label the user would read), on an
Xvfb server this module starts; xdotool moves the X pointer, presses the button and types,
exactly as a person's mouse and keyboard would. One test runs `digits draw` as a separate
process to check the command itself. Skipped, with the reason, when Xvfb or xdotool is absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from digit_recognizer import Recognizer
from digit_recognizer.desktop import DEFAULT_BRUSH, PROMPT_DIGIT, SHORTCUTS, DrawingApp

pytestmark = pytest.mark.gui

sys.path.insert(0, str(Path(__file__).parent))
from test_desktop import STROKES, pen_points  # noqa: E402  (the same digit paths as the logic tests)

MOVE_PAUSE = "0.004"  # seconds between pointer moves: a real mouse reports at 100-1000 Hz


@contextmanager
def xvfb(screen: str = "1280x1024x24", dpi: int = 96) -> Iterator[str]:
    """A private Xvfb server; it picks a free display number itself (-displayfd)."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian/Ubuntu: apt-get install xvfb xdotool)")
    read_end, write_end = os.pipe()
    command = ["Xvfb", "-displayfd", str(write_end), "-screen", "0", screen, "-dpi", str(dpi), "-nolisten", "tcp"]
    server = subprocess.Popen(command, pass_fds=[write_end], stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as announced:
        number = announced.readline().strip()
    try:
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb() as name:
        yield name


def xdotool(display: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["xdotool", *args], env={**os.environ, "DISPLAY": display})


class Window:
    """The app in a real Tk window, with helpers that act through the X server."""

    def __init__(self, display: str, app: DrawingApp) -> None:
        self.display, self.app, self.root = display, app, app.root

    def pump(self, seconds: float = 0.15) -> None:
        """Let Tk handle the events the X server delivered (and the timers they started)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.root.update()
            time.sleep(0.002)

    def run(self, *args: str) -> None:
        """Run one xdotool command while the window keeps handling events, then settle."""
        proc = xdotool(self.display, *args)
        while proc.poll() is None:
            self.root.update()
            time.sleep(0.001)
        assert proc.returncode == 0
        self.pump()

    def draw(self, digit: int, dx: float = 0) -> None:
        """Draw a digit's strokes with the mouse: press, move along the path, release."""
        x0, y0, scale = self.app.canvas.winfo_rootx(), self.app.canvas.winfo_rooty(), self.app.scale
        for path in STROKES[digit]:
            screen = [(str(round(x0 + (x + dx) * scale)), str(round(y0 + y * scale))) for x, y in pen_points(path)]
            args = ["mousemove", *screen[0], "mousedown", "1"]
            for x, y in screen[1:]:
                args += ["sleep", MOVE_PAUSE, "mousemove", x, y]
            self.run(*args, "mouseup", "1")

    def click(self, text: str) -> None:
        """Click the button labelled ``text`` with the mouse."""
        button = find_widget(self.root, text)
        x = button.winfo_rootx() + button.winfo_width() // 2
        y = button.winfo_rooty() + button.winfo_height() // 2
        self.run("mousemove", str(x), str(y), "click", "1")

    def key(self, *keys: str) -> None:
        self.run("key", *keys)

    @property
    def shown(self) -> str:
        return str(self.app.headline.cget("text"))


@pytest.fixture
def open_window(display: str, recognizer: Recognizer, tmp_path: Path) -> Iterator[Callable[..., Window]]:
    import tkinter as tk

    roots: list[Any] = []

    def open_(**options: Any) -> Window:
        root = tk.Tk(screenName=display)
        roots.append(root)
        app = DrawingApp(root, recognizer, corrections=tmp_path / "corrections", **options)
        window = Window(display, app)
        window.pump(0.3)
        root.focus_force()
        window.pump(0.1)
        return window

    yield open_
    for root in roots:
        with contextlib.suppress(tk.TclError):  # a test may have quit the window already
            root.destroy()


def find_widget(widget: Any, text: str) -> Any:
    """The first widget under ``widget`` showing ``text``."""
    if "text" in widget.configure() and str(widget.cget("text")) == text:
        return widget
    for child in widget.winfo_children():
        if (found := find_widget(child, text)) is not None:
            return found
    return None


# --------------------------------------------------------------------------- tests


def test_a_new_window_shows_the_prompt_and_the_shortcuts(open_window: Callable[..., Window]) -> None:
    window = open_window()
    assert window.shown == ""
    assert str(window.app.detail.cget("text")) == PROMPT_DIGIT
    assert find_widget(window.root, SHORTCUTS) is not None


@pytest.mark.parametrize("digit", [1, 7, 0])
def test_a_digit_drawn_with_the_mouse_is_shown(open_window: Callable[..., Window], digit: int) -> None:
    window = open_window()
    window.draw(digit)
    assert window.shown == str(digit)
    assert "% sure" in str(window.app.detail.cget("text"))


def test_escape_clears_and_ctrl_z_undoes_the_last_stroke(open_window: Callable[..., Window]) -> None:
    window = open_window()
    window.draw(4)
    assert window.shown == "4" and len(window.app.drawing.strokes) == 2
    window.key("ctrl+z")
    assert len(window.app.drawing.strokes) == 1 and len(window.app.canvas.find_all()) == 1
    window.key("Escape")
    assert window.app.drawing.is_empty and window.shown == ""
    assert not window.app.canvas.find_all()


def test_number_mode_reads_digits_drawn_side_by_side(open_window: Callable[..., Window]) -> None:
    window = open_window(number_mode=True)
    for i, digit in enumerate([4, 1, 7]):
        window.draw(digit, dx=280 * i)
    assert window.shown == "417"


def test_ctrl_m_switches_to_number_mode(open_window: Callable[..., Window]) -> None:
    window = open_window()
    window.draw(1)
    window.key("ctrl+m")
    window.draw(7, dx=280)
    assert window.app.number_mode.get() and window.shown == "17"


def test_wrong_saves_the_drawing_under_the_right_digit(open_window: Callable[..., Window], tmp_path: Path) -> None:
    window = open_window()
    window.draw(7)
    window.app.corrector.ask()
    window.pump()
    window.key("1")  # "it was a 1"
    saved = list((tmp_path / "corrections" / "1").glob("*.png"))
    assert len(saved) == 1 and saved[0].with_suffix(".ndjson").is_file()
    assert str(saved[0]) in str(window.app.correction.prompt.cget("text"))
    window.click("Take it back")  # a mistyped label
    assert not list((tmp_path / "corrections").rglob("*.*"))


def test_the_buttons_recognise_and_clear(open_window: Callable[..., Window]) -> None:
    window = open_window()
    window.draw(7)
    window.app.show(None)  # forget the reading made on release
    window.click("Recognise")
    assert window.shown == "7"
    window.click("Clear")
    assert window.app.drawing.is_empty and window.shown == ""


def test_wrong_in_number_mode_saves_each_digit_under_the_typed_answer(
    open_window: Callable[..., Window], tmp_path: Path
) -> None:
    window = open_window(number_mode=True)
    window.draw(1)
    window.draw(7, dx=280)
    window.click("Wrong?")
    window.run("type", "--delay", "20", "14")  # replaces the selected "17"
    window.key("Return")
    corrections = tmp_path / "corrections"
    assert [len(list((corrections / d).glob("*.png"))) for d in ("1", "4", "7")] == [1, 1, 0]
    assert [len(list((corrections / d).glob("*.ndjson"))) for d in ("1", "4", "7")] == [1, 1, 0]


def test_a_resized_window_scales_the_drawing_and_reads_the_same(open_window: Callable[..., Window]) -> None:
    window = open_window()
    window.draw(7)
    before = window.app.scale
    window.root.geometry("1200x950")
    window.pump(0.3)
    assert window.app.scale > before
    window.key("Return")
    assert window.shown == "7"


def test_multi_starts_the_command_in_number_mode(
    display: str, recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from digit_recognizer import desktop

    opened: list[bool] = []

    class ClosingApp(desktop.DrawingApp):
        def __init__(self, root: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(root, *args, **kwargs)
            opened.append(self.number_mode.get())
            root.after(200, root.destroy)

    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setenv("DIGITS_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr(desktop, "DrawingApp", ClosingApp)
    assert desktop.run(model=str(recognizer.path), multi=True) == 0
    assert opened == [True]


MEASURE_WINDOW = """
import sys, tkinter as tk
from pathlib import Path
from digit_recognizer import Recognizer
from digit_recognizer.desktop import DrawingApp
root = tk.Tk()
app = DrawingApp(root, Recognizer.load(sys.argv[1]), corrections=Path(sys.argv[2]))
root.update()
print(app.canvas.winfo_width(), app.fonts["headline"].metrics("linespace"))
"""


def test_a_high_dpi_screen_gets_a_proportionally_bigger_window(recognizer: Recognizer, tmp_path: Path) -> None:
    sizes = []
    for dpi in (96, 192):
        # A process of its own per server: Xlib ends a process whose X server goes away.
        with xvfb(screen="3000x2400x24", dpi=dpi) as name:
            command = [sys.executable, "-c", MEASURE_WINDOW, str(recognizer.path), str(tmp_path)]
            done = subprocess.run(command, env={**os.environ, "DISPLAY": name}, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            sizes.append([int(v) for v in done.stdout.split()])
    (canvas_1x, text_1x), (canvas_2x, text_2x) = sizes
    assert 1.7 < canvas_2x / canvas_1x < 2.3
    assert 1.7 < text_2x / text_1x < 2.3


def wait_for_window(app: subprocess.Popen[str], title: str, env: dict[str, str], timeout: float = 30) -> str:
    """The X id of the app's window once it is visible; fails early, with its stderr, if the app exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            pytest.fail(f"digits draw exited with {app.returncode}: {app.communicate()[1]}")
        search = ["xdotool", "search", "--onlyvisible", "--name", title]
        found = subprocess.run(search, env=env, capture_output=True, text=True, timeout=10).stdout.split()
        if found:
            return found[0]
        time.sleep(0.1)
    pytest.fail(f"no window named {title!r} appeared within {timeout} s")


def test_digits_draw_opens_a_window_logs_with_verbose_and_quits(display: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": display, "DIGITS_CONFIG_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "digit_recognizer", "draw", "--verbose"]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as app:
        try:
            window_id = wait_for_window(app, "^Digit recognizer .*mnist_cnn.onnx", env)
            subprocess.run(["xdotool", "windowfocus", "--sync", window_id], env=env, check=True, timeout=10)
            subprocess.run(["xdotool", "key", "bracketright", "ctrl+q"], env=env, check=True, timeout=10)
            _, stderr = app.communicate(timeout=30)
        finally:
            if app.poll() is None:
                app.kill()
    assert app.returncode == 0, stderr
    assert "model " in stderr and "mnist_cnn.onnx" in stderr
    remembered = json.loads((tmp_path / "desktop.json").read_text())  # Ctrl+Q keeps the settings
    assert remembered["brush"] == DEFAULT_BRUSH + 2


# --------------------------------------------------------------------------- defects found by trying the app


def test_ctrl_z_while_the_button_is_held_keeps_the_stroke_whole(open_window: Callable[..., Window]) -> None:
    window = open_window()
    x0, y0, scale = window.app.canvas.winfo_rootx(), window.app.canvas.winfo_rooty(), window.app.scale
    at = [(str(round(x0 + 150 * scale)), str(round(y0 + y * scale))) for y in range(45, 240, 10)]
    half = len(at) // 2
    moves = [arg for x, y in at[1:half] for arg in ("sleep", MOVE_PAUSE, "mousemove", x, y)]
    window.run("mousemove", *at[0], "mousedown", "1", *moves)
    window.key("ctrl+z")  # pressed with the button still held
    rest = [arg for x, y in at[half:] for arg in ("sleep", MOVE_PAUSE, "mousemove", x, y)]
    window.run(*rest, "mouseup", "1")
    [stroke] = window.app.drawing.strokes  # one stroke, not cut at the Ctrl+Z...
    ys = [y for _, y in stroke.points]
    assert min(ys) < 50 and max(ys) > 230  # ...running from the first point to the last (X may merge moves)
    assert window.shown == "1"


def test_ctrl_z_in_the_number_correction_box_keeps_the_drawing(open_window: Callable[..., Window]) -> None:
    window = open_window(number_mode=True)
    window.draw(1)
    window.draw(7, dx=280)
    window.click("Wrong?")
    window.key("ctrl+z")
    assert len(window.app.drawing.strokes) == 2


def test_leaving_number_mode_keeps_every_stroke_visible_and_undo_removes_a_visible_one(
    open_window: Callable[..., Window],
) -> None:
    window = open_window(number_mode=True)
    for i, digit in enumerate([4, 1, 7]):
        window.draw(digit, dx=280 * i)
    window.key("ctrl+m")
    width, height = window.app.canvas.winfo_width(), window.app.canvas.winfo_height()
    for item in window.app.canvas.find_all():
        xs, ys = window.app.canvas.coords(item)[0::2], window.app.canvas.coords(item)[1::2]
        assert min(xs) >= 0 and max(xs) <= width and min(ys) >= 0 and max(ys) <= height
    before = len(window.app.canvas.find_all())
    window.key("ctrl+z")
    assert len(window.app.canvas.find_all()) == before - 1


def test_redo_undo_of_clear_copy_and_recent_readings(open_window: Callable[..., Window]) -> None:
    window = open_window()
    window.draw(7)
    window.key("ctrl+c")
    assert window.root.clipboard_get() == "7"
    window.key("Escape")
    assert window.app.drawing.is_empty
    window.key("ctrl+z")  # Clear taken back
    assert len(window.app.drawing.strokes) == 1 and window.shown == "7"
    window.key("ctrl+z")
    assert window.app.drawing.is_empty
    window.key("ctrl+y")
    assert window.shown == "7"
    window.key("Escape")
    window.draw(1)
    assert [r.answer for r in window.app.recent.items] == ["1", "7"]
    window.click("7")  # the recent reading: its drawing comes back
    assert window.shown == "7" and len(window.app.drawing.strokes) == 1


def test_status_messages_clear_by_themselves(
    open_window: Callable[..., Window], monkeypatch: pytest.MonkeyPatch
) -> None:
    from digit_recognizer.desktop import window as window_module

    monkeypatch.setattr(window_module, "STATUS_S", 0.3)
    window = open_window()
    window.key("ctrl+c")  # nothing to copy: a message
    assert window.app.status.cget("text")
    window.pump(0.5)
    assert not window.app.status.cget("text")


def test_a_small_digit_is_read_and_the_app_asks_to_draw_bigger(open_window: Callable[..., Window]) -> None:
    window = open_window()
    x0, y0, scale = window.app.canvas.winfo_rootx(), window.app.canvas.winfo_rooty(), window.app.scale
    path = [(120, 110), (165, 110), (135, 170)]  # a 7 a fifth of the box tall, default brush
    from test_desktop import pen_points

    screen = [(str(round(x0 + x * scale)), str(round(y0 + y * scale))) for x, y in pen_points(path, step=3)]
    moves = [arg for x, y in screen[1:] for arg in ("sleep", MOVE_PAUSE, "mousemove", x, y)]
    window.run("mousemove", *screen[0], "mousedown", "1", *moves, "mouseup", "1")
    assert window.shown.startswith("7")
    assert "draw bigger" in str(window.app.detail.cget("text"))


def test_settings_are_remembered_and_a_bad_file_is_ignored_with_a_message(
    open_window: Callable[..., Window], tmp_path: Path
) -> None:
    settings = tmp_path / "desktop.json"
    window = open_window(settings_file=settings)
    window.key("bracketright", "bracketright", "ctrl+m")
    window.app.quit()
    saved = json.loads(settings.read_text())
    assert saved["brush"] == DEFAULT_BRUSH + 4 and saved["number_mode"] is True
    again = open_window(settings_file=settings)
    assert again.app.brush.get() == DEFAULT_BRUSH + 4 and again.app.number_mode.get()
    assert "Brush 24 px" in str(again.app.brush_label.cget("text"))
    settings.write_text("{not json")
    third = open_window(settings_file=settings)
    assert "ignored" in str(third.app.status.cget("text")) and third.app.brush.get() == DEFAULT_BRUSH


LAYOUT = """
import sys, tkinter as tk
from pathlib import Path
from digit_recognizer import Recognizer
from digit_recognizer.desktop import DrawingApp
root = tk.Tk()
app = DrawingApp(root, Recognizer.load(sys.argv[1]), corrections=Path(sys.argv[2]), number_mode=sys.argv[3] == "1")
def settle():
    for _ in range(20):
        root.update()
def place():
    settle()
    return (app.canvas.winfo_rootx(), app.canvas.winfo_rooty(), app.canvas.winfo_width(), root.winfo_width())
first = place()
app.panel.headline.configure(text="1234567")  # a long number
app.panel._fit_headline(7)
app.correction.open_number("1234567")  # "Wrong?" opened
second = place()
status_bottom = app.status.winfo_rooty() + app.status.winfo_height()
print(root.winfo_width(), root.winfo_height(), status_bottom, first == second)
"""


@pytest.mark.parametrize(("screen", "dpi"), [("1024x600", 96), ("1280x1024", 144)])
@pytest.mark.parametrize("number_mode", [False, True])
def test_the_window_fits_small_screens_and_nothing_moves_under_the_pen(
    recognizer: Recognizer, tmp_path: Path, screen: str, dpi: int, number_mode: bool
) -> None:
    with xvfb(screen=f"{screen}x24", dpi=dpi) as name:
        command = [sys.executable, "-c", LAYOUT, str(recognizer.path), str(tmp_path), str(int(number_mode))]
        done = subprocess.run(command, env={**os.environ, "DISPLAY": name}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    width, height, status_bottom, stable = done.stdout.split()
    screen_w, screen_h = map(int, screen.split("x"))
    assert int(width) <= screen_w and int(height) <= screen_h - 40  # room for a title bar
    assert int(status_bottom) <= int(height)  # the status line is not cut
    assert stable == "True"  # the canvas neither moved nor changed size

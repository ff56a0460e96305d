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


def test_the_buttons_recognize_and_clear(open_window: Callable[..., Window]) -> None:
    window = open_window()
    window.draw(7)
    window.app.show(None)  # forget the reading made on release
    window.click("Recognize")
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
import sys, tkinter as tk, tkinter.font
from pathlib import Path
from digit_recognizer import Recognizer
from digit_recognizer.desktop import DrawingApp
root = tk.Tk()
app = DrawingApp(root, Recognizer.load(sys.argv[1]), corrections=Path(sys.argv[2]))
root.update()
body = tk.font.nametofont("SunValleyBodyFont").metrics("linespace")  # the theme's own text, on every button
print(app.canvas.winfo_width(), app.fonts["headline"].metrics("linespace"), body)
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
    (canvas_1x, text_1x, body_1x), (canvas_2x, text_2x, body_2x) = sizes
    assert 1.7 < canvas_2x / canvas_1x < 2.3
    assert 1.7 < text_2x / text_1x < 2.3
    assert 1.7 < body_2x / body_1x < 2.3  # buttons and labels too, not only the headline


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
    assert f"Brush {DEFAULT_BRUSH + 4} px" in str(again.app.brush_label.cget("text"))
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


@pytest.mark.parametrize(("screen", "dpi"), [("800x600", 96), ("1024x600", 96), ("1280x1024", 144)])
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


# --------------------------------------------------------------------------- a new user's try (issue 18)


def stroke_items(window: Window) -> list[list[float]]:
    return [window.app.canvas.coords(item) for item in window.app.canvas.find_all()]


def test_switching_mode_keeps_the_drawing_as_drawn_and_reads_it_again(open_window: Callable[..., Window]) -> None:
    window = open_window(number_mode=True)
    window.draw(7, dx=280)  # one digit, in the middle of the number paper
    drawn, on_screen, scale = window.app.drawing.snapshot(), stroke_items(window), window.app.scale
    window.key("ctrl+m")  # to digit mode
    assert not window.app.number_mode.get() and window.app.drawing.snapshot() == drawn
    assert window.shown == "7"
    [seen] = window.app.last.seen if window.app.last else [None]
    assert seen is not None and seen.mean() < 0.3  # white ink on black, as MNIST: not inverted
    width, height = window.app.canvas.winfo_width(), window.app.canvas.winfo_height()
    for coords in stroke_items(window):
        assert min(coords[0::2]) >= 0 and max(coords[0::2]) <= width and max(coords[1::2]) <= height
    window.key("ctrl+m")  # back to number mode: the same size as drawn, not half
    assert window.app.scale == pytest.approx(scale) and stroke_items(window) == on_screen
    assert window.shown == "7" and window.app.drawing.snapshot() == drawn
    window.key("ctrl+z")  # undo takes back the last change to the drawing, as always...
    assert window.app.drawing.is_empty
    window.key("ctrl+y")  # ...and redo restores it exactly
    assert window.app.drawing.snapshot() == drawn and window.shown == "7"


def test_leaving_number_mode_with_a_number_keeps_every_stroke(open_window: Callable[..., Window]) -> None:
    window = open_window(number_mode=True)
    for i, digit in enumerate([4, 1, 7]):
        window.draw(digit, dx=280 * i)
    drawn = window.app.drawing.snapshot()
    window.key("ctrl+m")
    assert window.app.drawing.snapshot() == drawn and window.shown == "?"  # three digits are not one
    window.key("ctrl+m")
    assert window.shown == "417"


def test_a_three_line_hint_shows_its_first_line(open_window: Callable[..., Window]) -> None:
    window = open_window(number_mode=True)
    x0, y0, scale = window.app.canvas.winfo_rootx(), window.app.canvas.winfo_rooty(), window.app.scale
    for digit, left in ((4, 60), (1, 130)):  # a small number: per-digit figures and "draw bigger"
        for path in STROKES[digit]:
            points = [(x0 + (left + x / 3) * scale, y0 + (90 + y / 3) * scale) for x, y in pen_points(path, step=3)]
            screen = [(str(round(x)), str(round(y))) for x, y in points]
            moves = [arg for x, y in screen[1:] for arg in ("sleep", MOVE_PAUSE, "mousemove", x, y)]
            window.run("mousemove", *screen[0], "mousedown", "1", *moves, "mouseup", "1")
    detail = str(window.app.detail.cget("text"))
    assert window.shown.rstrip("?") == "41" and detail.count("\n") >= 2, detail
    window.pump()
    box = window.app.panel.detail_box
    assert window.app.detail.winfo_y() == 0  # the first line at the top of its box...
    assert window.app.detail.winfo_reqheight() <= box.winfo_height()  # ...and the last one inside it


def test_a_single_dot_is_not_a_digit_and_is_not_told_to_draw_bigger(open_window: Callable[..., Window]) -> None:
    from digit_recognizer.desktop.logic import DRAW_BIGGER

    window = open_window()
    x, y = window.app.canvas.winfo_rootx() + 140, window.app.canvas.winfo_rooty() + 140
    window.run("mousemove", str(x), str(y), "click", "1")
    assert window.shown == "?" and DRAW_BIGGER not in str(window.app.detail.cget("text"))


def test_the_saved_confirmation_goes_away_by_itself_and_with_the_next_drawing(
    open_window: Callable[..., Window], monkeypatch: pytest.MonkeyPatch
) -> None:
    from digit_recognizer.desktop import panels

    window = open_window()
    window.draw(7)
    window.click("Wrong?")
    window.key("1")
    assert str(window.app.correction.prompt.cget("text")).startswith("Thanks! Saved as 1")
    window.draw(1)  # the next drawing: the thanks were for the one before
    assert window.app.correction.state is None and not window.app.correction.prompt.winfo_ismapped()
    monkeypatch.setattr(panels, "CONFIRM_S", 0.3)
    window.key("Escape")  # the 1 went over the 7: start again, with a digit to correct
    window.draw(1)
    window.click("Wrong?")
    window.key("7")
    assert window.app.correction.prompt.winfo_ismapped()
    window.pump(0.6)
    assert window.app.correction.state is None and not window.app.correction.prompt.winfo_ismapped()


def test_recent_keeps_one_entry_per_finished_reading(open_window: Callable[..., Window]) -> None:
    window = open_window(number_mode=True)
    for i, digit in enumerate([4, 1, 7]):  # three digits, four strokes, four pen lifts
        window.draw(digit, dx=280 * i)
    assert [r.answer for r in window.app.recent.items] == ["417"]
    assert [str(b.cget("text")) for b in window.app.recent_bar.buttons if b.winfo_ismapped()] == ["417"]
    window.key("Escape")
    window.draw(1)
    assert [r.answer for r in window.app.recent.items] == ["1", "417"]


@pytest.mark.parametrize("number_mode", [False, True])
def test_the_brush_draws_the_width_it_says_in_both_modes(open_window: Callable[..., Window], number_mode: bool) -> None:
    window = open_window(number_mode=number_mode)
    window.draw(1)
    [item] = window.app.canvas.find_all()
    brush = window.app.brush.get()
    assert float(window.app.canvas.itemcget(item, "width")) == pytest.approx(brush, abs=0.5)  # screen pixels
    assert f"Brush {brush:.0f} px" == str(window.app.brush_label.cget("text"))


def test_every_button_says_recognize_as_the_page_does(open_window: Callable[..., Window]) -> None:
    window = open_window()
    assert find_widget(window.root, "Recognize") is not None and find_widget(window.root, "Recognise") is None
    assert "Enter recognize" in SHORTCUTS


@pytest.mark.parametrize("theme_name", ["light", "dark"])
def test_the_window_uses_a_current_ttk_theme_light_or_dark(open_window: Callable[..., Window], theme_name: str) -> None:
    from tkinter import ttk

    window = open_window(theme_name=theme_name)
    assert ttk.Style(window.root).theme_use() == f"sun-valley-{theme_name}"
    red, green, blue = (c / 65535 for c in window.root.winfo_rgb(window.root.cget("background")))
    brightness = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    assert (brightness < 0.3) if theme_name == "dark" else (brightness > 0.8)
    assert window.app.panel.bars.cget("background") == window.root.cget("background")  # no second grey


def test_the_theme_follows_digits_theme_then_the_system() -> None:
    from digit_recognizer.desktop.theme import preferred

    assert preferred({"DIGITS_THEME": "dark"}) == "dark" and preferred({"DIGITS_THEME": "Light"}) == "light"
    assert preferred({}) in ("light", "dark")  # the system's choice (light where it cannot tell)


# European handwriting, as in the README's screenshots: a 1 with a flag, a crossed 7, a closed 4.
EUROPEAN = {
    1: [[(105, 85), (162, 40), (158, 240)]],
    7: [[(70, 62), (212, 56), (122, 242)], [(105, 150), (195, 146)]],
    4: [[(172, 242), (172, 42), (62, 172), (218, 170)]],
}


def draw_path(window: Window, paths: list[list[tuple[float, float]]], dx: float = 0) -> None:
    x0, y0, scale = window.app.canvas.winfo_rootx(), window.app.canvas.winfo_rooty(), window.app.scale
    for path in paths:
        screen = [(str(round(x0 + (x + dx) * scale)), str(round(y0 + y * scale))) for x, y in pen_points(path)]
        moves = [arg for x, y in screen[1:] for arg in ("sleep", MOVE_PAUSE, "mousemove", x, y)]
        window.run("mousemove", *screen[0], "mousedown", "1", *moves, "mouseup", "1")


def screenshot(window: Window) -> Any:
    from PIL import ImageGrab

    window.pump(0.3)
    x, y = window.root.winfo_rootx(), window.root.winfo_rooty()
    box = (x, y, x + window.root.winfo_width(), y + window.root.winfo_height())
    return ImageGrab.grab(bbox=box, xdisplay=window.display)


def test_screenshots_light_and_dark(open_window: Callable[..., Window], tmp_path: Path) -> None:
    """The README's pictures, taken of the real window. DIGITS_DESKTOP_SCREENSHOTS=docs writes them there."""
    import numpy as np
    from PIL import features

    if not features.check("xcb"):
        pytest.skip("this Pillow cannot grab an X screen (built without XCB)")
    folder = Path(os.environ.get("DIGITS_DESKTOP_SCREENSHOTS") or tmp_path)
    shots = {}
    for name, theme_name, number in [
        ("desktop", "light", False),
        ("desktop-number", "light", True),
        ("desktop-dark", "dark", True),
    ]:
        window = open_window(theme_name=theme_name, number_mode=number)
        for i, digit in enumerate([1, 7, 4] if number else [4]):
            draw_path(window, EUROPEAN[digit], dx=280 * i)
        shots[name] = screenshot(window)
        shots[name].save(folder / f"{name}.png")
        window.root.destroy()
    light, dark = (np.asarray(shots[n].convert("L"), np.float32).mean() for n in ("desktop-number", "desktop-dark"))
    assert dark < light - 60  # the dark window is dark, not a light one with a dark title

"""The drawing page end to end in headless Chromium: real pointer events, a real server on loopback.

Uses Debian's /usr/bin/chromium through Playwright for Python (Playwright's own browser
download is not needed). Set DIGITS_WEB_SCREENSHOT=docs/web.png to refresh the README's
screenshot while running these tests.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digit_recognizer.recognizer import shipped_model_path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed: pip install playwright"
)
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

# The strokes of a 7 and a 1 in the page's canvas units (the digit pad is 280x280).
SEVEN = [[(72, 74), (110, 66), (160, 62), (206, 60), (184, 112), (158, 170), (136, 236)]]
ONE = [[(145, 45), (140, 235)]]


def model_for_tests() -> Path:
    path = Path(os.environ.get("DIGITS_TEST_MODEL") or shipped_model_path())
    assert path.is_file(), f"model {path} not found: the shipped model must be in the package"
    return path


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """uvicorn in a thread on a free loopback port: the same app `digits serve` runs."""
    import uvicorn

    from digit_recognizer.web.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(model_for_tests()), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start within 20 s"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(server_url + "/")
    yield page
    context.close()
    assert not errors, f"errors in the browser console (JavaScript, CSP): {errors}"


def draw(page: Any, strokes: list[list[tuple[int, int]]], offset_x: int = 0, width: int = 280) -> None:
    """Draw strokes with mouse down/move/up; coordinates in canvas units, scaled to the pad on screen."""
    box = page.locator("#pad").bounding_box()
    scale = box["height"] / 280

    def at(x: int, y: int) -> tuple[float, float]:
        return box["x"] + (x + offset_x) * scale, box["y"] + y * scale

    for stroke in strokes:
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*at(*point), steps=10)
        page.mouse.up()


def wait_for_final_answer(page: Any) -> str:
    """The answer shown after the last stroke (announced to screen readers), not a live one mid-stroke."""
    # Locator assertions rather than wait_for_function: the page's CSP rightly forbids eval.
    sync_api.expect(page.locator("#announce")).to_have_text(re.compile(r"\S"), timeout=10_000)
    return str(page.locator("#answer").inner_text())


# --------------------------------------------------------------------------- tests


def test_empty_page_shows_a_prompt_not_a_digit(page: Any) -> None:
    assert page.locator("#prompt").is_visible()
    assert page.locator("#answer").inner_text() == "?"
    assert "Draw a digit" in page.locator("#answer-detail").inner_text()
    assert page.locator("#undo").is_disabled()


def test_drawing_a_seven_with_the_mouse_shows_7_with_bars_and_preview(page: Any) -> None:
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    assert page.locator("#announce").inner_text().startswith("Recognized 7")
    assert page.locator("#bars li.best .digit").inner_text() == "7"
    lit = page.evaluate(
        "Array.from(document.querySelector('#preview').getContext('2d').getImageData(0, 0, 28, 28).data)"
        ".filter((v, i) => i % 4 === 0 && v > 128).length"
    )
    assert lit > 20, "the 28x28 preview shows the digit the model saw"
    assert not page.locator("#prompt").is_visible()


def test_predictions_arrive_while_drawing_at_a_throttled_rate(page: Any) -> None:
    sent: list[float] = []
    page.on("request", lambda request: "/api/predict" in request.url and sent.append(time.monotonic()))
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    start = time.monotonic()
    for step in range(30):  # one slow stroke, about 1.5 s
        page.mouse.move(box["x"] + 140 + step, box["y"] + 40 + 12 * step)
        page.wait_for_timeout(50)
    lifted = time.monotonic()
    page.mouse.up()
    wait_for_final_answer(page)
    during = [t for t in sent if t < lifted]
    assert len(during) >= 3, "the answer updates while the pen is still down"
    assert len(during) <= (lifted - start) / 0.12 + 2, "throttled: about one request per 120 ms at most"


def test_ctrl_z_undoes_the_last_stroke_and_escape_clears(page: Any) -> None:
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    draw(page, [[(40, 260), (240, 260)]])  # a stroke under the 7
    wait_for_final_answer(page)
    page.keyboard.press("Control+z")
    assert wait_for_final_answer(page) == "7", "undo brings back the drawing, and its answer, of before"
    page.keyboard.press("Escape")
    sync_api.expect(page.locator("#answer")).to_have_attribute("data-state", "empty")
    assert page.locator("#prompt").is_visible()
    assert page.locator("#answer").inner_text() == "?"
    assert page.locator("#undo").is_disabled()


def test_number_mode_reads_digits_side_by_side(page: Any) -> None:
    page.get_by_role("radio", name="A number").check()
    draw(page, ONE, offset_x=0)
    draw(page, SEVEN, offset_x=300)
    assert wait_for_final_answer(page) == "17"
    assert page.locator("#number-digits .chip").count() == 2


def test_buttons_and_mode_are_reachable_by_keyboard(page: Any) -> None:
    draw(page, ONE)
    wait_for_final_answer(page)
    focused = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.value"))
    assert {"digit", "undo", "clear", "recognize"} <= set(focused)


def test_ctrl_m_switches_between_digit_and_number_like_the_desktop_app(page: Any) -> None:
    page.keyboard.press("Control+m")
    assert page.get_by_role("radio", name="A number").is_checked()
    assert "Draw a number" in page.locator("#prompt").inner_text()
    page.keyboard.press("Control+m")
    assert page.get_by_role("radio", name="One digit").is_checked()


def test_ctrl_s_saves_the_drawing_as_png(page: Any) -> None:
    draw(page, SEVEN)
    with page.expect_download() as download:
        page.keyboard.press("Control+s")
    assert download.value.suggested_filename.endswith(".png")
    assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")


def test_page_requests_nothing_outside_the_server(browser: Any, server_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server_url + "/")
    draw(page, ONE)
    wait_for_final_answer(page)
    context.close()
    assert requested and all(url.startswith(server_url) for url in requested), requested


def test_phone_layout_fits_the_screen_and_drawing_does_not_scroll(browser: Any, server_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(server_url + "/")
    assert page.evaluate("getComputedStyle(document.querySelector('#pad')).touchAction") == "none"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    context.close()


def test_screenshot_of_the_page(page: Any, tmp_path: Path) -> None:
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    page.evaluate("document.activeElement.blur()")
    target = Path(os.environ.get("DIGITS_WEB_SCREENSHOT") or tmp_path / "web.png")
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000

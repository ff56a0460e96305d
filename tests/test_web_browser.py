"""The drawing page end to end in headless Chromium: real pointer events, a real server on loopback.

Uses Debian's /usr/bin/chromium through Playwright for Python (Playwright's own browser
download is not needed). Set DIGITS_WEB_SCREENSHOTS=docs to refresh the README's
screenshots (web.png, web-phone.png, web-landscape.png) while running these tests.
"""

from __future__ import annotations

import json
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
    page.keyboard.press("Control+z")  # Clear is undoable too
    sync_api.expect(page.locator("#answer")).to_have_text("7")
    page.keyboard.press("Control+z")
    sync_api.expect(page.locator("#answer")).to_have_text("?")
    page.keyboard.press("Control+y")
    sync_api.expect(page.locator("#answer")).to_have_text("7")


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
    for _ in range(16):
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


@pytest.mark.parametrize(
    ("name", "width", "height", "phone", "mode"),
    [
        ("web", 1280, 800, False, "A number"),
        ("web-phone", 390, 844, True, "One digit"),
        ("web-landscape", 844, 390, True, "A number"),
    ],
)
def test_screenshots_of_the_page(
    browser: Any, server_url: str, tmp_path: Path, name: str, width: int, height: int, phone: bool, mode: str
) -> None:
    context, page = new_page(browser, server_url, width, height, phone)  # the page as each screen shows it
    if mode == "A number":
        draw_seventeen(page)
    else:
        draw(page, SEVEN)
        wait_for_final_answer(page)
    page.evaluate("document.activeElement.blur()")
    target = Path(os.environ.get("DIGITS_WEB_SCREENSHOTS") or tmp_path) / f"{name}.png"
    page.screenshot(path=str(target))
    context.close()
    assert target.stat().st_size > 5_000


# --------------------------------------------------------------------------- defects found by trying the page


class Held:
    """Every /api/predict request waits until ``release`` (a slow server, on demand)."""

    def __init__(self, page: Any) -> None:
        self.routes: list[Any] = []
        self.holding = True
        page.route("**/api/predict*", self._handle)

    def _handle(self, route: Any) -> None:
        if self.holding:
            self.routes.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.holding = False
        while self.routes:
            self.routes.pop(0).continue_()


def watch_answers(page: Any) -> None:
    page.evaluate(
        "window.__answers = []; new MutationObserver(() => window.__answers.push("
        "document.querySelector('#answer').textContent)).observe(document.querySelector('#answer'),"
        " {childList: true, characterData: true, subtree: true})"
    )


def test_the_page_names_the_model_in_use(page: Any) -> None:
    sync_api.expect(page.locator("#model-info")).to_contain_text(f"Model {model_for_tests().name}")


def test_an_answer_for_an_erased_drawing_is_never_shown(page: Any) -> None:
    held = Held(page)
    draw(page, SEVEN)
    page.wait_for_timeout(300)
    assert held.routes, "the 7 was sent"
    sync_api.expect(page.locator("#answer-detail")).to_have_text("Recognizing…")  # not "Draw a digit"
    page.keyboard.press("Escape")
    watch_answers(page)
    draw(page, ONE)
    held.release()  # the slow answer about the erased 7 arrives now
    assert wait_for_final_answer(page) == "1"
    assert "7" not in page.evaluate("window.__answers")


def test_a_stopped_server_and_a_proxy_error_are_told_apart_and_the_old_answer_is_marked(
    browser: Any, server_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()  # not the `page` fixture: failed requests are the point here
    page.goto(server_url + "/")
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    page.route("**/api/predict*", lambda route: route.abort())
    draw(page, [[(40, 260), (60, 262)]])
    sync_api.expect(page.locator("#status")).to_contain_text("server unreachable")
    sync_api.expect(page.locator("#answer")).to_have_attribute("data-state", "stale")
    assert page.locator("#answer").inner_text() == "7"
    assert "Old answer" in page.locator("#answer-detail").inner_text()
    page.unroute("**/api/predict*")
    page.route(
        "**/api/predict*",
        lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>"),
    )
    draw(page, [[(200, 260), (220, 262)]])
    sync_api.expect(page.locator("#status")).to_contain_text("answered something unexpected (HTTP 502")
    context.close()


def test_the_answer_is_announced_once_when_the_pen_lifts(page: Any) -> None:
    assert page.locator("[aria-live], [role=status], [role=alert], output").count() == 1  # #announce only
    page.evaluate(
        "window.__spoken = []; new MutationObserver(() => window.__spoken.push("
        "document.querySelector('#announce').textContent)).observe(document.querySelector('#announce'),"
        " {childList: true, characterData: true, subtree: true})"
    )
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for step in range(20):  # a slow stroke: live answers arrive meanwhile, silently
        page.mouse.move(box["x"] + 140 + step, box["y"] + 40 + 12 * step)
        page.wait_for_timeout(40)
    page.mouse.up()
    wait_for_final_answer(page)
    page.wait_for_timeout(300)
    assert [text for text in page.evaluate("window.__spoken") if text] == [page.locator("#announce").inner_text()]


def test_a_number_chip_keeps_the_keyboard_focus(page: Any) -> None:
    page.get_by_role("radio", name="A number").check()
    draw(page, ONE, offset_x=0)
    draw(page, SEVEN, offset_x=300)
    assert wait_for_final_answer(page).startswith("17")
    second = page.locator("#number-digits .chip").nth(1)
    second.focus()
    page.keyboard.press("Enter")
    assert second.get_attribute("aria-pressed") == "true"
    assert page.evaluate("document.activeElement === document.querySelectorAll('#number-digits .chip')[1]")


def test_pen_width_and_save_button(page: Any) -> None:
    page.locator("#pen").fill("36")
    assert page.locator("#pen-value").inner_text() == "36"
    draw(page, ONE)
    wait_for_final_answer(page)
    dark = page.evaluate(
        "(() => { const c = document.querySelector('#pad'); const k = c.width / 280;"
        " const row = c.getContext('2d').getImageData(0, Math.round(140 * k), c.width, 1).data;"
        " let n = 0; for (let i = 0; i < row.length; i += 4) if (row[i] < 128) n++; return n / k; })()"
    )
    assert 30 <= dark <= 42, "the stroke is as wide as the pen chosen"
    with page.expect_download() as download:
        page.get_by_role("button", name="Save").click()
    assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")


def test_wrong_without_a_corrections_folder_downloads_the_labelled_drawing(page: Any) -> None:
    from digit_recognizer.ink import parse_sample

    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    page.get_by_role("button", name="Wrong?").click()
    page.locator("#correction-label").fill("1")
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    page.keyboard.press("Enter")
    for _ in range(100):
        if len(downloads) == 2:
            break
        page.wait_for_timeout(100)
    files = {d.suggested_filename.rsplit(".", 1)[1]: Path(d.path()) for d in downloads}
    assert files["png"].read_bytes().startswith(b"\x89PNG")
    sample = parse_sample(files["ndjson"].read_text().strip())
    assert sample.label == 1 and len(sample.strokes) == 1
    assert "downloaded" in page.locator("#status").inner_text()


def test_a_photo_or_file_is_read_like_a_drawing(page: Any, tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (400, 300), (200, 196, 186))  # grey paper
    ImageDraw.Draw(photo).line([(150, 60), (250, 60), (185, 250)], fill=(30, 30, 40), width=14)
    photo.save(tmp_path / "seven.jpg", quality=85)
    camera = page.locator("#photo")
    assert camera.get_attribute("accept") == "image/*" and camera.get_attribute("capture") is not None
    page.locator("#file").set_input_files(str(tmp_path / "seven.jpg"))
    assert wait_for_final_answer(page) == "7"
    assert page.locator("#bars li.best .digit").inner_text() == "7"


def test_landscape_phone_shows_the_pad_and_the_buttons(browser: Any, server_url: str) -> None:
    context = browser.new_context(viewport={"width": 844, "height": 390}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(server_url + "/")
    for selector in ("#pad", "#undo", "#clear", "#recognize", "#save"):
        box = page.locator(selector).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 390, f"{selector} is off-screen: {box}"
    page.get_by_role("radio", name="A number").check()
    box = page.locator("#pad").bounding_box()
    assert box["y"] + box["height"] <= 390
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_accessibility_violations(browser: Any, server_url: str, scheme: str) -> None:
    axe_module = pytest.importorskip(
        "axe_playwright_python.sync_playwright", reason="pip install axe-playwright-python"
    )
    context = browser.new_context(viewport={"width": 1100, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.goto(server_url + "/")
    axe = axe_module.Axe()
    empty = axe.run(page)
    draw(page, SEVEN)
    wait_for_final_answer(page)
    page.get_by_role("button", name="Wrong?").click()
    drawn = axe.run(page)
    page.keyboard.press("Escape")
    page.get_by_role("radio", name="A number").check()
    draw(page, ONE)
    draw(page, SEVEN, offset_x=300)
    wait_for_final_answer(page)
    number = axe.run(page)
    context.close()
    for results in (empty, drawn, number):
        assert results.violations_count == 0, results.generate_report()


@pytest.fixture(scope="module")
def storing_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A second server, started with a corrections folder (as `digits serve --corrections-dir DIR`)."""
    import uvicorn

    from digit_recognizer.web.server import create_app

    folder = tmp_path_factory.mktemp("corrections")
    os.environ["DIGITS_SERVE_CORRECTIONS_DIR"] = str(folder)
    try:
        app = create_app(model_for_tests())
    finally:
        del os.environ["DIGITS_SERVE_CORRECTIONS_DIR"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", folder
    server.should_exit = True
    thread.join(timeout=10)


def test_wrong_with_a_corrections_folder_stores_png_and_strokes_on_the_server(
    browser: Any, storing_server_url: tuple[str, Path]
) -> None:
    url, folder = storing_server_url
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_timeout(300)  # the page asks whether this server stores corrections
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    page.get_by_role("button", name="Wrong?").click()
    page.locator("#correction-label").fill("1")
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#status")).to_contain_text("Stored as 1")
    context.close()
    (png,) = (folder / "1").glob("*.png")
    line = json.loads(png.with_suffix(".ndjson").read_text())
    assert line["label"] == "1" and line["source"] == "web" and len(line["drawing"]) == 1


# --------------------------------------------------------------------------- a new user's try (issue 18)


def draw_seventeen(page: Any) -> None:
    """Number mode, then a 1 and a 7 side by side, read as 17."""
    page.get_by_role("radio", name="A number").check()
    draw(page, ONE, offset_x=0)
    draw(page, SEVEN, offset_x=300)
    assert wait_for_final_answer(page).startswith("17")


def new_page(browser: Any, server_url: str, width: int, height: int, phone: bool = False) -> tuple[Any, Any]:
    options: dict[str, Any] = {"viewport": {"width": width, "height": height}}
    if phone:
        options |= {"has_touch": True, "is_mobile": True}
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(server_url + "/")
    return context, page


def in_view(page: Any, selector: str, height: int) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_number_mode_at_1280x800_shows_chips_wrong_and_bars_beside_the_pad(browser: Any, server_url: str) -> None:
    context, page = new_page(browser, server_url, 1280, 800)
    draw_seventeen(page)
    for selector in ("#pad", "#number-digits .chip", "#wrong", "#bars li:last-child"):
        assert in_view(page, selector, 800), f"{selector} is below the fold"
    context.close()


def test_number_mode_on_a_phone_on_its_side_keeps_a_readable_answer_column(browser: Any, server_url: str) -> None:
    context, page = new_page(browser, server_url, 844, 390, phone=True)
    draw_seventeen(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 844, "no sideways scrolling"
    assert page.locator(".result").bounding_box()["width"] >= 240
    detail = page.locator("#answer-detail")
    size = float(page.evaluate("parseFloat(getComputedStyle(document.querySelector('#answer-detail')).fontSize)"))
    words = len(detail.inner_text().split())
    lines = detail.bounding_box()["height"] / (size * 1.25)
    assert lines <= 4 < words, f"the answer reads as a sentence, not a word per line ({lines:.1f} lines)"
    for selector in ("#pad", "#undo", "#recognize", "#answer"):
        assert in_view(page, selector, 390), f"{selector} is off-screen"
    context.close()


def test_switching_mode_keeps_the_drawing_and_reads_it_again(page: Any) -> None:
    draw_seventeen(page)
    ink = "(() => JSON.stringify(window.__pad ? null : document.querySelector('#pad').toDataURL().length))()"
    before = page.evaluate(ink)
    page.get_by_role("radio", name="One digit").check()  # the page's hint: several digits read in number mode
    sync_api.expect(page.locator("#answer")).not_to_have_text("?")
    assert not page.locator("#prompt").is_visible() and page.locator("#undo").is_enabled()
    page.keyboard.press("Control+m")  # back to number mode: the same drawing, read as 17 again
    sync_api.expect(page.locator("#answer")).to_have_text(re.compile(r"^17"))
    assert page.evaluate(ink) == before  # the same picture, pixel for pixel
    page.keyboard.press("Control+z")  # undo still works across both switches
    sync_api.expect(page.locator("#answer")).to_have_text(re.compile(r"^1\??$"))


def test_a_phone_photo_is_shrunk_before_it_is_sent(page: Any, tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (4000, 3000), (200, 196, 186))  # 12 megapixels, like a phone's camera
    ImageDraw.Draw(photo).line([(1500, 600), (2500, 600), (1850, 2500)], fill=(30, 30, 40), width=140)
    photo.save(tmp_path / "IMG_0001.jpg", quality=80)
    sizes: list[int] = []
    page.on("request", lambda r: "/api/predict" in r.url and sizes.append(len(r.post_data_buffer or b"")))
    page.locator("#file").set_input_files(str(tmp_path / "IMG_0001.jpg"))
    sync_api.expect(page.locator("#answer")).to_have_text("7", timeout=20_000)
    assert sizes and max(sizes) < 2_000_000 and "limit" not in page.locator("#status").inner_text()


def test_the_server_says_the_page_shrinks_photos(server_url: str) -> None:
    import io
    import urllib.error
    import urllib.request

    from PIL import Image

    body = io.BytesIO()
    Image.new("L", (4000, 3000), 255).save(body, "PNG")
    request = urllib.request.Request(server_url + "/api/predict", body.getvalue(), {"Content-Type": "image/png"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert "the drawing page at / shrinks photos" in json.loads(refused.value.read())["error"]


def test_a_tiff_the_browser_cannot_show_is_read_by_the_server(page: Any, tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    scan = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(scan).line([(90, 60), (210, 60), (130, 250)], fill=0, width=18)
    scan.save(tmp_path / "scan.tif")
    page.locator("#file").set_input_files(str(tmp_path / "scan.tif"))
    sync_api.expect(page.locator("#answer")).to_have_text("7")


def test_a_file_that_is_not_an_image_is_refused_in_words_and_the_drawing_stays(page: Any, tmp_path: Path) -> None:
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    (tmp_path / "notes.txt").write_text("not an image")
    page.locator("#file").set_input_files(str(tmp_path / "notes.txt"))
    sync_api.expect(page.locator("#status")).to_contain_text("Can't read this file (notes.txt): it is not an image")
    assert page.locator("#answer").inner_text() == "7" and page.locator("#clear").is_enabled()
    page.keyboard.press("Enter")  # the drawing is still there: it is read again
    sync_api.expect(page.locator("#answer")).to_have_text("7")


def test_undo_after_opening_a_photo_brings_the_drawing_back(page: Any, tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (400, 300), (200, 196, 186))
    ImageDraw.Draw(photo).line([(200, 40), (195, 260)], fill=(30, 30, 40), width=16)
    photo.save(tmp_path / "one.jpg")
    draw(page, SEVEN)
    assert wait_for_final_answer(page) == "7"
    page.locator("#file").set_input_files(str(tmp_path / "one.jpg"))
    sync_api.expect(page.locator("#answer")).to_have_text("1")
    page.keyboard.press("Control+z")
    sync_api.expect(page.locator("#answer")).to_have_text("7")


def test_wrong_refuses_a_number_with_another_count_of_digits(page: Any) -> None:
    draw_seventeen(page)
    page.get_by_role("button", name="Wrong?").click()
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    page.locator("#correction-label").fill("12345")
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#status")).to_contain_text("shows 2 digits, not 5")
    assert page.locator("#correction").is_visible() and not downloads  # nothing saved; the form stays

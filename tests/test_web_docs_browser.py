"""/docs and /redoc render in headless Chromium with no internet: assets from the package, CSP that lets them run.

Any request leaving loopback is aborted, so a page that still needed a CDN would stay
blank; console errors (a script blocked by the Content-Security-Policy) fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from test_web_browser import CHROMIUM_ARGS, browser, server_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def offline_page(browser: Any, server_url: str) -> Iterator[tuple[Any, list[str], list[str]]]:  # noqa: F811
    context = browser.new_context()
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        url = route.request.url
        if url.startswith(server_url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    yield page, errors, outside
    context.close()


def test_swagger_ui_renders_the_operations_offline(offline_page: Any, server_url: str) -> None:  # noqa: F811
    page, errors, outside = offline_page
    page.goto(server_url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/predict" in path for path in paths), paths
    assert not outside, f"requests beyond this server: {outside}"
    assert not errors, f"errors in the browser console (JavaScript, CSP): {errors}"


def test_redoc_renders_the_operations_offline(offline_page: Any, server_url: str) -> None:  # noqa: F811
    page, errors, outside = offline_page
    page.goto(server_url + "/redoc")
    page.get_by_role("heading", name="Recognize the digit").first.wait_for(timeout=20_000)
    assert not outside, f"requests beyond this server: {outside}"
    page.wait_for_timeout(500)  # the menu's "powered by" logo is drawn after the operations
    assert page.locator("img[alt='redocly logo']").count() == 1  # our icon, not a blocked CDN image
    assert not errors, f"errors in the browser console (JavaScript, CSP): {errors}"

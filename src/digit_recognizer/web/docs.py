"""/docs (Swagger UI) and /redoc (ReDoc) that work offline.

FastAPI's default pages load their scripts from a CDN and stay blank without the
internet. The ``fastapi-offline`` package (MIT) ships both bundles; this module
serves them from that package under ``/docs-assets`` and points FastAPI's own page
builders at them.

The two pages need a looser Content-Security-Policy than the drawing page: Swagger
UI starts from an inline script, ReDoc styles inline and renders in a blob: worker.
ReDoc's bundle shows a "powered by" logo from its CDN, which that policy (rightly)
blocks, with an error in the browser's console: the bundle is served with the logo's
address replaced by the project's own icon, inlined as a data: URL.
"""

from __future__ import annotations

from base64 import b64encode
from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
REDOC_URL = f"{ASSETS_URL}/redoc.standalone.js"  # answered by a route ahead of the mount: the logo replaced
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
ICON = Path(__file__).parent / "static" / "favicon.svg"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; frame-ancestors 'none'"
)


def add_offline_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc with their assets from the installed package (create the app with docs_url=None)."""
    headers = {"Content-Security-Policy": DOCS_CSP}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )
        return HTMLResponse(bytes(page.body), headers=headers)

    @app.get(REDOC_URL, include_in_schema=False)  # ahead of the mount, which would answer it otherwise
    async def redoc_bundle() -> Response:
        return Response(redoc_script(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API reference",
            redoc_js_url=REDOC_URL,
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return HTMLResponse(bytes(page.body), headers=headers)

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")


@cache
def redoc_script() -> bytes:
    """ReDoc's bundle, its one outside address (the logo) replaced by our icon as a data: URL."""
    icon = "data:image/svg+xml;base64," + b64encode(ICON.read_bytes()).decode("ascii")
    return (ASSETS / "redoc.standalone.js").read_text("utf-8").replace(REDOC_LOGO, icon).encode("utf-8")

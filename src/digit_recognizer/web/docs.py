"""/docs (Swagger UI) and /redoc (ReDoc) that work offline.

FastAPI's default pages load their scripts from a CDN and stay blank without the
internet. The ``fastapi-offline`` package (MIT) ships both bundles; this module
serves them from that package under ``/docs-assets`` and points FastAPI's own page
builders at them.

The two pages need a looser Content-Security-Policy than the drawing page: Swagger
UI starts from an inline script, ReDoc styles inline and renders in a blob: worker.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; frame-ancestors 'none'"
)


def add_offline_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc with their assets from the installed package (create the app with docs_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
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

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API reference",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return HTMLResponse(bytes(page.body), headers=headers)

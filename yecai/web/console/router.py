"""Where the console's routes come together, and what `install` adds to the app.

The routers are grouped by role (sign-in, browsing, operations, configuration, administration,
API docs); each route declares its own access rule. Static files (our CSS and JS, and the vendored
htmx, ECharts and Swagger UI with their licences) are served from /static, never from a CDN.
HTML answers for 403 are rendered here for the app's exception handler.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from yecai.web.console import admin, browse, configure, docs, login, operations, reconcile, reports
from yecai.web.console.rendering import Notice, error_page, render

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for module in (login, browse, operations, configure, admin, docs, reports, reconcile):
    router.include_router(module.router)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)


def forbidden_page(request: Request, zh: str, en: str) -> HTMLResponse:
    """The 403 answer for people: a page, or for htmx a notice where the result would go."""
    if request.headers.get("hx-request"):
        return render(request, "_notice.html", status=403, notice=Notice(False, zh, en))
    return error_page(request, 403, "error.forbidden", zh, en)

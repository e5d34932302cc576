"""The API's interactive documentation (Swagger UI) from vendored files, under a strict CSP.

FastAPI's default /docs page loads Swagger UI from a CDN; ours serves `swagger-ui-dist` from
/static and lets the one inline script that starts it run by its SHA-256 hash — computed from the
page itself, so the policy stays exact whatever FastAPI writes there.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from yecai.web.security import CSP, PUBLIC, allow

router = APIRouter(include_in_schema=False)
VENDOR = "/static/vendor/swagger-ui"
_INLINE = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _csp_with_hashes(html: str) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii") + "'"
        for body in _INLINE.findall(html)
    )
    return CSP.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip(), 1)


@router.get("/docs", dependencies=[allow(PUBLIC)])
def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="yecai API · 接口文档",
        swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    html = bytes(page.body).decode("utf-8")
    # the security middleware uses setdefault: this route's own policy wins
    return HTMLResponse(html, headers={"Content-Security-Policy": _csp_with_hashes(html)})

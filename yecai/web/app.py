"""The yecai web application: the JSON API, the console, webhook endpoints and health checks.

Views are thin (the Dispatch lesson): each route parses the request, passes its access rule and
calls a service function. The webhook route checks the signature in the event loop and hands the
event to the process's one writer (`yecai.sync.webhook_writer`), which commits events in small
batches; it answers 2xx only after its event's batch has committed, so a sender's retry is the
only way an event can arrive twice — and that is harmless. Every route must declare an access rule (`yecai.web.security`); the app refuses to
start otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from yecai import __version__
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime
from yecai.settings import Settings
from yecai.sources.connector import Connector
from yecai.sources.webhooks import WebhookReceipt, too_large
from yecai.store.db import Store
from yecai.sync.webhook_writer import WebhookWriter
from yecai.sync.webhooks import inspect
from yecai.web.api import admin, browse, configure, operations, reconcile, reports, session
from yecai.web.console import router as console
from yecai.web.context import WebContext
from yecai.web.monitoring import monitoring_router
from yecai.web.security import (
    PUBLIC,
    Forbidden,
    NotSignedIn,
    SecurityHeaders,
    WebAuth,
    allow,
    check_rules,
    rule_of,
)

# A body up to this size is checked (HMAC, JSON) in the event loop: far cheaper than a thread hop.
# A bigger one (up to YECAI_WEBHOOK_MAX_BODY_BYTES) is checked on a thread, not to stall the loop.
INLINE_CHECK_BYTES = 64 * 1024


class _App(FastAPI):
    """FastAPI with the security headers outermost: on every answer, a 500 error page included
    (middleware added with `add_middleware` sits inside the handler that writes 500s)."""

    hsts = False

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), hsts=self.hsts)


class _DirectRoute(APIRoute):
    """A PUBLIC route whose endpoint is called with its path parameters and the request as they
    are, without FastAPI's dependency solving and validation: the webhook hot path, where those
    cost more than the signature check. Its one dependency, the PUBLIC guard, admits every caller,
    so skipping it changes nothing; the route still declares it (`check_rules`, the API schema)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if rule_of(self) != PUBLIC:
            raise RuntimeError(f"{self.path}: only a PUBLIC route may skip its dependencies")
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(**request.path_params, request=request)
            return response

        return handler


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/webhooks/")) and "text/html" in request.headers.get(
        "accept", ""
    )


async def _read_bounded(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it exceeds `limit` bytes (read no further: a sender must not
    make us buffer an unbounded body, declared by Content-Length or streamed chunk by chunk)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    store: Store,
    connectors: Mapping[str, Connector] | None = None,
    *,
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    queue: JobQueue | None = None,
) -> FastAPI:
    settings = settings or (runtime.settings if runtime is not None else Settings())
    hooks = dict(connectors or {})
    writer = WebhookWriter(
        store, max_events=settings.webhook_batch_events, max_wait_seconds=settings.webhook_batch_ms / 1000
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await writer.drain()  # events already received are committed and answered before exit
        writer.close()

    app = _App(
        lifespan=lifespan,
        title="yecai",
        description="业财一体化集成中枢 · the integration hub between construction project systems and Kingdee",
        version=__version__,
        docs_url=None,  # the console serves Swagger UI from vendored files (yecai.web.console.docs)
        redoc_url=None,
    )
    app.state.ctx = WebContext(store=store, settings=settings, runtime=runtime, queue=queue)
    app.state.auth = WebAuth(store=store, settings=settings)
    app.state.webhook_writer = writer
    app.hsts = settings.cookie_secure

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        if request.headers.get("hx-request"):  # htmx: send the whole page to the sign-in form
            return Response(
                status_code=401, headers={"HX-Redirect": f"/login?next={quote(request.url.path)}"}
            )
        if _wants_html(request):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return JSONResponse(
            {"detail": {"message_zh": "请先登录", "message_en": "sign in first"}},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_html(request) or request.headers.get("hx-request"):
            return await run_in_threadpool(console.forbidden_page, request, exc.zh, exc.en)
        return JSONResponse({"detail": {"message_zh": exc.zh, "message_en": exc.en}}, status_code=403)

    async def webhook(connection: str, request: Request) -> JSONResponse:
        # PUBLIC for our sign-in; the sender's HMAC signature is checked by `inspect`
        connector = hooks.get(connection)
        if connector is None:
            message = f"未知连接 {connection} / unknown connection {connection}"
            return JSONResponse({"outcome": "refused", "message": message}, status_code=404)
        limit = settings.webhook_max_body_bytes
        body = await _read_bounded(request, limit)
        if body is None:
            return JSONResponse(too_large(limit).as_json(), status_code=413)
        limits = {"max_body_bytes": limit, "max_depth": settings.webhook_max_depth}
        if len(body) <= INLINE_CHECK_BYTES:
            checked = inspect(connector, headers=dict(request.headers), body=body, **limits)
        else:
            checked = await run_in_threadpool(
                inspect, connector, headers=dict(request.headers), body=body, **limits
            )
        if isinstance(checked, WebhookReceipt):  # refused before any storage
            return JSONResponse(checked.as_json(), status_code=checked.status)
        receipt = await writer.store(checked)  # answered once its batch has committed
        return JSONResponse(receipt.as_json(), status_code=receipt.status)

    app.router.add_api_route(
        "/webhooks/{connection}",
        webhook,
        methods=["POST"],
        dependencies=[allow(PUBLIC)],
        summary="Webhook 接收 · receive an event",
        response_class=JSONResponse,
        route_class_override=_DirectRoute,
    )

    # free disk where yecai writes: the disk alert then works without node_exporter
    disk = {"workdir": settings.workdir, "archive": settings.archive_directory()}
    app.include_router(monitoring_router(store, queue=queue, disk=disk))
    for module in (session, browse, operations, configure, admin, reports, reconcile):
        app.include_router(module.router)
    console.install(app)
    check_rules(app)
    return app

"""Security headers from a pure ASGI middleware, on every kind of answer; no access log for webhooks.

The headers used to come from a `BaseHTTPMiddleware`; now a plain ASGI wrapper outermost adds
them, so pages, API answers, refusals, webhook answers and even a 500 carry them, static files
may be cached, and a header a route set itself is kept. uvicorn's access log keeps its line for
every request except webhook deliveries.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware

from tests.sources.test_webhooks import SPEC, headers
from tests.sources.test_webhooks import event as event_body
from yecai.cli.serving import NoWebhookAccessLog, quiet_webhook_access_log, web_processes
from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import parse_spec
from yecai.jobs.runner import open_runtime
from yecai.sandbox.serving import listening_socket
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.web.app import create_app
from yecai.web.security import CSP, PUBLIC, SecurityHeaders, allow


@pytest.fixture
def connector() -> GenericRestConnector:
    return GenericRestConnector(parse_spec(SPEC, secrets={"HOOK_SECRET": "hush"}), connection="pm")


def assert_secured(response: httpx.Response, *, cached: bool = False, hsts: bool = False) -> None:
    found = response.headers
    assert found["x-content-type-options"] == "nosniff"
    assert found["x-frame-options"] == "DENY"
    assert found["referrer-policy"] == "same-origin"
    assert found["permissions-policy"] == "camera=(), microphone=(), geolocation=()"
    assert found["cross-origin-opener-policy"] == "same-origin"
    assert found["content-security-policy"] == CSP
    assert ("strict-transport-security" in found) is hsts
    assert (found.get("cache-control") == "no-store") is not cached
    for name in ("x-frame-options", "content-security-policy", "cache-control"):
        assert len(found.get_list(name)) <= 1, name  # added once, never doubled


def test_every_kind_of_answer_carries_the_headers(store: Store, connector: GenericRestConnector) -> None:
    assert not issubclass(SecurityHeaders, BaseHTTPMiddleware)
    app = create_app(store, {"pm": connector})

    @app.get("/boom", dependencies=[allow(PUBLIC)])
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/framed", dependencies=[allow(PUBLIC)])
    async def framed() -> JSONResponse:
        return JSONResponse({}, headers={"X-Frame-Options": "SAMEORIGIN"})

    body = event_body("E1")
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/login", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert_secured(page)
        api = client.get("/api/v1/dashboard")  # JSON refusal: not signed in
        assert api.status_code == 401
        assert_secured(api)
        missing = client.get("/api/v1/nothing-here")
        assert missing.status_code == 404
        assert_secured(missing)
        hook = client.post("/webhooks/pm", content=body, headers=headers(connector, body))
        assert (hook.status_code, hook.json()["outcome"]) == (200, "stored")
        assert_secured(hook)
        refused = client.post("/webhooks/pm", content=body, headers={"X-PM-Timestamp": "1"})
        assert refused.status_code == 401
        assert_secured(refused)
        crashed = client.get("/boom")
        assert crashed.status_code == 500
        assert_secured(crashed)  # outermost: even the error page the server writes
        static = client.get("/static/favicon.svg")
        assert static.status_code == 200
        assert_secured(static, cached=True)  # static files may be kept by browsers
        own = client.get("/framed")
        assert own.headers.get_list("x-frame-options") == ["SAMEORIGIN"]  # the route's own value stays


def test_hsts_only_when_cookies_are_secure(store: Store) -> None:
    app = create_app(store, settings=Settings(cookie_secure=True))
    with TestClient(app) as client:
        assert_secured(client.get("/healthz"), hsts=True)


def _serve_with_access_log(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = listening_socket("127.0.0.1", 0)
    config = uvicorn.Config(app, access_log=True, log_config=None, lifespan="off", log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_webhook_deliveries_are_not_access_logged_other_requests_are(
    store: Store, connector: GenericRestConnector, caplog: pytest.LogCaptureFixture
) -> None:
    access = logging.getLogger("uvicorn.access")
    before = list(access.filters)
    quiet_webhook_access_log()
    quiet_webhook_access_log()  # installed once however often it is asked
    assert sum(isinstance(f, NoWebhookAccessLog) for f in access.filters) == 1
    server, thread, base = _serve_with_access_log(create_app(store, {"pm": connector}))
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            body = event_body("E1")
            assert (
                httpx.post(f"{base}/webhooks/pm", content=body, headers=headers(connector, body)).status_code
                == 200
            )
            assert httpx.post(f"{base}/webhooks/pm?x=1", content=b"{}").status_code == 401
            assert httpx.get(f"{base}/healthz").status_code == 200
            assert httpx.get(f"{base}/api/v1/dashboard").status_code == 401
            deadline = time.monotonic() + 5
            while len([r for r in caplog.records if r.name == "uvicorn.access"]) < 2:
                assert time.monotonic() < deadline, "access lines did not arrive"
                time.sleep(0.01)
    finally:
        server.should_exit = True
        thread.join(10)
        access.filters[:] = before
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 2
    assert any("/healthz" in line for line in lines)
    assert any("/api/v1/dashboard" in line for line in lines)
    assert not any("/webhooks" in line for line in lines)


def test_two_web_processes_on_postgresql_one_on_sqlite(store: Store, tmp_path: Path) -> None:
    runtime = open_runtime(Settings(workdir=tmp_path, workspace=tmp_path / "yecai.yaml"), store=store)
    try:
        if store.engine.dialect.name == "postgresql":
            assert web_processes(runtime) == 2
            assert web_processes(runtime, 3) == 3
        else:
            assert web_processes(runtime) == 1
            assert web_processes(runtime, 2) == 1  # SQLite has one writer: never more than one
    finally:
        runtime.close()

"""The ASGI face of sandbox.kingdee: the WebAPI with its faults, an admin endpoint and a web page.

`create_app(data_dir)` serves the K/3 Cloud WebAPI over real HTTP: every POST to
`/K3Cloud/<Service>.common.kdsvc` passes the fault layer (`faults.py`: latency, error pages,
hangs, throttling, lost answers, session loss, a concurrency limit) and then
`KingdeeSandbox.handle`, run in the thread pool so SQLite never blocks the event loop. `/admin/…`
changes faults and periods at runtime (for tests and demos; bind the sandbox to localhost);
`/` is a read-only page listing vouchers and bills. `start_sandbox` runs it in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from yecai import jsonutil
from yecai.sandbox.kingdee import protocol, web
from yecai.sandbox.kingdee.datadir import credentials
from yecai.sandbox.kingdee.faults import Decision, FaultInjector, FaultSettings
from yecai.sandbox.kingdee.services import KingdeeSandbox, WireReply, WireRequest
from yecai.sandbox.kingdee.settings import SandboxSettings
from yecai.sandbox.serving import ServerThread

# What IIS in front of K/3 Cloud shows when the application fails: an HTML page, not JSON.
ERROR_PAGE = """<!DOCTYPE html>
<html><head><title>Runtime Error</title></head>
<body><h1>Server Error in '/K3Cloud' Application.</h1>
<h2><i>Runtime Error</i></h2>
<p>An application error occurred on the server. (sandbox.kingdee injected fault)</p>
</body></html>"""

# MsgCode 14 调用限制; the server's exact wording is not public [INF].
THROTTLED = {
    "Result": {
        "ResponseStatus": {
            "ErrorCode": 500,
            "IsSuccess": False,
            "Errors": [
                {"FieldName": None, "Message": "调用过于频繁，已超出接口调用限制，请稍后再试", "DIndex": 0}
            ],
            "SuccessEntitys": [],
            "SuccessMessages": [],
            "MsgCode": 14,
        }
    }
}


# The fault layer's clock and sleep (a test drives both).
_clock = time.monotonic
_sleep = asyncio.sleep


def _records(body: bytes, reply: WireReply) -> int:
    """Data packages saved or rows returned: what per-record latency is charged for."""
    try:
        request = jsonutil.loads(body) if body.strip() else {}
    except ValueError:
        return 1
    data = request.get("data") if isinstance(request, dict) else None
    if isinstance(data, str):
        try:
            data = jsonutil.loads(data)
        except ValueError:
            data = None
    model = data.get("Model") if isinstance(data, dict) else None
    if isinstance(model, list):
        return len(model)
    if model is not None:
        return 1
    if reply.text.startswith("["):
        try:
            rows = jsonutil.loads(reply.text)
        except ValueError:
            return 1
        return len(rows) if isinstance(rows, list) else 1
    return 1


def _reply_response(reply: WireReply) -> Response:
    response = Response(content=reply.text.encode("utf-8"), status_code=reply.status)
    response.headers["content-type"] = reply.content_type
    for cookie in reply.set_cookies:
        response.headers.append("set-cookie", cookie)
    return response


class _QuietLostAnswers(logging.Filter):
    """uvicorn reports a deliberately dropped answer as an error; it is the fault we injected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietLostAnswers())


class _LostAnswer(Response):
    """Sends the status line and headers of the real answer, then drops the connection.

    The call has committed; the caller sees a broken response (httpx RemoteProtocolError,
    requests ChunkedEncodingError) and cannot know whether the write happened.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # Returning without the body makes the server close the connection mid-response.


class ServerDate:
    """Every answer carries `Date` from the sandbox's clock, as IIS sends the server's time: the
    only way K/3 Cloud's WebAPI tells its clock (`yecai doctor` measures skew from it)."""

    def __init__(self, app: Any, clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: Any) -> None:
            if message["type"] == "http.response.start":
                now = self.clock().astimezone(UTC)  # a naive clock reads local time
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", format_datetime(now, usegmt=True).encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, dated)


def create_app(
    data_dir: Path,
    *,
    settings: SandboxSettings | None = None,
    seed_file: Path | None = None,
    faults: FaultSettings | None = None,
) -> FastAPI:
    """An ASGI app emulating one K/3 Cloud site; `app.state.kingdee` is the KingdeeSandbox."""
    sandbox = KingdeeSandbox(Path(data_dir), settings=settings, seed_file=seed_file)
    injector = FaultInjector(faults)
    app = FastAPI(
        title="sandbox.kingdee",
        description="金蝶云星空 WebAPI emulator (yecai)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.kingdee = sandbox
    app.state.faults = injector
    app.add_middleware(ServerDate, clock=sandbox.settings.clock)
    _admin_routes(app, sandbox, injector)
    web.install(app, sandbox)

    @app.post("/{path:path}")
    async def kdsvc(request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        headers["cookie"] = "; ".join(request.headers.getlist("cookie"))
        wire = WireRequest(url=str(request.url), path=request.url.path, headers=headers, body=body)
        service = protocol.service_from_path(request.url.path, sandbox.settings.path_prefix)
        if service is None:
            return _reply_response(await run_in_threadpool(sandbox.handle, wire))
        decision = injector.decide(service)
        await injector.acquire()
        try:
            return await _handle_with_faults(sandbox, injector, decision, wire, body)
        finally:
            await injector.release()

    return app


async def _handle_with_faults(
    sandbox: KingdeeSandbox, injector: FaultInjector, decision: Decision, wire: WireRequest, body: bytes
) -> Response:
    faults = injector.settings
    # The modelled answer time (latency + per record) is a real site's whole time for an admitted
    # call, its own work included: the emulator's CPU is slept off against it, not added on top.
    started = _clock()
    if faults.latency_ms:
        await _sleep(faults.latency_ms / 1000)
    if decision.lose_sessions:
        sandbox.drop_sessions()
    if decision.fail:
        return HTMLResponse(ERROR_PAGE, status_code=500)
    if decision.throttle:
        return Response(
            jsonutil.dumps(THROTTLED).encode("utf-8"), media_type="application/json; charset=utf-8"
        )
    if decision.hang:
        # The caller gives up long before this; the call is still handled afterwards, as IIS
        # finishes a request whose client has gone — the nastiest case for exactly-once.
        await _sleep(faults.hang_seconds)
        started += faults.hang_seconds
    reply = await run_in_threadpool(sandbox.handle, wire)
    records = _records(body, reply)
    injector.count_records(records)
    modelled = (faults.latency_ms + faults.per_record_ms * records) / 1000
    remaining = started + modelled - _clock()
    if remaining > 0:
        await _sleep(remaining)
    response = _reply_response(reply)
    if decision.drop_after_commit:
        lost = _LostAnswer(status_code=response.status_code)
        lost.raw_headers = response.raw_headers
        return lost
    return response


def _admin_routes(app: FastAPI, sandbox: KingdeeSandbox, injector: FaultInjector) -> None:
    """Runtime controls for tests and demos. Not part of the WebAPI; bind to localhost."""

    @app.get("/admin/faults")
    async def get_faults() -> JSONResponse:
        return JSONResponse({"settings": injector.settings.as_dict(), "counts": asdict(injector.counts)})

    @app.post("/admin/faults")
    async def set_faults(request: Request) -> JSONResponse:
        changes = await _json_object(request)
        try:
            settings = injector.update(changes)
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        await injector.limit_changed()
        return JSONResponse({"settings": settings.as_dict()})

    @app.post("/admin/sessions/drop")
    async def drop_sessions() -> JSONResponse:
        return JSONResponse({"dropped": sandbox.drop_sessions()})

    @app.post("/admin/periods/close")
    async def close_period(request: Request) -> JSONResponse:
        body = await _json_object(request)
        try:
            sandbox.close_period(int(body["year"]), int(body["period"]), body.get("book"))
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, f"need year and period (and optionally book): {exc}") from None
        return JSONResponse(
            {"closed": {"year": body["year"], "period": body["period"], "book": body.get("book")}}
        )

    @app.post("/admin/periods/open")
    async def open_period(request: Request) -> JSONResponse:
        body = await _json_object(request)
        try:
            sandbox.open_period(int(body["year"]), int(body["period"]), body.get("book"))
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, f"need year and period (and optionally book): {exc}") from None
        return JSONResponse(
            {"opened": {"year": body["year"], "period": body["period"], "book": body.get("book")}}
        )

    @app.post("/admin/locks")
    async def lock(request: Request) -> JSONResponse:
        body = await _json_object(request)
        try:
            sandbox.lock(str(body["form_id"]), str(body["number"]), float(body.get("seconds", 60)))
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, f"need form_id, number (and optionally seconds): {exc}") from None
        return JSONResponse({"locked": {"form_id": body["form_id"], "number": body["number"]}})

    @app.delete("/admin/locks/{form_id}/{number}")
    async def unlock(form_id: str, number: str) -> JSONResponse:
        return JSONResponse({"unlocked": sandbox.unlock(form_id, number)})

    @app.get("/admin/calls")
    async def calls() -> JSONResponse:
        return JSONResponse(
            [
                {
                    "at": c.at.isoformat(),
                    "service": c.service,
                    "session_in": c.session_in,
                    "session_out": c.session_out,
                    "auth": c.auth,
                    "status": c.status,
                }
                for c in sandbox.calls()
            ]
        )


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = jsonutil.loads(await request.body() or b"{}")
    except ValueError:
        raise HTTPException(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    # JSON fractions arrive as Decimal; the fault knobs are plain floats.
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in body.items()}


class SandboxServer(ServerThread):
    """A ServerThread that also closes the sandbox's database when it stops."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(app, host, port, date_header=False)  # the app's Date: the sandbox's clock
        self.sandbox: KingdeeSandbox = app.state.kingdee
        self.faults: FaultInjector = app.state.faults

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self.sandbox.close()


def start_sandbox(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    settings: SandboxSettings | None = None,
    seed_file: Path | None = None,
    faults: FaultSettings | None = None,
) -> tuple[ServerThread, dict[str, Any]]:
    """Serve `data_dir` in a background thread; returns the running server and SDK credentials."""
    app = create_app(Path(data_dir), settings=settings, seed_file=seed_file, faults=faults)
    server = SandboxServer(app, host, port)
    server.start()
    return server, credentials(Path(data_dir), f"{server.base_url}/K3Cloud/")

"""The ASGI face of sandbox.kingdee and the helpers to run it.

`create_app(data_dir)` serves the K/3 Cloud WebAPI over real HTTP (FastAPI, every POST path goes to
`KingdeeSandbox.handle`, run in the thread pool so SQLite never blocks the event loop);
`start_sandbox` runs it in a background thread and hands back SDK-ready credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from yecai.sandbox.kingdee.datadir import credentials
from yecai.sandbox.kingdee.services import KingdeeSandbox, WireRequest
from yecai.sandbox.kingdee.settings import SandboxSettings
from yecai.sandbox.serving import ServerThread


def create_app(
    data_dir: Path, *, settings: SandboxSettings | None = None, seed_file: Path | None = None
) -> FastAPI:
    """An ASGI app emulating one K/3 Cloud site; `app.state.kingdee` is the KingdeeSandbox."""
    sandbox = KingdeeSandbox(Path(data_dir), settings=settings, seed_file=seed_file)
    app = FastAPI(
        title="sandbox.kingdee",
        description="金蝶云星空 WebAPI emulator (yecai)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.kingdee = sandbox

    @app.post("/{path:path}")
    async def kdsvc(request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        headers["cookie"] = "; ".join(request.headers.getlist("cookie"))
        wire = WireRequest(url=str(request.url), path=request.url.path, headers=headers, body=body)
        reply = await run_in_threadpool(sandbox.handle, wire)
        response = Response(content=reply.text.encode("utf-8"), status_code=reply.status)
        response.headers["content-type"] = reply.content_type
        for cookie in reply.set_cookies:
            response.headers.append("set-cookie", cookie)
        return response

    return app


class SandboxServer(ServerThread):
    """A ServerThread that also closes the sandbox's database when it stops."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(app, host, port)
        self.sandbox: KingdeeSandbox = app.state.kingdee

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
) -> tuple[ServerThread, dict[str, Any]]:
    """Serve `data_dir` in a background thread; returns the running server and SDK credentials."""
    server = SandboxServer(create_app(Path(data_dir), settings=settings, seed_file=seed_file), host, port)
    server.start()
    return server, credentials(Path(data_dir), f"{server.base_url}/K3Cloud/")

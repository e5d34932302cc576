"""The yecai web application: webhook endpoints per connection and health checks.

Views are thin (the Dispatch lesson): each route parses the request and calls a service
function; the webhook route answers 2xx only after `yecai.sync.webhooks.receive` has committed
the event, so a sender's retry is the only way an event can arrive twice — and that is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from yecai.connectors.generic_rest import GenericRestConnector
from yecai.store.db import Store
from yecai.sync.webhooks import receive


def create_app(store: Store, connectors: Mapping[str, GenericRestConnector]) -> FastAPI:
    app = FastAPI(title="yecai", description="业财一体化集成中枢 · integration hub")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/{connection}")
    async def webhook(connection: str, request: Request) -> JSONResponse:
        connector = connectors.get(connection)
        if connector is None:
            message = f"未知连接 {connection} / unknown connection {connection}"
            return JSONResponse({"outcome": "refused", "message": message}, status_code=404)
        body = await request.body()
        receipt = await run_in_threadpool(receive, store, connector, headers=dict(request.headers), body=body)
        return JSONResponse(receipt.as_json(), status_code=receipt.status)

    return app

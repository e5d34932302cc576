"""Monitoring endpoints: Prometheus /metrics, liveness /healthz and readiness /readyz.

`/metrics` joins this process's instruments (Kingdee latency and errors, postings sent — counted
by this process only; each `yecai worker` keeps its own) with figures read from the store at
scrape time, which cover every process. `/healthz` says the process is alive; `/readyz` answers
503 naming, in Chinese and English, each check that failed (store, schema, Redis). Thin: the
checks and the collector live in `yecai.observability`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from yecai.observability.disk import DiskCollector
from yecai.observability.metrics import ProcessInstruments
from yecai.observability.readiness import CHECK_SECONDS, Check, RedisCheck, database_checks
from yecai.observability.store_collector import StoreCollector
from yecai.store.db import Store
from yecai.web.security import PUBLIC, allow

if TYPE_CHECKING:
    from yecai.jobs.queue import JobQueue


async def _within(deadline: float, names: tuple[str, ...], check: Callable[[], list[Check]]) -> list[Check]:
    """Run a blocking check in a thread; a check that outlives the deadline has failed."""
    try:
        with anyio.fail_after(deadline):
            # abandon_on_cancel: a hung database or Redis must not hold the probe's answer
            return await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    except TimeoutError:
        return [
            Check(
                name,
                "failed",
                f"{name} 检查超时（{deadline:g} 秒）",
                f"the {name} check timed out after {deadline:g} s",
                "TimeoutError",
            )
            for name in names
        ]


def monitoring_router(
    store: Store, *, queue: JobQueue | None = None, disk: Mapping[str, Path] | None = None
) -> APIRouter:
    """The three endpoints for `store` (and the queue's length and Redis, when `queue` is given;
    the free space of each directory in `disk`, by the name of its role)."""
    # public on purpose: probes and Prometheus scrape without signing in; nothing here names a
    # project, a record or a secret (bind the port to the internal network in production)
    router = APIRouter(tags=["monitoring 监控"], dependencies=[allow(PUBLIC)])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessInstruments())
    registry.register(StoreCollector(store, queue.huey if queue is not None else None))
    if disk:
        registry.register(DiskCollector(disk))
    redis_check = (
        RedisCheck(queue.runtime.settings.queue_url)
        if queue is not None and queue.runtime.distributed and queue.runtime.settings.queue_url
        else None
    )
    # database + schema share one connection; twice the time for the two queries and a connect
    database_deadline = 2 * CHECK_SECONDS

    @router.get("/metrics", response_class=Response, summary="Prometheus 指标 / Prometheus metrics")
    async def metrics(request: Request) -> Response:
        # The Accept header picks the classic text format or OpenMetrics, as Prometheus asks.
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await anyio.to_thread.run_sync(encoder, registry)
        return Response(content=body, media_type=content_type)

    @router.get("/healthz", summary="存活 / liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="就绪 / readiness", responses={503: {"description": "未就绪 / not ready"}})
    async def readyz() -> JSONResponse:
        checks = await _within(database_deadline, ("database", "schema"), lambda: database_checks(store))
        if redis_check is not None:
            checks += await _within(CHECK_SECONDS + 1, ("redis",), lambda: [redis_check()])
        failed = [check for check in checks if check.status == "failed"]
        body: dict[str, Any] = {
            "status": "not_ready" if failed else "ready",
            "checks": {check.name: check.status for check in checks},
        }
        if failed:
            body["message"] = "未就绪 / not ready"
            body["failed"] = [check.as_json() for check in failed]
        return JSONResponse(body, status_code=503 if failed else 200)

    return router

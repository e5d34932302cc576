"""The /admin endpoints of sandbox.pm: the simulated clock, webhook subscribers, the delivery log.

Same authentication as the API. `POST /admin/clock` moves "now" forward ({"advance_days": 1},
{"advance_hours": 6}, … or {"now": "2026-10-15T08:00:00+08:00"}) and answers how many records
were created, updated and deleted in between — the events sent to webhook subscribers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from yecai.sandbox.pm.errors import invalid_parameter, not_found
from yecai.sandbox.pm.models import CHINA_TZ
from yecai.sandbox.pm.paging import MAX_PAGE_SIZE, offset_of, ok
from yecai.sandbox.pm.runtime import PmRuntime
from yecai.sandbox.pm.schemas import ErrorBody
from yecai.sandbox.pm.serialise import DecimalJSONResponse


class ClockMove(BaseModel):
    """Either `now`, or one or more `advance_*` amounts (they add up)."""

    now: datetime | None = Field(None, description="move to this moment (ISO 8601; no offset means +08:00)")
    advance_days: float = Field(0, ge=0)
    advance_hours: float = Field(0, ge=0)
    advance_minutes: float = Field(0, ge=0)
    advance_seconds: float = Field(0, ge=0)


class Subscribe(BaseModel):
    url: str = Field(
        description="http(s) URL that receives the POSTs", examples=["http://127.0.0.1:9000/hooks/pm"]
    )
    secret: str = Field(min_length=1, description="HMAC key for X-PM-Signature")
    event_types: list[str] = Field(
        default_factory=lambda: ["*"],
        description='fnmatch patterns, e.g. ["cost_record.*", "invoice.created"]',
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "参数错误 · invalid request (code 40001)"},
    401: {"model": ErrorBody, "description": "认证失败 · missing or invalid credentials"},
}


def admin_router(runtime: PmRuntime) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin 管理"], responses=_ERRORS)
    dataset = runtime.dataset

    def clock_state() -> dict[str, Any]:
        return {
            "now": runtime.now(),
            "timeline_start": dataset.timeline_start,
            "timeline_end": dataset.timeline_end,
            # simulated seconds per real second; a time rate, sent as exact decimal text like all numbers
            "speed": Decimal(repr(runtime.clock.speed)),
        }

    @router.get("/clock", summary="模拟时钟 · the simulated clock")
    def get_clock() -> Response:
        return DecimalJSONResponse(ok(clock_state()))

    @router.post(
        "/clock",
        summary="推进时钟 · move the simulated clock forward",
        responses={409: {"model": ErrorBody, "description": "the clock cannot go back (code 40901)"}},
    )
    def move_clock(move: ClockMove) -> Response:
        delta = timedelta(
            days=move.advance_days,
            hours=move.advance_hours,
            minutes=move.advance_minutes,
            seconds=move.advance_seconds,
        )
        if move.now is not None and delta:
            raise invalid_parameter("now 与 advance_* 只能二选一", "give either now or advance_*, not both")
        if move.now is None and not delta:
            raise invalid_parameter(
                "请给出 now 或 advance_days / advance_hours / advance_minutes / advance_seconds",
                "give now, or advance_days / advance_hours / advance_minutes / advance_seconds",
            )
        if move.now is not None:
            target = move.now if move.now.tzinfo is not None else move.now.replace(tzinfo=CHINA_TZ)
            previous, answers = runtime.clock.set(target)
        else:
            previous, answers = runtime.clock.advance(delta)
        counts = next(iter(answers), {"created": 0, "updated": 0, "deleted": 0, "total": 0})
        return DecimalJSONResponse(ok({"previous": previous, **clock_state(), "events": counts}))

    @router.get("/webhooks", summary="订阅列表 · webhook subscriptions")
    def list_subscriptions() -> Response:
        return DecimalJSONResponse(ok([s.public() for s in runtime.webhooks.subscriptions()]))

    @router.post("/webhooks", summary="新增订阅 · subscribe a URL", status_code=201)
    def subscribe(body: Subscribe) -> Response:
        try:
            subscription = runtime.webhooks.subscribe(body.url, body.secret, body.event_types)
        except ValueError as exc:
            raise invalid_parameter(f"订阅无效：{exc}", f"invalid subscription: {exc}") from None
        return DecimalJSONResponse(ok(subscription.public()), 201)

    @router.delete("/webhooks/{subscription_id}", summary="取消订阅 · unsubscribe")
    def unsubscribe(subscription_id: Annotated[str, Path()]) -> Response:
        if not runtime.webhooks.unsubscribe(subscription_id):
            raise not_found(f"订阅 {subscription_id} 不存在", f"no subscription {subscription_id}")
        return DecimalJSONResponse(ok({"id": subscription_id, "deleted": True}))

    @router.get("/webhooks/deliveries", summary="投递日志 · the delivery log (offset)")
    def deliveries(
        subscription_id: Annotated[str | None, Query()] = None,
        event_id: Annotated[str | None, Query()] = None,
        status: Annotated[str | None, Query(description="delivered, retrying, failed")] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    ) -> Response:
        rows = [
            entry
            for entry in runtime.webhooks.log()
            if (subscription_id is None or entry["subscription_id"] == subscription_id)
            and (event_id is None or entry["event_id"] == event_id)
            and (status is None or entry["status"] == status)
        ]
        answer = offset_of(rows, offset, limit)
        answer["data"]["pending"] = runtime.webhooks.pending()
        return DecimalJSONResponse(answer)

    return router

"""Reconciliation over the API: the runs, one run's differences, run one now, its Excel workbook,
and invoice matching (三单匹配) of a period.

Reading is `read` and scoped by the service to the caller's projects (a project manager sees the
differences of their projects only, never one without a project, and counts of those alone);
running is `operate` and runs in the request (a read of one period's vouchers, not a long job).
Matching is `read`: it reads the store only, and a project manager gets their projects' contracts.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yecai.auth.roles import Permission
from yecai.errors import YecaiError
from yecai.reconcile import service
from yecai.reconcile.matching_service import match_job
from yecai.reconcile.workbook import workbook
from yecai.reports.periods import Period
from yecai.web.api.common import IdPath, from_error, not_found, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import allow, caller

router = APIRouter(prefix="/api/v1", tags=["reconciliation 对账"])
READ = [allow(Permission.READ)]
OPERATE = [allow(Permission.OPERATE)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

DifferenceKind = Literal[
    "missing_in_kingdee", "unknown_in_kingdee", "amount_mismatch", "changed_in_kingdee", "source_changed"
]


class ReconcileRequest(BaseModel):
    job: str | None = Field(None, max_length=80, description="同步作业（仅一个时可省略）· sync job")
    period: str | None = Field(
        None, max_length=10, description="YYYY-MM 或 all；默认本月（北京时间）· period, default this month"
    )


@router.get("/reconciliations", dependencies=READ, summary="对账记录 · reconciliation runs")
async def reconciliations(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    who = caller(request)
    found = await run_in_threadpool(lambda: service.runs(ctx.store, who, limit=limit, offset=offset))
    return plain(found)


@router.get("/reconciliations/{run_id}", dependencies=READ, summary="对账差异 · one run and its differences")
async def reconciliation(
    run_id: IdPath,
    request: Request,
    kind: DifferenceKind | None = None,
    project: str | None = Query(None, max_length=80),
    limit: int = Query(500, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=10_000_000),
    ctx: WebContext = Depends(context),
) -> dict[str, object]:
    who = caller(request)
    found = await run_in_threadpool(
        lambda: service.run_detail(
            ctx.store, who, run_id, kind=kind, project=project, limit=limit, offset=offset
        )
    )
    if found is None:
        raise not_found("对账记录", "reconciliation", run_id)
    return plain(found)


@router.post("/reconciliations", dependencies=OPERATE, summary="立即对账 · reconcile now")
async def reconcile_now(
    request: Request, body: ReconcileRequest | None = None, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    chosen = body or ReconcileRequest()
    try:
        space = ctx.workspace()
        period = service.parse_period(chosen.period)
        report = await run_in_threadpool(
            lambda: service.reconcile_job(ctx.store, space, chosen.job, secrets=ctx.secrets, period=period)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    except Exception as exc:  # Kingdee out of reach and the like: the run could not complete
        raise problem(502, f"对账未能完成：{exc}", f"the reconciliation could not complete: {exc}") from None
    return {
        "id": report.run_id,
        "job": report.job,
        "period": report.period,
        "counts": report.counts,
        "total": report.total,
    }


@router.get(
    "/reconciliations/{run_id}/workbook",
    dependencies=READ,
    summary="对账差异导出 Excel · the run's differences as a workbook",
)
async def reconciliation_workbook(
    run_id: IdPath, request: Request, ctx: WebContext = Depends(context)
) -> Response:
    who = caller(request)
    found = await run_in_threadpool(lambda: service.run_detail(ctx.store, who, run_id, limit=None))
    if found is None:
        raise not_found("对账记录", "reconciliation", run_id)
    data = await run_in_threadpool(workbook, found.run, found.differences)
    name = f"reconciliation-{run_id}-{found.run.period}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(
    "/reconcile/matching",
    dependencies=READ,
    summary="三单匹配 · invoice matching: cost ↔ invoice ↔ payment per supplier contract",
)
async def matching(
    request: Request,
    period: str = Query(..., max_length=7, description="期间 · period YYYY-MM"),
    job: str | None = Query(None, max_length=80, description="同步作业（仅一个时可省略）· sync job"),
    project: str | None = Query(None, max_length=80, description="项目编码 · one project only"),
    ctx: WebContext = Depends(context),
) -> dict[str, object]:
    who = caller(request)
    try:
        chosen = Period.parse(period)
        space = ctx.workspace()
        report = await run_in_threadpool(
            lambda: match_job(ctx.store, space, job, period=chosen, who=who, project=project)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    answer: dict[str, object] = plain(report.as_dict())
    return answer

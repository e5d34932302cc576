"""Reading: the dashboard, runs, projects, documents and postings, and the trace both ways.

Every route here is `read`; what a caller sees is narrowed by the services to their projects,
so a project manager asking for another manager's document gets 404, exactly as if it did
not exist.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from yecai.auth.roles import Permission
from yecai.domain.posting_states import STATES
from yecai.services import dashboard as dashboards
from yecai.services import trace
from yecai.web.api.common import IdPath, not_found, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import allow, caller

router = APIRouter(prefix="/api/v1", tags=["browse 查询"])
READ = [allow(Permission.READ)]

DocumentKind = Literal[
    "project",
    "boq_item",
    "budget_line",
    "contract",
    "cost_record",
    "progress_report",
    "payment_request",
    "invoice",
    "worker",
    "attendance",
    "opening_balance",
]


@router.get("/dashboard", dependencies=READ, summary="仪表盘 · dashboard figures")
async def dashboard(request: Request, ctx: WebContext = Depends(context)) -> dict[str, object]:
    result = await run_in_threadpool(dashboards.dashboard, ctx.store, caller(request))
    return plain(result)


@router.get("/runs", dependencies=READ, summary="运行记录 · recent runs")
async def runs(
    request: Request, limit: int = Query(50, ge=1, le=500), ctx: WebContext = Depends(context)
) -> list[dict[str, object]]:
    if caller(request).projects is not None:
        return []  # runs are company-wide operations; project-limited users see none
    return plain(await run_in_threadpool(dashboards.recent_runs, ctx.store, limit=limit))


@router.get("/projects", dependencies=READ, summary="项目 · projects with documents")
async def projects(
    request: Request,
    q: str = Query("", max_length=80, description="项目编码或名称包含 · code or name contains"),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    who = caller(request)
    return plain(await run_in_threadpool(lambda: trace.projects(ctx.store, who, search=q)))


@router.get("/documents", dependencies=READ, summary="单据 · documents")
async def documents(
    request: Request,
    kind: DocumentKind | None = None,
    project: str | None = Query(None, max_length=80),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    rows = await run_in_threadpool(
        trace.documents, ctx.store, caller(request), kind=kind, project=project, limit=limit, offset=offset
    )
    return plain(rows)


@router.get(
    "/documents/{document_id}", dependencies=READ, summary="单据追溯 · a document, its record and postings"
)
async def document(
    document_id: IdPath, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    found = await run_in_threadpool(trace.document_detail, ctx.store, caller(request), document_id)
    if found is None:
        raise not_found("单据", "document", document_id)
    return plain(found)


@router.get("/postings", dependencies=READ, summary="过账 · postings")
async def postings(
    request: Request,
    state: str | None = Query(None, max_length=30),
    connection: str | None = Query(None, max_length=80),
    project: str | None = Query(None, max_length=80),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    if state is not None and state not in (*STATES, "sending"):
        names = ", ".join(STATES)
        raise problem(
            422, f"未知状态 {state}，可选：{names}", f"unknown state {state}; choose one of {names}"
        )
    rows = await run_in_threadpool(
        trace.postings,
        ctx.store,
        caller(request),
        state=state,
        connection=connection,
        project=project,
        limit=limit,
        offset=offset,
    )
    return plain(rows)


@router.get(
    "/postings/{posting_id}", dependencies=READ, summary="过账明细 · a posting, its lines and documents"
)
async def posting(
    posting_id: IdPath, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    found = await run_in_threadpool(trace.posting_detail, ctx.store, caller(request), posting_id)
    if found is None:
        raise not_found("过账", "posting", posting_id)
    return plain(found)


@router.get(
    "/vouchers/{number}", dependencies=READ, summary="反查凭证 · from a Kingdee number back to postings"
)
async def voucher(
    number: str, request: Request, ctx: WebContext = Depends(context)
) -> list[dict[str, object]]:
    rows = await run_in_threadpool(trace.postings_of_voucher, ctx.store, caller(request), number)
    if not rows:
        raise not_found("凭证或单据", "voucher or bill", number)
    return plain(rows)

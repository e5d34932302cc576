"""Reports over the API: a project's P&L, the monthly operating analysis as JSON, .xlsx or .html.

Every route is `read`. Figures are read from Kingdee on each call (they must equal the books);
when Kingdee cannot be read the answer is 503 with the reason, never stale numbers. A project
manager gets their own projects only: another's P&L is 404, and the monthly report covers just
their projects — the same report, narrowed, rather than a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from yecai.auth.principal import Principal
from yecai.auth.roles import Permission
from yecai.errors import YecaiError
from yecai.reports import service
from yecai.reports.excel import monthly_workbook
from yecai.reports.figures import ProjectFigures
from yecai.reports.html import monthly_html
from yecai.reports.latest import PeriodChoice, asked
from yecai.reports.ledger import KingdeeUnreadable
from yecai.reports.monthly import MonthlyReport
from yecai.reports.periods import Period
from yecai.web.api.common import from_error, not_found, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import allow, caller

router = APIRouter(prefix="/api/v1", tags=["reports 报表"])
READ = [allow(Permission.READ)]
PeriodQuery = Query(None, max_length=7, description="YYYY-MM; default: the latest period with data")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
T = TypeVar("T")


async def period_of(ctx: WebContext, text: str | None, job: str | None) -> PeriodChoice:
    """The period asked for (a bad one is 422), else the latest period with data."""
    if text:
        try:
            return asked(Period.parse(text))
        except YecaiError as exc:
            raise problem(422, exc.zh, exc.en) from None

    def latest() -> PeriodChoice:
        try:
            workspace = ctx.workspace()
        except YecaiError:
            workspace = None  # the report itself says what is wrong with the workspace
        return service.default_period(ctx.store, workspace, job=job)

    return await run_in_threadpool(latest)


def period_json(choice: PeriodChoice) -> dict[str, str]:
    """How the period was chosen, in both languages (the answer names the period itself)."""
    return {"basis": choice.basis.value, "zh": choice.zh, "en": choice.en}


def answer_error(exc: YecaiError) -> HTTPException:
    if isinstance(exc, KingdeeUnreadable):
        return problem(503, exc.zh, exc.en)
    return from_error(exc)


async def _run(work: Callable[[], T]) -> T:
    try:
        return await run_in_threadpool(work)
    except YecaiError as exc:
        raise answer_error(exc) from None


def monthly_for(ctx: WebContext, who: Principal, chosen: PeriodChoice, job: str | None) -> MonthlyReport:
    return service.monthly(
        ctx.store, ctx.workspace(), period=chosen.period, choice=chosen, who=who, secrets=ctx.secrets, job=job
    )


async def _monthly_asked(
    request: Request, ctx: WebContext, period: str | None, job: str | None
) -> tuple[PeriodChoice, MonthlyReport]:
    """The monthly report the caller asks for, narrowed to their projects, with its period.

    One reading for the JSON and both downloads, so the three answer with the same figures.
    """
    who, chosen = caller(request), await period_of(ctx, period, job)
    return chosen, await _run(lambda: monthly_for(ctx, who, chosen, job))


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


@router.get("/projects/{code}/pnl", dependencies=READ, summary="项目损益 · a project's P&L")
async def project_pnl(
    code: str,
    request: Request,
    period: str | None = PeriodQuery,
    job: str | None = Query(None, max_length=80),
    ctx: WebContext = Depends(context),
) -> dict[str, Any]:
    who, chosen = caller(request), await period_of(ctx, period, job)
    view = await _run(
        lambda: service.pnl(
            ctx.store, ctx.workspace(), code=code, period=chosen.period, who=who, secrets=ctx.secrets, job=job
        )
    )
    if view is None:
        raise not_found("项目", "project", code)
    return {**plain(view), "charts": view.charts(), "period_choice": period_json(chosen)}


def _project_json(p: ProjectFigures) -> dict[str, Any]:
    # the derived figures are properties: plain() reads fields only
    derived = {"margin_period": p.margin_period, "margin_to_date": p.margin_to_date}
    derived |= {"margin_pct": p.margin_pct, "variance_pct": p.variance_pct, "unpaid_total": p.unpaid_total}
    return {**plain(p), **plain(derived)}


def _monthly_json(report: MonthlyReport) -> dict[str, Any]:
    return {
        "period": report.period,
        "job": report.figures.job,
        "kingdee": report.figures.kingdee,
        "cash_source": report.figures.cash_source,
        "accounts": report.figures.accounts,
        "overview": plain(report.overview),
        "by_margin": [p.code for p in report.by_margin],
        "by_variance": [p.code for p in report.by_variance],
        "structure": plain(report.structure),
        "risks": plain(report.risks),
        "projects": [_project_json(p) for p in report.projects],
    }


@router.get("/reports/monthly", dependencies=READ, summary="月度经营分析 · monthly report (JSON)")
async def monthly_json(
    request: Request,
    period: str | None = PeriodQuery,
    job: str | None = Query(None, max_length=80),
    ctx: WebContext = Depends(context),
) -> dict[str, Any]:
    chosen, report = await _monthly_asked(request, ctx, period, job)
    return {**_monthly_json(report), "period_choice": period_json(chosen)}


async def _download(
    request: Request, ctx: WebContext, period: str | None, job: str | None, *, html: bool
) -> Response:
    """The monthly report as the file `yecai report monthly` writes: .xlsx, or .html with `html`."""
    chosen, report = await _monthly_asked(request, ctx, period, job)
    xlsx_name, html_name = service.file_names(chosen.period)
    if html:
        body = await run_in_threadpool(monthly_html, report)
        return Response(body, media_type="text/html; charset=utf-8", headers=attachment(html_name))
    body = await run_in_threadpool(monthly_workbook, report)
    return Response(body, media_type=XLSX, headers=attachment(xlsx_name))


@router.get("/reports/monthly.xlsx", dependencies=READ, summary="月度经营分析 Excel · monthly report (.xlsx)")
async def monthly_xlsx(
    request: Request,
    period: str | None = PeriodQuery,
    job: str | None = Query(None, max_length=80),
    ctx: WebContext = Depends(context),
) -> Response:
    return await _download(request, ctx, period, job, html=False)


@router.get("/reports/monthly.html", dependencies=READ, summary="月度经营分析 HTML · monthly report (.html)")
async def monthly_page(
    request: Request,
    period: str | None = PeriodQuery,
    job: str | None = Query(None, max_length=80),
    ctx: WebContext = Depends(context),
) -> Response:
    return await _download(request, ctx, period, job, html=True)

"""Console pages for reports: a project's P&L with ECharts charts and its Excel export, and the
monthly operating analysis page (period picker, one click to the .xlsx or .html download).

Every page is `read`. The P&L reads Kingdee when the page is opened; if Kingdee cannot be read the
page says so instead of showing numbers that might not equal the books. A project outside the
caller's projects answers 404, as everywhere in the console. Without a period in the address a
page shows the latest period with data (`service.default_period`) and says so.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from yecai.errors import YecaiError
from yecai.reports import service
from yecai.reports.latest import PeriodChoice, asked
from yecai.reports.periods import Period
from yecai.web.console.rendering import Notice, not_found_page, page_lang, problem, render
from yecai.web.console.routes import READ
from yecai.web.security import caller

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(request: Request, text: str | None) -> tuple[PeriodChoice, Notice | None]:
    """(the period, a notice) — none asked, or a bad one, is the latest period with data."""
    bad = None
    if text:
        try:
            return asked(Period.parse(text)), None
        except YecaiError as exc:
            bad = problem(exc)
    ctx = request.app.state.ctx
    try:
        workspace = ctx.workspace()
    except YecaiError:
        workspace = None  # the report itself says what is wrong with the workspace
    return service.default_period(ctx.store, workspace), bad


@router.get("/projects/{code}/pnl", dependencies=READ)
def pnl_page(request: Request, code: str, period: str | None = Query(None, max_length=7)) -> HTMLResponse:
    who = caller(request)
    if not who.sees_project(code):
        return not_found_page(request)
    ctx = request.app.state.ctx
    choice, bad = _period(request, period)
    shown = {"code": code, "period": str(choice.period), "choice": choice}
    try:
        view = service.pnl(
            ctx.store, ctx.workspace(), code=code, period=choice.period, who=who, secrets=ctx.secrets
        )
    except YecaiError as exc:
        return render(request, "pnl.html", status=503, view=None, error=problem(exc), **shown)
    if view is None:
        return not_found_page(request)
    return render(request, "pnl.html", view=view, charts=view.charts(page_lang(request)), error=bad, **shown)


@router.get("/projects/{code}/pnl.xlsx", dependencies=READ)
def pnl_export(request: Request, code: str, period: str | None = Query(None, max_length=7)) -> Response:
    who = caller(request)
    ctx = request.app.state.ctx
    choice, _ = _period(request, period)
    chosen = choice.period
    try:
        view = (
            service.pnl(ctx.store, ctx.workspace(), code=code, period=chosen, who=who, secrets=ctx.secrets)
            if who.sees_project(code)
            else None
        )
    except YecaiError as exc:
        return render(
            request,
            "pnl.html",
            status=503,
            code=code,
            period=str(chosen),
            choice=choice,
            view=None,
            error=problem(exc),
        )
    if view is None:
        return not_found_page(request)
    name = f"pnl-{code}-{chosen}.xlsx"
    return Response(
        service.pnl_xlsx(view),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/reports/monthly", dependencies=READ)
def monthly_page(request: Request, period: str | None = Query(None, max_length=7)) -> HTMLResponse:
    choice, bad = _period(request, period)
    return render(request, "monthly.html", period=str(choice.period), choice=choice, error=bad)

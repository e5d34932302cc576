"""Console pages for reconciliation: the runs, one run's differences with drill-down, run one now.

Every difference links to the posting and documents behind it (404 for a project manager outside
their projects, as everywhere); the counts and rows a project manager sees are those of their own
projects. "Reconcile now" is `operate` and follows post/redirect/get; Excel comes from the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yecai.errors import YecaiError
from yecai.reconcile import service
from yecai.reconcile.classify import KINDS
from yecai.web.console.rendering import PAGE_SIZE, Notice, not_found_page, page_of, problem, render, status_of
from yecai.web.console.routes import OPERATE, PAGE, READ, ctx_of
from yecai.web.security import caller

router = APIRouter(include_in_schema=False)


def _jobs(request: Request) -> list[str]:
    try:
        return list(ctx_of(request).workspace().syncs)
    except YecaiError:
        return []


def _list(request: Request, page: int, *, status: int = 200, notice: Notice | None = None) -> HTMLResponse:
    ctx = ctx_of(request)
    found = service.runs(ctx.store, caller(request), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    rows, pager = page_of(found, page)
    return render(
        request,
        "reconciliations.html",
        status=status,
        rows=rows,
        pager=pager,
        kinds=KINDS,
        jobs=_jobs(request),
        period=service.current_period(),
        notice=notice,
    )


@router.get("/reconciliations", dependencies=READ)
def reconciliations_page(request: Request, page: int = PAGE) -> HTMLResponse:
    return _list(request, page)


@router.post("/reconciliations", dependencies=OPERATE)
def reconcile_now(
    request: Request,
    job: str = Form("", max_length=80),
    period: str = Form("", max_length=10),
) -> Response:
    ctx = ctx_of(request)
    try:
        space = ctx.workspace()
        chosen = service.parse_period(period or None)
        report = service.reconcile_job(ctx.store, space, job or None, secrets=ctx.secrets, period=chosen)
    except YecaiError as exc:
        return _list(request, 1, status=status_of(exc), notice=problem(exc))
    except Exception as exc:  # Kingdee out of reach and the like
        return _list(
            request,
            1,
            status=502,
            notice=Notice(False, f"对账未能完成：{exc}", f"the reconciliation could not complete: {exc}"),
        )
    return RedirectResponse(f"/reconciliations/{report.run_id}", status_code=303)


@router.get("/reconciliations/{run_id}", dependencies=READ)
def reconciliation_page(
    request: Request,
    run_id: int,
    kind: str | None = Query(None, max_length=30),
    project: str | None = Query(None, max_length=80),
    page: int = PAGE,
) -> HTMLResponse:
    chosen = kind if kind in KINDS else None
    found = service.run_detail(
        ctx_of(request).store,
        caller(request),
        run_id,
        kind=chosen,
        project=project or None,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    if found is None:
        return not_found_page(request)
    rows, pager = page_of(found.differences, page)
    return render(
        request,
        "reconciliation.html",
        run=found.run,
        rows=rows,
        pager=pager,
        kinds=KINDS,
        kind=chosen,
        project=project or "",
    )

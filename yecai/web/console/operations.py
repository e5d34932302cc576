"""Console pages for acting on what happened: replay and skip, the approval queue, dead letters, jobs.

Buttons appear only for roles that may press them, and every action route declares its own
permission, so the server refuses a forged request all the same. Row actions (dead letters,
"run now") answer with the updated row through htmx; posting actions and approvals redirect
back to their page (post/redirect/get), so a reload never repeats them.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yecai.auth.roles import Permission
from yecai.domain.posting_states import PostingState
from yecai.errors import YecaiError
from yecai.jobs import actions, deadletters
from yecai.jobs.calendar import WorkCalendar
from yecai.jobs.deadletters import DeadLetterView
from yecai.jobs.overview import job_overview
from yecai.services import dashboard as dashboards
from yecai.services import postings as posting_service
from yecai.services import trace
from yecai.web.console.browse import posting_view
from yecai.web.console.rendering import (
    PAGE_SIZE,
    Notice,
    not_found_page,
    notice,
    page_of,
    problem,
    render,
    status_of,
)
from yecai.web.console.routes import OPERATE, PAGE, READ, ctx_of
from yecai.web.security import allow, caller

router = APIRouter(include_in_schema=False)


def group_of(letter: DeadLetterView) -> str:
    """Which dashboard group a dead letter counts in (fix configuration / fix data / retry)."""
    return dashboards.failure_group(letter.error_fault, letter.error_action)


# --- postings ---------------------------------------------------------------------------------


def _posting_refused(request: Request, posting_id: int, error: YecaiError) -> HTMLResponse:
    return posting_view(request, posting_id, problem(error), status=status_of(error))


@router.post("/postings/{posting_id}/replay", dependencies=OPERATE)
def replay_posting(request: Request, posting_id: int) -> Response:
    who = caller(request)
    store = ctx_of(request).store
    if not trace.posting_visible(store, who, posting_id):
        return not_found_page(request)
    try:
        posting_service.replay(store, posting_id=posting_id, by=who)
    except YecaiError as exc:
        return _posting_refused(request, posting_id, exc)
    return RedirectResponse(f"/postings/{posting_id}?done=replayed", status_code=303)


@router.post("/postings/{posting_id}/skip", dependencies=OPERATE)
def skip_posting(request: Request, posting_id: int, reason: str = Form("", max_length=2000)) -> Response:
    who = caller(request)
    store = ctx_of(request).store
    if not trace.posting_visible(store, who, posting_id):
        return not_found_page(request)
    try:
        posting_service.skip(store, posting_id=posting_id, reason=reason.strip(), who=who.username, by=who)
    except YecaiError as exc:
        return _posting_refused(request, posting_id, exc)
    return RedirectResponse(f"/postings/{posting_id}?done=skipped", status_code=303)


# --- approvals --------------------------------------------------------------------------------


@router.get("/approvals", dependencies=READ)
def approvals_page(
    request: Request, page: int = PAGE, done: int | None = Query(None, ge=0, le=1_000_000)
) -> HTMLResponse:
    rows, pager = page_of(
        trace.postings(
            ctx_of(request).store,
            caller(request),
            state=PostingState.AWAITING_APPROVAL,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        ),
        page,
    )
    shown = notice("approvals.done", n=done) if done is not None else None
    return render(request, "approvals.html", rows=rows, pager=pager, notice=shown)


@router.post("/approvals", dependencies=[allow(Permission.APPROVE)])
def approve(request: Request, ids: list[int] = Form([])) -> Response:
    who = caller(request)
    store = ctx_of(request).store
    chosen = [i for i in dict.fromkeys(ids) if trace.posting_visible(store, who, i)]
    if not chosen:
        rows, pager = page_of(
            trace.postings(store, who, state=PostingState.AWAITING_APPROVAL, limit=PAGE_SIZE + 1), 1
        )
        return render(
            request,
            "approvals.html",
            status=422,
            rows=rows,
            pager=pager,
            notice=notice("approvals.none_selected", ok=False),
        )
    count = posting_service.approve(store, who=who.username, ids=chosen, by=who)
    return RedirectResponse(f"/approvals?done={count}", status_code=303)


# --- dead letters -----------------------------------------------------------------------------


@router.get("/dead-letters", dependencies=READ)
def dead_letters_page(
    request: Request,
    status: str = Query("dead", pattern="^(dead|replayed|skipped|all)$"),
    job: str | None = Query(None, max_length=80),
    page: int = PAGE,
) -> HTMLResponse:
    rows: list[DeadLetterView] = []
    pager = page_of([], page)[1]
    if caller(request).projects is None:  # company-wide operations; project managers see none
        found = deadletters.dead_letters(
            ctx_of(request).store, status=None if status == "all" else status, job=job or None
        )
        found.reverse()  # newest first
        start = (page - 1) * PAGE_SIZE
        rows, pager = page_of(found[start : start + PAGE_SIZE + 1], page)
    return render(
        request,
        "dead_letters.html",
        rows=rows,
        pager=pager,
        status_filter=status,
        job=job,
        group_of=group_of,
        row_notice=None,
    )


def _letter_row(request: Request, letter_id: int, message: Notice, status: int = 200) -> HTMLResponse:
    letter = deadletters.dead_letter(ctx_of(request).store, letter_id)
    if letter is None:
        return render(request, "_notice.html", status=404, notice=message)
    return render(
        request, "_dead_letter_row.html", status=status, letter=letter, group_of=group_of, row_notice=message
    )


@router.post("/dead-letters/{letter_id}/replay", dependencies=OPERATE)
def replay_dead_letter(request: Request, letter_id: int) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        result = actions.replay_dead_letter(ctx.job_queue(), ctx.store, letter_id, by=caller(request))
    except YecaiError as exc:
        return _letter_row(request, letter_id, problem(exc), status_of(exc))
    return _letter_row(request, letter_id, notice("dead.replayed", message=result.message))


@router.post("/dead-letters/{letter_id}/skip", dependencies=OPERATE)
def skip_dead_letter(
    request: Request, letter_id: int, reason: str = Form("", max_length=2000)
) -> HTMLResponse:
    try:
        actions.skip_dead_letter(ctx_of(request).store, letter_id, reason=reason, by=caller(request))
    except YecaiError as exc:
        return _letter_row(request, letter_id, problem(exc), status_of(exc))
    return _letter_row(request, letter_id, notice("dead.skipped"))


# --- jobs and schedules -----------------------------------------------------------------------


@router.get("/jobs", dependencies=READ)
def jobs_page(request: Request) -> HTMLResponse:
    ctx = ctx_of(request)
    rows: list[object] = []
    runs: list[object] = []
    message: Notice | None = None
    if caller(request).projects is None:
        try:
            space = ctx.workspace()
            calendar = ctx.runtime.calendar if ctx.runtime is not None else WorkCalendar()
            rows = list(job_overview(ctx.store, space, calendar))
        except YecaiError as exc:
            message = problem(exc)
        runs = list(dashboards.recent_runs(ctx.store, limit=50))
    return render(request, "jobs.html", rows=rows, runs=runs, notice=message)


@router.post("/jobs/{name}/run", dependencies=OPERATE)
def run_job(request: Request, name: str) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        result = actions.run_job(ctx.job_queue(), ctx.store, ctx.workspace(), name, by=caller(request))
    except YecaiError as exc:
        return render(request, "_notice.html", status=status_of(exc), notice=problem(exc))
    return render(request, "_job_run.html", result=result)

"""Console pages for reading: the dashboard, projects, documents, postings and the voucher trace.

record → document → posting → Kingdee voucher, and back from a voucher number. Every page is
`read`; the services narrow what a caller sees to their projects, and a project, document or
posting outside them answers 404 exactly like one that does not exist. Lists are paginated.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yecai.domain.posting_states import OPEN, STATES, TERMINAL, PostingState
from yecai.errors import YecaiError
from yecai.services import archive as archives
from yecai.services import dashboard as dashboards
from yecai.services import trace
from yecai.services import vouchers as voucher_views
from yecai.services.postings import NOT_SKIPPABLE, REPLAYABLE
from yecai.web.console import i18n
from yecai.web.console.rendering import PAGE_SIZE, Notice, not_found_page, notice, page_lang, page_of, render
from yecai.web.console.routes import PAGE, READ
from yecai.web.security import caller

router = APIRouter(include_in_schema=False)

DOCUMENT_KINDS = (
    "project",
    "cost_record",
    "contract",
    "invoice",
    "payment_request",
    "progress_report",
    "budget_line",
    "boq_item",
    "worker",
    "attendance",
    "opening_balance",
)
# states a person cannot skip: in Kingdee, not yet known whether they are, skipped already, or
# retired by a correction
UNSKIPPABLE = (*NOT_SKIPPABLE, PostingState.SKIPPED, *sorted(TERMINAL))
STATE_COLOURS = {
    PostingState.POSTED: "#2e7d32",
    PostingState.SAVED: "#66bb6a",
    PostingState.PLANNED: "#1e88e5",
    PostingState.AWAITING_APPROVAL: "#8e24aa",
    PostingState.SENT: "#00acc1",
    PostingState.UNCERTAIN: "#fb8c00",
    PostingState.FAILED: "#e53935",
    PostingState.DEAD: "#6d1b1b",
    PostingState.HELD: "#fdd835",
    PostingState.SKIPPED: "#9e9e9e",
}
GROUP_COLOURS = {"configuration": "#e53935", "data": "#fb8c00", "retry": "#1e88e5"}


@router.get("/", dependencies=READ)
def dashboard_page(request: Request) -> HTMLResponse:
    who = caller(request)
    figures = dashboards.dashboard(request.app.state.ctx.store, who)
    label = i18n.labeller(page_lang(request))
    shown = [s for s in STATES if figures.postings_by_state.get(s)]
    state_chart = {
        "kind": "pie",
        "items": [
            {
                "name": label("state", s),
                "value": figures.postings_by_state[s],
                "colour": STATE_COLOURS.get(s),
                "link": f"/postings?state={s}",
            }
            for s in shown
        ],
    }
    group_chart = {
        "kind": "bar",
        "items": [
            {"name": label("group", g), "value": figures.failures[g], "colour": GROUP_COLOURS[g]}
            for g in dashboards.GROUPS
        ],
    }
    open_states = [(s, figures.postings_by_state.get(s, 0)) for s in OPEN]
    return render(
        request,
        "dashboard.html",
        d=figures,
        groups=dashboards.GROUPS,
        state_chart=state_chart,
        group_chart=group_chart,
        open_states=open_states,
        postings_total=sum(figures.postings_by_state.values()),
    )


@router.get("/projects", dependencies=READ)
def projects_page(request: Request, page: int = PAGE, q: str = Query("", max_length=80)) -> HTMLResponse:
    """Projects, searchable by code or name, with a 合计 row over every project the search kept."""
    rows = trace.projects(request.app.state.ctx.store, caller(request), search=q)
    start = (page - 1) * PAGE_SIZE
    shown, pager = page_of(rows[start : start + PAGE_SIZE + 1], page)
    return render(
        request, "projects.html", rows=shown, pager=pager, q=q.strip(), totals=trace.project_totals(rows)
    )


@router.get("/projects/{code}", dependencies=READ)
def project_page(
    request: Request,
    code: str,
    kind: str | None = Query(None, max_length=40),
    page: int = PAGE,
    ppage: int = PAGE,
) -> HTMLResponse:
    who = caller(request)
    store = request.app.state.ctx.store
    found = [p for p in trace.projects(store, who) if p.code == code]
    if not found:
        return not_found_page(request)
    chosen = kind if kind in DOCUMENT_KINDS else None
    documents, pager = page_of(
        trace.documents(
            store, who, kind=chosen, project=code, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        ),
        page,
    )
    postings, posting_pager = page_of(
        trace.postings(store, who, project=code, limit=PAGE_SIZE + 1, offset=(ppage - 1) * PAGE_SIZE), ppage
    )
    return render(
        request,
        "project.html",
        project=found[0],
        documents=documents,
        pager=pager,
        postings=postings,
        posting_pager=posting_pager,
        kinds=DOCUMENT_KINDS,
        kind=chosen,
    )


@router.get("/documents/{document_id}", dependencies=READ)
def document_page(request: Request, document_id: int) -> HTMLResponse:
    detail = trace.document_detail(request.app.state.ctx.store, caller(request), document_id)
    if detail is None:
        return not_found_page(request)
    label = i18n.labeller(page_lang(request))
    fields = voucher_views.document_fields(detail.data, label)
    archived = None
    if detail.record_archive is not None:  # the raw payload left the database: read it where it went
        where = detail.record_archive
        archived = archives.read_pointer(
            request.app.state.ctx.settings, where.file, where.line, where.archived_at
        )
    return render(request, "document.html", doc=detail, fields=fields, archived=archived)


@router.get("/postings", dependencies=READ)
def postings_page(
    request: Request,
    state: str | None = Query(None, max_length=30),
    connection: str | None = Query(None, max_length=80),
    project: str | None = Query(None, max_length=80),
    page: int = PAGE,
) -> HTMLResponse:
    chosen = state if state in STATES else None
    rows, pager = page_of(
        trace.postings(
            request.app.state.ctx.store,
            caller(request),
            state=chosen,
            connection=connection or None,
            project=project or None,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        ),
        page,
    )
    return render(
        request,
        "postings.html",
        rows=rows,
        pager=pager,
        states=STATES,
        state=chosen,
        connection=connection,
        project=project,
        notice=None,
    )


DONE = {"replayed": "posting.replayed", "skipped": "posting.skipped"}


def charts_of(request: Request) -> voucher_views.ChartCache:
    """The app's Kingdee charts (account names), read once per connection and kept with the app."""
    state = request.app.state
    cache = getattr(state, "charts", None)
    if cache is None:
        cache = state.charts = voucher_views.ChartCache()
    return cache


def posting_view(
    request: Request, posting_id: int, message: Notice | None, *, status: int = 200
) -> HTMLResponse:
    """The posting page: after a read, after a done action, and after a refused one (with its status).

    One place decides which buttons a posting's state allows, whichever way the page is reached.
    """
    detail = trace.posting_detail(request.app.state.ctx.store, caller(request), posting_id)
    if detail is None:
        return not_found_page(request)
    state = detail.posting.state
    ctx = request.app.state.ctx
    try:
        space = ctx.workspace()
    except YecaiError:
        space = None  # no workspace: names of dimensions still come from the store
    shown = voucher_views.posting_document(
        ctx.store,
        connection=detail.posting.connection,
        rule_set=detail.posting.rule_set,
        form_id=detail.posting.form_id,
        number=detail.posting.kingdee_number,
        payload=detail.payload,
        workspace=space,
        charts=charts_of(request),
        opener=lambda name: ctx.workspace().kingdee(name, ctx.secrets),
        lang=page_lang(request),
    )
    return render(
        request,
        "posting.html",
        status=status,
        detail=detail,
        shown=shown,
        replayable=state in REPLAYABLE,
        skippable=state not in UNSKIPPABLE,
        notice=message,
    )


@router.get("/postings/{posting_id}", dependencies=READ)
def posting_page(
    request: Request, posting_id: int, done: str | None = Query(None, max_length=20)
) -> HTMLResponse:
    return posting_view(request, posting_id, notice(DONE[done]) if done in DONE else None)


@router.get("/vouchers", dependencies=READ)
def voucher_page(request: Request, number: str = Query(..., min_length=1, max_length=80)) -> Response:
    wanted = number.strip()
    rows = trace.postings_of_voucher(request.app.state.ctx.store, caller(request), wanted)
    if len(rows) == 1:
        return RedirectResponse(f"/postings/{rows[0].id}", status_code=303)
    return render(request, "voucher.html", status=200 if rows else 404, rows=rows, number=wanted)

"""Console pages for configuration: connections and their secrets, mapping tables, alert channels.

Secrets go in and never come out: the page lists which names are stored, never a value. The
mapping editor changes one entry at a time with the version it read (optimistic locking), so two
consultants editing at once cannot overwrite each other; the unmapped-values list loads after the
page (it plans the current documents) and each value has a "map it" that fills the form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yecai.alerts import recent_deliveries, send_test
from yecai.auth.principal import Principal
from yecai.auth.roles import Permission
from yecai.errors import DataError, YecaiError
from yecai.jobs import actions
from yecai.services import accounts as account_service
from yecai.services import connections as connection_service
from yecai.services import mapping_edit
from yecai.web.console import i18n
from yecai.web.console.browse import charts_of
from yecai.web.console.rendering import Notice, not_found_page, notice, page_lang, problem, render, status_of
from yecai.web.console.routes import CONFIGURE, OPERATE, READ, ctx_of
from yecai.web.security import caller
from yecai.workspace import AlertConnection

router = APIRouter(include_in_schema=False)

UNMAPPED_SHOWN = 200
# which table an unmapped value goes into ("map it")
UNMAPPED_TABLE = {
    "project": "projects",
    "supplier": "suppliers",
    "customer": "customers",
    "worker": "workers",
    "category": "cost_accounts",
}
PROJECT_FIELDS = ("number", "org", "department", "cost_centre", "accounting_standard")
SETTINGS = (
    "accounting_standard",
    "project_default",
    "organisation_default",
    "department_default",
    "supplier_default",
    "supplier_fallback",
    "customer_default",
    "customer_fallback",
    "worker_default",
)
DONE = {"secret_saved": "conn.secret_saved", "secret_deleted": "conn.secret_deleted"}


# --- connections ------------------------------------------------------------------------------


@router.get("/connections", dependencies=READ)
def connections_page(request: Request, done: str | None = Query(None, max_length=20)) -> HTMLResponse:
    ctx = ctx_of(request)
    rows: list[connection_service.ConnectionRow] = []
    message: Notice | None = notice(DONE[done]) if done in DONE else None
    if caller(request).projects is None:
        try:
            rows = connection_service.connection_rows(ctx.store, ctx.workspace(), ctx.secrets)
        except YecaiError as exc:
            message = problem(exc)
    return render(request, "connections.html", rows=rows, notice=message, row_notice=None)


def _connection_row(request: Request, name: str, message: Notice | None, status: int = 200) -> HTMLResponse:
    ctx = ctx_of(request)
    rows = [
        r
        for r in connection_service.connection_rows(ctx.store, ctx.workspace(), ctx.secrets)
        if r.name == name
    ]
    if not rows:
        return render(request, "_notice.html", status=404, notice=message)
    return render(request, "_connection_row.html", status=status, c=rows[0], row_notice=message)


@router.post("/connections/secrets", dependencies=CONFIGURE)
def set_secret(
    request: Request,
    connection: str = Form(..., max_length=80),
    key: str = Form(..., max_length=80),
    value: str = Form(..., max_length=10_000),
) -> Response:
    ctx = ctx_of(request)
    try:
        connection_service.set_secret(
            ctx.store,
            ctx.secrets,
            ctx.workspace(),
            connection=connection,
            key=key.strip(),
            value=value,
            by=caller(request),
        )
    except YecaiError as exc:
        rows = connection_service.connection_rows(ctx.store, ctx.workspace(), ctx.secrets)
        return render(
            request,
            "connections.html",
            status=status_of(exc),
            rows=rows,
            notice=problem(exc),
            row_notice=None,
        )
    return RedirectResponse("/connections?done=secret_saved", status_code=303)


@router.post("/connections/{name}/secrets/{key}/delete", dependencies=CONFIGURE)
def delete_secret(request: Request, name: str, key: str) -> Response:
    ctx = ctx_of(request)
    if not connection_service.delete_secret(
        ctx.store, ctx.secrets, connection=name, key=key, by=caller(request)
    ):
        return not_found_page(request)
    return RedirectResponse("/connections?done=secret_deleted", status_code=303)


@router.post("/connections/{name}/test", dependencies=CONFIGURE)
def test_connection(request: Request, name: str) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        result = connection_service.test_connection(ctx.workspace(), ctx.secrets, name, store=ctx.store)
    except KeyError:
        return render(request, "_notice.html", status=404, notice=notice("error.not_found_text", ok=False))
    except YecaiError as exc:
        return render(request, "_notice.html", status=status_of(exc), notice=problem(exc))
    # the whole row comes back: the health column shows what the test just found
    rows = [
        r
        for r in connection_service.connection_rows(ctx.store, ctx.workspace(), ctx.secrets)
        if r.name == name
    ]
    return render(request, "_connection_row.html", c=rows[0], row_notice=None, result=result)


@router.post("/connections/{name}/pause", dependencies=OPERATE)
def pause_connection(request: Request, name: str, reason: str = Form("", max_length=2000)) -> HTMLResponse:
    ctx = ctx_of(request)
    hooks = ctx.runtime.alerts if ctx.runtime is not None else None
    try:
        actions.pause_connection(
            ctx.store, ctx.workspace(), name, reason=reason, by=caller(request), hooks=hooks
        )
    except YecaiError as exc:
        return render(request, "_notice.html", status=status_of(exc), notice=problem(exc))
    return _connection_row(request, name, None)


@router.post("/connections/{name}/resume", dependencies=OPERATE)
def resume_connection(request: Request, name: str) -> HTMLResponse:
    ctx = ctx_of(request)
    hooks = ctx.runtime.alerts if ctx.runtime is not None else None
    actions.resume_connection(ctx.store, name, by=caller(request), hooks=hooks)
    return _connection_row(request, name, None)


# --- mapping tables ---------------------------------------------------------------------------


@dataclass(slots=True)
class EntryForm:
    """What the mapping form shows (kept as typed when an edit is refused)."""

    table: str = "projects"
    key: str = ""
    number: str = ""
    org: str = ""
    department: str = ""
    cost_centre: str = ""
    accounting_standard: str = ""
    debit: str = ""
    credit: str = ""


def _scoped(table: dict[str, Any], who: Principal) -> dict[str, Any]:
    """A project manager sees the rows of their own projects only (as over the API)."""
    if who.projects is None:
        return table
    scoped = dict(table)
    scoped["projects"] = {k: v for k, v in table.get("projects", {}).items() if k in who.projects}
    for other in ("suppliers", "customers", "workers", "cost_accounts"):
        scoped[other] = {}
    return scoped


def _entries(table: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    entries: list[tuple[str, list[dict[str, Any]]]] = []
    for name in mapping_edit.TABLES:
        rows: list[dict[str, Any]] = []
        section = table.get(name) or {}
        if name == "cost_accounts":
            for standard, categories in section.items():
                for category, accounts in (categories or {}).items():
                    key = f"{standard}/{category}"
                    row = {"key": key, "debit": accounts.get("debit"), "credit": accounts.get("credit")}
                    rows.append({**row, "fill": {"table": name, **row}})
        elif name == "projects":
            for code, fields in section.items():
                row = {"key": code, **{f: (fields or {}).get(f) for f in PROJECT_FIELDS}}
                rows.append({**row, "fill": {"table": name, **row}})
        else:
            for key, number in section.items():
                row = {"key": key, "number": number}
                rows.append({**row, "fill": {"table": name, **row}})
        entries.append((name, rows))
    return entries


def _value(form: EntryForm) -> Any:
    """The YAML entry the form describes; DataError when it is incomplete."""
    if form.table == "projects":
        value = {f: getattr(form, f).strip() for f in PROJECT_FIELDS if getattr(form, f).strip()}
        if not value:
            raise DataError(
                "请至少填写金蝶项目编码或组织", "give at least the Kingdee number or organisation"
            )
        return value
    if form.table == "cost_accounts":
        if not form.debit.strip() or not form.credit.strip():
            raise DataError("成本科目需要借方和贷方科目", "a cost account needs a debit and a credit account")
        return {"debit": form.debit.strip(), "credit": form.credit.strip()}
    if not form.number.strip():
        raise DataError("请填写金蝶编码", "give the Kingdee number")
    return form.number.strip()


def _role_words(label: Callable[[str, object], str]) -> Callable[[str], str]:
    """A rule-set role in words: `labour.debit` → 人工费 借方, `item:施工用电.credit` → 施工用电 贷方."""

    def words(role: str) -> str:
        base, _, side = role.rpartition(".")
        if side not in ("debit", "credit"):
            return label("account_role", role)
        name = base.removeprefix("item:") if base.startswith("item:") else label("category", base)
        return f"{name} {label('side', side)}"

    return words


def _setting_words(label: Callable[[str, object], str]) -> Callable[[str, object], str]:
    """A default of the mapping table in words: a policy or a standard by name, a number as it is."""

    def words(key: str, value: object) -> str:
        if value is None or value == "":
            return "—"
        if key == "accounting_standard":
            return label("accounting_standard", value)
        if key.endswith("_default") and key not in ("organisation_default", "department_default"):
            return label("policy", value)
        return str(value)

    return words


def _cost_account_words(label: Callable[[str, object], str]) -> Callable[[str], str]:
    """A cost-account row's key in words: `small/labour` → 小企业会计准则 · 人工费."""

    def words(key: str) -> str:
        standard, _, category = key.partition("/")
        return f"{label('accounting_standard', standard)} · {label('category', category)}"

    return words


def _mapping_page(
    request: Request,
    job: str,
    *,
    form: EntryForm | None = None,
    message: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = ctx_of(request)
    who = caller(request)
    try:
        space = ctx.workspace()
        view = mapping_edit.read(space, job)
    except DataError:
        return not_found_page(request)
    except YecaiError as exc:
        return render(request, "mappings.html", status=status_of(exc), jobs=[], notice=problem(exc))
    table = _scoped(view.table, who)
    label = i18n.labeller(page_lang(request))
    try:
        in_use: account_service.ChartInUse | None = account_service.chart_in_use(
            ctx.store,
            space,
            job,
            charts=charts_of(request),
            opener=lambda name: space.kingdee(name, ctx.secrets),
        )
    except YecaiError:
        in_use = None  # a rule set that does not load: the editor still opens, `rules check` says why
    return render(
        request,
        "mapping.html",
        in_use=in_use,
        account_names={
            a.number: a.name for s in (in_use.standards if in_use else []) for a in s.accounts if a.name
        },
        role_label=_role_words(label),
        setting_value=_setting_words(label),
        cost_account_key=_cost_account_words(label),
        status=status,
        job=job,
        view=view,
        mapping_file=space.syncs[job].mapping,  # as named in yecai.yaml, not the server's full path
        entries=_entries(table),
        settings=SETTINGS,
        tables=mapping_edit.TABLES,
        editable=view.path is not None and who.can(Permission.CONFIGURE),
        form=form or EntryForm(),
        notice=message,
    )


@router.get("/mappings", dependencies=READ)
def mappings_page(request: Request) -> HTMLResponse:
    try:
        jobs = list(ctx_of(request).workspace().syncs.items())
    except YecaiError as exc:
        return render(request, "mappings.html", status=status_of(exc), jobs=[], notice=problem(exc))
    return render(request, "mappings.html", jobs=jobs, notice=None)


@router.get("/mappings/{job}", dependencies=READ)
def mapping_page(request: Request, job: str) -> HTMLResponse:
    return _mapping_page(request, job)


@router.post("/mappings/{job}", dependencies=CONFIGURE)
def edit_mapping(
    request: Request,
    job: str,
    version: str = Form(..., max_length=80),
    action: str = Form("save", pattern="^(save|delete)$"),
    table: str = Form(..., max_length=40),
    key: str = Form(..., max_length=200),
    number: str = Form("", max_length=80),
    org: str = Form("", max_length=80),
    department: str = Form("", max_length=80),
    cost_centre: str = Form("", max_length=80),
    accounting_standard: str = Form("", max_length=20),
    debit: str = Form("", max_length=80),
    credit: str = Form("", max_length=80),
) -> HTMLResponse:
    ctx = ctx_of(request)
    form = EntryForm(
        table, key.strip(), number, org, department, cost_centre, accounting_standard, debit, credit
    )
    try:
        space = ctx.workspace()
        value = None if action == "delete" else _value(form)
        mapping_edit.edit(
            ctx.store, space, job, table=table, key=form.key, value=value, version=version, by=caller(request)
        )
    except YecaiError as exc:
        status = status_of(exc)
        try:  # a stale version is a conflict (409), whatever else the edit would have said
            if mapping_edit.read(ctx.workspace(), job).version != version:
                status = 409
        except YecaiError:
            pass
        return _mapping_page(request, job, form=form, message=problem(exc), status=status)
    done = "map.deleted" if action == "delete" else "map.saved"
    return _mapping_page(request, job, message=notice(done, table=table, key=form.key))


@router.get("/mappings/{job}/unmapped", dependencies=READ)
def unmapped_list(request: Request, job: str) -> HTMLResponse:
    ctx = ctx_of(request)
    who = caller(request)
    items: list[dict[str, Any]] = []
    more = 0
    editable = False
    try:
        space = ctx.workspace()
        view = mapping_edit.read(space, job)
        editable = view.path is not None and who.can(Permission.CONFIGURE)
        if who.projects is None:  # the values come from every project's documents
            standard = view.table.get("accounting_standard") or "cas"
            rows = mapping_edit.as_rows(mapping_edit.unmapped(ctx.store, space, job))
            more = max(0, len(rows) - UNMAPPED_SHOWN)
            for row in rows[:UNMAPPED_SHOWN]:
                target = UNMAPPED_TABLE.get(str(row["kind"]))
                key = f"{standard}/{row['value']}" if target == "cost_accounts" else str(row["value"])
                items.append({**row, "fill": {"table": target, "key": key} if target else None})
    except YecaiError as exc:
        return render(
            request,
            "_unmapped.html",
            status=status_of(exc),
            items=[],
            more=0,
            editable=False,
            notice=problem(exc),
        )
    return render(request, "_unmapped.html", items=items, more=more, editable=editable, notice=None)


# --- alerts -----------------------------------------------------------------------------------


@router.get("/alerts", dependencies=READ)
def alerts_page(request: Request, channel: str | None = Query(None, max_length=80)) -> HTMLResponse:
    ctx = ctx_of(request)
    channels: list[dict[str, Any]] = []
    deliveries: list[Any] = []
    message: Notice | None = None
    if caller(request).projects is None:
        try:
            for name, c in ctx.workspace().connections.items():
                if isinstance(c, AlertConnection):
                    channels.append(
                        {
                            "name": name,
                            "platform": c.channel,
                            "events": c.events,
                            "min_severity": c.min_severity,
                            "dedupe_minutes": c.dedupe_minutes,
                            "max_per_hour": c.max_per_hour,
                            "language": c.language,
                            "recipients": c.recipients,
                            "stored_secrets": ctx.secrets.names(name),
                        }
                    )
        except YecaiError as exc:
            message = problem(exc)
        deliveries = recent_deliveries(ctx.store, limit=100, channel=channel or None)
    return render(
        request, "alerts.html", channels=channels, deliveries=deliveries, channel=channel, notice=message
    )


@router.post("/alerts/{channel}/test", dependencies=CONFIGURE)
def test_alert(request: Request, channel: str) -> Response:
    """Send a test message through one channel; answers the outcome as a notice fragment (htmx)."""
    ctx = ctx_of(request)
    try:
        delivery = send_test(ctx.store, ctx.workspace(), ctx.secrets, channel, who=caller(request).username)
    except YecaiError as exc:
        return render(request, "_notice.html", status=status_of(exc), notice=problem(exc))
    ok = delivery.status == "sent"
    return render(
        request,
        "_notice.html",
        notice=notice(
            "alerts.tested", ok=ok, channel=channel, status=delivery.status, error=delivery.error or ""
        ),
    )

"""A read-only web page of sandbox.kingdee: what is in the data centre, to show in demos.

`/` lists every form with its record count; `/forms/GL_VOUCHER` shows vouchers with their lines
(凭证字号, 摘要, 科目, 借方, 贷方); `/forms/<FORM>` shows any other form's header fields. Data is read
through the same query engine as ExecuteBillQuery, so what the page shows is what a client gets.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from yecai.sandbox.kingdee import query
from yecai.sandbox.kingdee.forms import Form
from yecai.sandbox.kingdee.services import KingdeeSandbox

PAGE_SIZE = 50
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
VOUCHER_KEYS = [
    "FVOUCHERID",
    "FBillNo",
    "FDate",
    "FVOUCHERGROUPID.FName",
    "FVOUCHERGROUPNO",
    "FDocumentStatus",
    "FEntity_FSeq",
    "FEXPLANATION",
    "FACCOUNTID.FNumber",
    "FACCOUNTID.FName",
    "FDEBIT",
    "FCREDIT",
]
SHOWN_KINDS = {"text", "int", "decimal", "date", "datetime", "status", "ref"}


def _money(value: Any) -> str:
    if value in (None, "", 0) or (isinstance(value, Decimal) and value == 0):
        return ""
    return f"{Decimal(value):,.2f}"


TEMPLATES.filters["money"] = _money


def _header_keys(form: Form, limit: int = 10) -> list[str]:
    keys = [form.pk]
    if form.number:
        keys.append(form.number)
    for field in form.fields.values():
        if len(keys) >= limit:
            break
        if field.key in keys or field.kind not in SHOWN_KINDS or (field.kind == "ref" and field.form is None):
            continue
        if field.system and field.kind != "status":
            continue
        keys.append(f"{field.key}.FNumber" if field.kind == "ref" else field.key)
    return keys


def _rows(sandbox: KingdeeSandbox, data: dict[str, Any]) -> list[list[Any]]:
    try:
        return query.execute_bill_query(sandbox.store, sandbox.registry, data)
    except query.QueryProblem as exc:
        raise HTTPException(500, f"query failed: {exc.problem.message}") from None


def _vouchers(sandbox: KingdeeSandbox, form: Form, page: int) -> dict[str, Any]:
    ids = sorted((r.id for r in sandbox.store.records(form)), reverse=True)
    chosen = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    vouchers: dict[Any, dict[str, Any]] = {}
    if chosen:
        condition = f"FVOUCHERID in ({','.join(str(i) for i in chosen)})"
        data = {
            "FormId": form.form_id,
            "FieldKeys": ",".join(VOUCHER_KEYS),
            "FilterString": condition,
            "Limit": 10000,
        }
        for row in _rows(sandbox, data):
            voucher = vouchers.setdefault(
                row[0],
                {
                    "id": row[0],
                    "bill_no": row[1],
                    "date": str(row[2])[:10],
                    "word": f"{row[3] or ''}-{row[4]}",
                    "status": row[5],
                    "lines": [],
                    "debit": Decimal(0),
                    "credit": Decimal(0),
                },
            )
            voucher["lines"].append(
                {
                    "seq": row[6],
                    "explanation": row[7],
                    "account": f"{row[8]} {row[9] or ''}",
                    "debit": row[10],
                    "credit": row[11],
                }
            )
            voucher["debit"] += Decimal(row[10] or 0)
            voucher["credit"] += Decimal(row[11] or 0)
    return {"vouchers": [vouchers[i] for i in chosen if i in vouchers]}


def install(app: FastAPI, sandbox: KingdeeSandbox) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def overview() -> HTMLResponse:
        forms = sorted(sandbox.registry, key=lambda f: f.form_id)
        counts = [(form, len(sandbox.store.records(form))) for form in forms]
        centre = sandbox.store.meta("seed", {}).get("data_centre", {})
        html = TEMPLATES.get_template("overview.html").render(counts=counts, centre=centre)
        return HTMLResponse(html)

    @app.get("/forms/{form_id}", response_class=HTMLResponse)
    async def form_page(form_id: str, page: int = 1) -> HTMLResponse:
        form = sandbox.registry.get(form_id)
        if form is None:
            raise HTTPException(404, f"no form {form_id}")
        total = len(sandbox.store.records(form))
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        if form.form_id.upper() == "GL_VOUCHER":
            context = _vouchers(sandbox, form, page)
            template = "vouchers.html"
        else:
            keys = _header_keys(form)
            data = {
                "FormId": form.form_id,
                "FieldKeys": ",".join(keys),
                "OrderString": f"{form.pk} DESC",
                "StartRow": (page - 1) * PAGE_SIZE,
                "Limit": PAGE_SIZE,
            }
            context = {"keys": keys, "rows": _rows(sandbox, data)}
            template = "records.html"
        html = TEMPLATES.get_template(template).render(
            form=form, page=page, pages=pages, total=total, **context
        )
        return HTMLResponse(html)

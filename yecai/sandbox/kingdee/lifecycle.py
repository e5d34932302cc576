"""Status operations: Submit, Audit, UnAudit, CancelAssign, Delete, Forbid, Enable, CloseBill, …

One table (`TRANSITIONS`) says which status field an operation moves, from which values and to
which: 暂存 Z → 创建 A → 审核中 B → 已审核 C → 重新审核 D (§6.4, §7.5). Bills are selected by
`Ids`, `Numbers` or `PkEntryIds`; each is processed in its own transaction, so several numbers
succeed or fail one by one (§5.2): the call fails only when none of them exists. Network control
(a lock held on the bill), the form's own rules (hooks) and references (for Delete) can refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yecai.sandbox.kingdee import messages, params
from yecai.sandbox.kingdee.drafts import SaveContext, number_label
from yecai.sandbox.kingdee.envelopes import Problem, status_result, success_entity, success_message
from yecai.sandbox.kingdee.forms import Field, Form
from yecai.sandbox.kingdee.hooks import hook_of
from yecai.sandbox.kingdee.references import as_id
from yecai.sandbox.kingdee.store import Record, RecordId

STATUS_NAMES = {"Z": "暂存", "A": "创建", "B": "审核中", "C": "已审核", "D": "重新审核", "": "空"}
_AUDITED_BY = ("FAPPROVERID", "FAUDITORID", "FCHECKERID")
_AUDITED_AT = ("FAPPROVEDATE", "FAUDITDATE", "FCHECKDATE")


@dataclass(frozen=True, slots=True)
class Transition:
    """One status operation: `field` moves from one of `allowed` to `target` (None: delete)."""

    name: str
    caption: str
    field: str
    allowed: frozenset[str] | None  # None: from any value
    target: str | None
    needs_audited: bool = False  # CloseBill / UnCloseBill work on audited bills only


def _t(name: str, caption: str, field: str, allowed: str | None, target: str | None, **kw: Any) -> Transition:
    return Transition(name, caption, field, frozenset(allowed) if allowed is not None else None, target, **kw)


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t("Submit", "提交", "FDOCUMENTSTATUS", "AD", "B"),
        _t("Audit", "审核", "FDOCUMENTSTATUS", "B", "C"),
        _t("UnAudit", "反审核", "FDOCUMENTSTATUS", "C", "D"),
        _t("CancelAssign", "撤销", "FDOCUMENTSTATUS", "B", "A"),
        _t("Delete", "删除", "FDOCUMENTSTATUS", "ZAD", None),
        _t("Forbid", "禁用", "FFORBIDSTATUS", None, "B"),
        _t("Enable", "反禁用", "FFORBIDSTATUS", None, "A"),
        _t("CloseBill", "关闭", "FCLOSESTATUS", "A", "B", needs_audited=True),
        _t("UnCloseBill", "反关闭", "FCLOSESTATUS", "B", "A", needs_audited=True),
    )
}
_BY_LOWER = {name.lower(): t for name, t in TRANSITIONS.items()}


def transition(name: str) -> Transition | None:
    """The operation an opNumber / service name means, matched case-insensitively."""
    return _BY_LOWER.get(name.strip().lower())


def supports(form: Form, step: Transition) -> bool:
    return step.field in form.fields


# --- selecting the bills ----------------------------------------------------------------------------


def org_number(ctx: SaveContext, org_id: Any) -> str:
    """An organisation as messages name it: its number (or the raw id when it is gone)."""
    org = ctx.store.get(ctx.form("ORG_Organizations"), org_id) if org_id else None
    return str(org.values.get("FNUMBER", "")) if org is not None else str(org_id)


def _org_id(ctx: SaveContext, raw: Any) -> RecordId | None:
    """`UseOrgId`: an organisation's internal id (or, leniently, its number); 0 means none."""
    if raw in (None, "", 0, "0"):
        return None
    org_form = ctx.form("ORG_Organizations")
    text = str(raw).strip()
    if text.isdigit() and ctx.store.get(org_form, int(text)) is not None:
        return int(text)
    return ctx.store.find_number(org_form, text)


def select(ctx: SaveContext, form: Form, data: dict[str, Any]) -> tuple[list[Record], bool]:
    """The records `Ids` / `PkEntryIds` / `Numbers` name, in that order, without duplicates.

    Returns (records, whether anything was asked for at all). With `UseOrgId`, numbers of shared
    base data name that organisation's copy; without it, the creating organisation's record.
    """
    ids = params.texts(data, "Ids")
    pk_entries = params.get(data, "PkEntryIds")
    if isinstance(pk_entries, list):
        ids += [
            str(item.get("Id", "")).strip()
            for item in pk_entries
            if isinstance(item, dict) and item.get("Id")
        ]
    numbers = params.texts(data, "Numbers")
    use_org = _org_id(ctx, params.get(data, "UseOrgId"))
    found: list[Record] = []
    for text in ids:
        record_id = as_id(form, text)
        record = ctx.store.get(form, record_id) if record_id is not None else None
        if record is not None:
            found.append(record)
    for number in numbers:
        holders = ctx.store.holders(form, number)
        if use_org is not None and "FUSEORGID" in form.fields:
            holders = [
                h for h in holders if (r := ctx.store.get(form, h)) and r.values.get("FUSEORGID") == use_org
            ]
        record = ctx.store.get(form, holders[0]) if holders else None
        if record is not None:
            found.append(record)
    unique: dict[RecordId, Record] = {}
    for record in found:
        unique.setdefault(record.id, record)
    return list(unique.values()), bool(ids or numbers)


# --- one bill ----------------------------------------------------------------------------------------


def lock_conflict(ctx: SaveContext, form: Form, record: Record) -> Problem | None:
    """MsgCode 13 when someone holds the network-control lock on `record`."""
    held = ctx.locks.held(form.form_id, record.id) if ctx.locks is not None else None
    if held is None:
        return None
    return Problem.of(
        "network_conflict",
        form.number,
        form_name=form.name,
        number=number_label(form, record),
        holder=held.holder,
        operation=held.operation,
    )


def refusal(ctx: SaveContext, form: Form, record: Record, step: Transition) -> Problem | None:
    """Why `step` cannot run on `record`, if it cannot."""
    label = number_label(form, record)
    conflict = lock_conflict(ctx, form, record)
    if conflict is not None:
        return conflict
    current = str(record.values.get(step.field) or "")
    status = str(record.values.get("FDOCUMENTSTATUS") or "")
    if step.name == "Audit" and current == "C":
        return Problem.of("already_audited", None, form_name=form.name, number=label)
    if step.field == "FDOCUMENTSTATUS" and current == "Z" and step.name != "Delete":
        return Problem.of("draft_not_saved", None, form_name=form.name, number=label, operation=step.caption)
    wrong_status = step.allowed is not None and current not in step.allowed
    if wrong_status or (step.needs_audited and status != "C"):
        shown_status = current if wrong_status and step.field == "FDOCUMENTSTATUS" else status
        return Problem.of(
            "status_refused",
            None,
            form_name=form.name,
            number=label,
            status=STATUS_NAMES.get(shown_status, shown_status),
            operation=step.caption,
        )
    problems = hook_of(form).check_operation(ctx, record, step.name, step.caption)
    if problems:
        return problems[0]
    if step.target is None:
        return referenced(ctx, form, record, step.caption)
    return None


def referenced(ctx: SaveContext, form: Form, record: Record, operation: str) -> Problem | None:
    """A refusal naming the first record that still points at `record` (base data in use).

    Copies allocated to other organisations count too: cancel the allocation first.
    """
    if form.allocatable:
        for other in ctx.store.records(form):
            if other.id != record.id and other.values.get("FMASTERID") == record.id:
                return Problem.of(
                    "record_referenced",
                    None,
                    form_name=form.name,
                    number=number_label(form, record),
                    other_form=f"{org_number(ctx, other.values.get('FUSEORGID'))}的{form.name}",
                    other_number=number_label(form, other),
                    operation=operation,
                )
    for other_form, entity, field in ctx.registry.referrers(form.form_id):
        for other in ctx.store.records(other_form):
            if other_form.form_id == form.form_id and other.id == record.id:
                continue
            rows: list[dict[str, Any]] = (
                [other.values] if entity is None else other.entries.get(entity.key.upper(), [])
            )
            if any(_points_at(ctx, form, record, other, row, field) for row in rows):
                return Problem.of(
                    "record_referenced",
                    None,
                    form_name=form.name,
                    number=number_label(form, record),
                    other_form=other_form.name,
                    other_number=number_label(other_form, other),
                    operation=operation,
                )
    return None


def _points_at(
    ctx: SaveContext, form: Form, record: Record, other: Record, row: dict[str, Any], field: Field
) -> bool:
    value = row.get(field.key.upper())
    if field.kind == "flex":
        dims = value.get("dims", {}) if isinstance(value, dict) else {}
        return any(
            dim_id == record.id
            and (dim := ctx.registry.dimension(key)) is not None
            and dim.form.upper() == form.form_id.upper()
            for key, dim_id in dims.items()
        )
    if field.polymorphic:
        type_value = str(other.values.get((field.type_field or "").upper()) or "")
        return type_value.upper() == form.form_id.upper() and value == record.id
    return bool(value == record.id)


def apply(ctx: SaveContext, form: Form, record: Record, step: Transition) -> tuple[Record, Problem | None]:
    """Run `step` on one record in its own transaction; (the record as it is now, refusal or None)."""
    problem = refusal(ctx, form, record, step)
    if problem is not None:
        return record, problem
    hook = hook_of(form)
    with ctx.store.transaction() as tx:
        if step.target is None:
            tx.delete(form, record.id)
            hook.after_delete(ctx, tx, record)
            return record, None
        updated = record.copy()
        updated.values[step.field] = step.target
        _stamp(ctx, form, updated, step)
        tx.put(form, updated)
    return updated, None


def _stamp(ctx: SaveContext, form: Form, record: Record, step: Transition) -> None:
    """Auditor and date on Audit (cleared on UnAudit), closer on CloseBill, modify date on Forbid."""
    values = record.values
    by = form.first_field(*_AUDITED_BY)
    at = form.first_field(*_AUDITED_AT)
    if step.name in ("Audit", "UnAudit") and by is not None and at is not None:
        audited = step.name == "Audit"
        values[by.key.upper()] = ctx.user if audited else None
        values[at.key.upper()] = ctx.now if audited else None
    if step.name in ("CloseBill", "UnCloseBill"):
        closing = step.name == "CloseBill"
        if "FCLOSERID" in form.fields:
            values["FCLOSERID"] = ctx.user if closing else None
        if "FCLOSEDATE" in form.fields:
            values["FCLOSEDATE"] = ctx.now if closing else None
    if step.field == "FFORBIDSTATUS" and "FMODIFYDATE" in form.fields:
        values["FMODIFYDATE"] = ctx.now


# --- the service -----------------------------------------------------------------------------------


def run(ctx: SaveContext, form: Form, step: Transition, data: dict[str, Any]) -> dict[str, Any]:
    """Submit / Audit / UnAudit / Delete / … by Ids or Numbers: one SuccessEntity per bill done."""
    if not supports(form, step):
        return status_result(
            [Problem.of("operation_not_available", form_id=form.form_id, operation=step.name)]
        )
    with ctx.store.lock:
        records, asked = select(ctx, form, data)
        if not asked:
            return status_result([Problem.of("selection_missing")])
        if not records:
            return status_result([Problem.of("operation_nothing_selected", operation=step.caption)])
        problems: list[Problem] = []
        successes: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            label = number_label(form, record)
            _, problem = apply(ctx, form, record, step)
            if problem is not None:
                problems.append(problem.at(index))
                continue
            number = str(record.values.get(form.number.upper(), "") or "") if form.number else ""
            successes.append(success_entity(record.id, number, index))
            text = messages.text(
                "operation_success", form_name=form.name, number=label, operation=step.caption
            )
            notes.append(success_message(text, index))
    return status_result(problems, successes, notes)

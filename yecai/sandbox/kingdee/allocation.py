"""Allocate / CancelAllocate (分配) of shared base data, and the rule that bills use only base data
allocated to their organisation.

A supplier, customer or expense item is created in one organisation; allocating it to another
creates that organisation's own copy (new internal id, same number, same FMasterId, FUseOrgId the
target), as K/3 Cloud does — so queries show one row per use organisation (§6.10, §7.3). A bill's
reference to such data resolves to the copy of the bill's organisation (`org_field`) and is refused
when there is none.
"""

from __future__ import annotations

from typing import Any

from yecai.sandbox.kingdee import messages, params
from yecai.sandbox.kingdee.drafts import Draft, SaveContext, entry_where, number_label
from yecai.sandbox.kingdee.envelopes import Problem, status_result, success_entity, success_message
from yecai.sandbox.kingdee.forms import Field, Form, derived
from yecai.sandbox.kingdee.lifecycle import org_number, referenced
from yecai.sandbox.kingdee.references import as_id
from yecai.sandbox.kingdee.store import Record, RecordId


def copy_in(ctx: SaveContext, form: Form, record: Record, org_id: RecordId) -> Record | None:
    """The record of the same master used by organisation `org_id`, if it has one."""
    if record.values.get("FUSEORGID") == org_id:
        return record
    master = record.values.get("FMASTERID") or record.id
    number = str(record.values.get(form.number.upper(), "")) if form.number else ""
    found = ctx.store.find_number(form, number, (org_id,)) if form.unique_within else None
    other = ctx.store.get(form, found) if found is not None else None
    return other if other is not None and (other.values.get("FMASTERID") or other.id) == master else None


def allocate(ctx: SaveContext, form: Form, data: dict[str, Any], *, cancel: bool) -> dict[str, Any]:
    """Allocate (or cancel the allocation of) `PkIds` to the organisations `TOrgIds`."""
    operation = "CancelAllocate" if cancel else "Allocate"
    caption = "取消分配" if cancel else "分配"
    if not form.allocatable:
        return status_result(
            [Problem.of("operation_not_available", form_id=form.form_id, operation=operation)]
        )
    pk_ids, org_ids = params.texts(data, "PkIds"), params.texts(data, "TOrgIds")
    for name, given in (("PkIds", pk_ids), ("TOrgIds", org_ids)):
        if not given:
            return status_result([Problem.of("parameter_invalid", name=name, value="")])
    audit = params.flag(data, "IsAutoSubmitAndAudit", False)
    org_form = ctx.form("ORG_Organizations")
    problems: list[Problem] = []
    successes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    with ctx.store.lock:
        for index, pk in enumerate(pk_ids):
            record_id = as_id(form, pk)
            record = ctx.store.get(form, record_id) if record_id is not None else None
            if record is None:
                problems.append(Problem.of("record_not_found", None, index, id=pk, form_name=form.name))
                continue
            label = number_label(form, record)
            if not cancel and record.values.get("FDOCUMENTSTATUS") != "C":
                problems.append(
                    Problem.of("allocate_unaudited", None, index, form_name=form.name, number=label)
                )
                continue
            for org_text in org_ids:
                org = ctx.store.get(org_form, int(org_text)) if org_text.isdigit() else None
                if org is None:
                    problems.append(Problem.of("allocate_org_missing", None, index, org=org_text))
                    continue
                org_no = str(org.values.get("FNUMBER", ""))
                existing = copy_in(ctx, form, record, org.id)
                if cancel:
                    outcome = _cancel(ctx, form, record, existing, org_no, label)
                else:
                    outcome = _allocate(ctx, form, record, existing, org.id, org_no, label, audit)
                if isinstance(outcome, Problem):
                    problems.append(outcome.at(index))
                    continue
                successes.append(success_entity(outcome.id, label, index))
                text = messages.text(
                    "allocation_done", form_name=form.name, number=label, operation=caption, org=org_no
                )
                notes.append(success_message(text, index))
    return status_result(problems, successes, notes)


def _allocate(
    ctx: SaveContext,
    form: Form,
    record: Record,
    existing: Record | None,
    org_id: RecordId,
    org_no: str,
    label: str,
    audit: bool,
) -> Record | Problem:
    """The new copy of `record` for organisation `org_id`, or why there is none."""
    number = str(record.values.get(form.number.upper(), "")) if form.number else ""
    if existing is not None or ctx.store.find_number(form, number, (org_id,)) is not None:
        return Problem.of("allocate_exists", None, form_name=form.name, number=label, org=org_no)
    with ctx.store.transaction() as tx:
        copy_id = tx.new_id(form)
        values = dict(record.values)
        values.update(
            FUSEORGID=org_id,
            FMASTERID=record.values.get("FMASTERID") or record.id,
            FFORBIDSTATUS="A",
            FDOCUMENTSTATUS="C" if audit else "A",
            FCREATEDATE=ctx.now,
            FMODIFYDATE=ctx.now,
            FCREATORID=ctx.user,
            FMODIFIERID=ctx.user,
            FAUDITORID=ctx.user if audit else None,
            FAUDITDATE=ctx.now if audit else None,
        )
        entries = {
            key: [
                {**row, entity.pk.upper(): tx.next_value(f"entry:{form.form_id.upper()}.{key}")}
                for row in record.entries.get(key, [])
            ]
            for key, entity in form.entities.items()
        }
        copy = Record(form.form_id, copy_id, {k: v for k, v in values.items() if k in form.fields}, entries)
        tx.put(form, copy)
    return copy


def _cancel(
    ctx: SaveContext, form: Form, record: Record, existing: Record | None, org_no: str, label: str
) -> Record | Problem:
    """The removed copy of organisation `org_no`, or why it stays."""
    master = record.values.get("FMASTERID") or record.id
    if existing is None or existing.id == master:
        return Problem.of("allocation_missing", None, form_name=form.name, number=label, org=org_no)
    problem = referenced(ctx, form, existing, "取消分配")
    if problem is not None:
        return problem
    with ctx.store.transaction() as tx:
        tx.delete(form, existing.id)
    return existing


# --- bills use base data of their own organisation -------------------------------------------------


def check_references(ctx: SaveContext, draft: Draft) -> None:
    """Point every reference to shared base data at the bill organisation's copy, or complain."""
    form = draft.form
    org_id = draft.values.get(form.org_field.upper()) if form.org_field else None
    if not org_id:
        return
    places: list[tuple[dict[str, Any], dict[str, Field], str]] = [(draft.values, form.fields, "")]
    for entity_key, rows in draft.entries.items():
        entity = form.entities[entity_key]
        for position, row in enumerate(rows, start=1):
            places.append((row, entity.fields, "" if entity.single else entry_where(position)))
    for values, fields, where in places:
        for key, field in derived(fields, "references", _references):
            value = values.get(key)
            if not value:
                continue
            if field.kind == "flex":
                dims = value.get("dims", {})
                for dim_key, dim_id in list(dims.items()):
                    dimension = ctx.registry.dimension(dim_key)
                    target = ctx.registry.get(dimension.form) if dimension else None
                    dims[dim_key] = _localise(
                        ctx, draft, target, field, dim_id, org_id, where, dimension.name if dimension else ""
                    )
                continue
            if field.kind != "ref":
                continue
            target_id = values.get((field.type_field or "").upper()) if field.polymorphic else field.form
            target = ctx.registry.get(str(target_id or ""))
            values[key] = _localise(ctx, draft, target, field, value, org_id, where, field.caption)


def _references(fields: dict[str, Field]) -> tuple[tuple[str, Field], ...]:
    """The reference and FDetailID fields: the only ones `check_references` may point elsewhere."""
    return tuple((key, field) for key, field in fields.items() if field.kind in ("ref", "flex"))


def _localise(
    ctx: SaveContext,
    draft: Draft,
    target: Form | None,
    field: Field,
    record_id: Any,
    org_id: RecordId,
    where: str,
    caption: str,
) -> Any:
    if target is None or not target.allocatable:
        return record_id
    record = ctx.store.get(target, record_id)
    if record is None:
        return record_id
    local = copy_in(ctx, target, record, org_id)
    if local is not None:
        return local.id
    draft.problem(
        "base_data_not_allocated",
        field.key,
        where=where,
        caption=caption,
        value=number_label(target, record),
        org=org_number(ctx, org_id),
    )
    return record_id

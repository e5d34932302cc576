"""Save, BatchSave and Draft (暂存), generic over the form metadata.

Each data package is parsed against the form, checked (required fields, references, allocation to
the bill's organisation, unique number, the form's hook), and only then given ids and numbers and
written in its own transaction — so a BatchSave can succeed for some packages and fail for others
(matched by DIndex, §6.2), and a refused package never consumes a voucher number. Draft keeps only
the structural checks and writes status Z without a number; IsAutoSubmitAndAudit runs the saved
bill through Submit and Audit (lifecycle.py), and a failed audit leaves the saved bill in place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yecai import jsonutil
from yecai.sandbox.kingdee import allocation, lifecycle, params, query
from yecai.sandbox.kingdee.drafts import Draft, SaveContext, SaveOptions, entry_where, number_label
from yecai.sandbox.kingdee.envelopes import Problem, response_status, success_entity
from yecai.sandbox.kingdee.forms import Entity, Field, Form, derived
from yecai.sandbox.kingdee.hooks import hook_of
from yecai.sandbox.kingdee.numbering import next_number
from yecai.sandbox.kingdee.params import ParameterProblem
from yecai.sandbox.kingdee.references import (
    Lookup,
    as_id,
    find_record,
    resolve_flex,
    resolve_reference,
    shown,
)
from yecai.sandbox.kingdee.store import Record, RecordId, scope_of
from yecai.sandbox.kingdee.values import default_value, format_datetime, is_empty, parse_scalar

__all__ = ["ParameterProblem", "batch_save", "save", "save_one", "save_options"]

# Problems a Draft does not report: 暂存 keeps what it can and leaves unresolvable references empty.
_DRAFT_TOLERATED = {
    "base_data_not_found",
    "base_data_forbidden",
    "base_data_unaudited",
    "dimension_not_found",
    "dimension_forbidden",
}


def save_options(data: dict[str, Any], *, draft: bool = False) -> SaveOptions:
    batch_count = params.get(data, "BatchCount")
    if batch_count not in (None, ""):
        params.integer(data, "BatchCount")
    return SaveOptions(
        need_update_fields=params.keys(data, "NeedUpDateFields"),
        need_return_fields=params.keys(data, "NeedReturnFields"),
        is_delete_entry=params.flag(data, "IsDeleteEntry", True),
        verify_base_data=params.flag(data, "IsVerifyBaseDataField", False),
        auto_audit=params.flag(data, "IsAutoSubmitAndAudit", False) and not draft,
        validate_repeat_json=params.flag(data, "ValidateRepeatJson", False),
        draft=draft,
    )


def model_of(data: dict[str, Any]) -> Any:
    model = params.get(data, "Model")
    if model is None or model == "" or model == []:
        raise ParameterProblem(Problem.of("model_missing"))
    return model


# --- parsing one package --------------------------------------------------------------------------


def _value(
    ctx: SaveContext, form: Form, field: Field, raw: Any, where: str, index: int
) -> tuple[Any, list[Problem]]:
    if field.kind == "ref":
        scope = {field.form_scope: form.form_id} if field.form_scope else None
        record_id, problem = resolve_reference(ctx, field, raw, where, index, scope=scope)
        return record_id, [problem] if problem else []
    if field.kind == "flex":
        return resolve_flex(ctx, field, raw, where, index)
    try:
        return parse_scalar(field, raw), []
    except (ValueError, ArithmeticError):
        return None, [
            Problem.of(
                "value_invalid", field.key, index, where=where, caption=field.caption, value=shown(raw)
            )
        ]


def _polymorphic(
    ctx: SaveContext, field: Field, raw: Any, type_value: Any, where: str, index: int
) -> tuple[Any, list[Problem]]:
    """A 多类别基础资料 value: the target form is whatever its type field holds."""
    target = ctx.registry.get(str(type_value or ""))
    if target is None:
        return None, []  # the type field's own required / value check reports it
    record_id, problem = resolve_reference(ctx, field, raw, where, index, target=target)
    return record_id, [problem] if problem else []


@dataclass(frozen=True, slots=True)
class _FieldDefaults:
    """What a field set defaults to: the literal values a new header or row starts with (all
    immutable: text, numbers, dates, None), and the fields `complete_defaults` fills when empty —
    those whose default is not a plain literal already placed at creation, or is a status a client
    blanked out with `""`, as doc templates do."""

    literal: dict[str, Any]
    completed: tuple[tuple[str, Field], ...]


def _field_defaults(fields: dict[str, Field]) -> _FieldDefaults:
    return derived(fields, "defaults", _compute_defaults)


def _compute_defaults(fields: dict[str, Field]) -> _FieldDefaults:
    return _FieldDefaults(
        literal={key: default_value(field) for key, field in fields.items()},
        completed=tuple(
            (key, field)
            for key, field in fields.items()
            if field.default is not None and (field.dynamic_default or field.kind in ("ref", "status"))
        ),
    )


def _defaults(fields: dict[str, Field]) -> dict[str, Any]:
    return dict(_field_defaults(fields).literal)


def _parse_entries(
    ctx: SaveContext, draft: Draft, entity: Entity, raw: Any, update_only: set[str] | None
) -> list[dict[str, Any]]:
    existing_rows = draft.existing.entries.get(entity.key.upper(), []) if draft.existing else []
    by_id = {row.get(entity.pk.upper()): row for row in existing_rows}
    if raw is None:
        raw = []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        draft.problem("value_invalid", entity.key, where="", caption=entity.key, value=shown(raw))
        return list(existing_rows)
    pk, seq = entity.pk.upper(), entity.seq.upper()
    rows: list[dict[str, Any]] = []
    used: set[Any] = set()
    for position, item in enumerate(raw, start=1):
        where = entry_where(position)
        if not isinstance(item, dict):
            draft.problem("value_invalid", entity.key, where=where, caption=entity.key, value=shown(item))
            continue
        given_id = next((v for k, v in item.items() if str(k).upper() == pk), None)
        matched = by_id.get(_int_or_none(given_id))
        if matched is None and entity.single and existing_rows:
            matched = existing_rows[0]  # a 子单据头 has one row, whatever id the client sends
        row = dict(matched) if matched else {pk: None, **_defaults(entity.fields)}
        if matched:
            used.add(matched[pk])
        for key, value in item.items():
            upper = str(key).upper()
            if upper in (pk, seq, "FSEQ", "FENTRYSEQ"):
                continue
            field = entity.field(upper)
            if field is None:
                draft.problem("field_not_exist", str(key), key=key)
                continue
            if field.system or (update_only is not None and matched and upper not in update_only):
                continue
            parsed, problems = _value(ctx, draft.form, field, value, where, draft.index)
            draft.problems.extend(problems)
            row[upper] = parsed
        rows.append(row)
    if not ctx.options.is_delete_entry or entity.single:
        kept = [row for row in existing_rows if row.get(pk) not in used]
        rows = kept + rows
    return rows[:1] if entity.single else rows


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return None
    return number or None


def _update_set(form: Form, keys: tuple[str, ...]) -> set[str]:
    """NeedUpDateFields as upper-case keys; `FEntity.FQty` and a bare entry key also open FEntity."""
    chosen: set[str] = set()
    for key in keys:
        head, dot, rest = key.upper().partition(".")
        entity = form.entity(head) if dot else None
        if entity is not None:
            chosen.update((entity.key.upper(), rest))
            continue
        chosen.add(head)
        entry = form.entry_field(head)
        if entry is not None:
            chosen.add(entry[0].key.upper())
    return chosen


def _edit_refusal(ctx: SaveContext, form: Form, existing: Record) -> Problem | None:
    """Why an existing record cannot be saved (or drafted) again, if it cannot."""
    label = number_label(form, existing)
    conflict = lifecycle.lock_conflict(ctx, form, existing)
    if conflict is not None:
        return conflict
    status = existing.values.get("FDOCUMENTSTATUS")
    if status == "C":
        return Problem.of("record_audited", form.number, number=label, form_name=form.name)
    if status == "B":
        return Problem.of("record_submitted", form.number, number=label, form_name=form.name)
    if ctx.options.draft and form.has_document_status and status != "Z":
        return Problem.of("draft_not_allowed", form.number, number=label, form_name=form.name)
    return None


def parse_package(ctx: SaveContext, form: Form, model: Any, index: int) -> Draft:
    """One Model object → a Draft with merged values and every problem found."""
    draft = Draft(form, index, None, {}, {})
    if not isinstance(model, dict):
        draft.problem("model_not_object")
        return draft
    pk_raw = next((v for k, v in model.items() if str(k).upper() == form.pk.upper()), None)
    if pk_raw not in (None, 0, "", "0"):
        existing = _existing(ctx, form, pk_raw)
        if existing is None:
            draft.problem("record_not_found", form.pk, id=shown(pk_raw), form_name=form.name)
            return draft
        refusal = _edit_refusal(ctx, form, existing)
        if refusal is not None:
            draft.problems.append(refusal.at(index))
            return draft
        draft.existing = existing
        draft.values = dict(existing.values)
        draft.entries = {key: [dict(row) for row in rows] for key, rows in existing.entries.items()}
    else:
        draft.values = _defaults(form.fields)
        draft.entries = {key: [] for key in form.entities}
    need_update = ctx.options.need_update_fields
    update_only = _update_set(form, need_update) if draft.existing and need_update else None
    deferred: list[tuple[Field, Any]] = []
    for key, raw in model.items():
        upper = str(key).upper()
        if upper == form.pk.upper():
            continue
        entity = form.entity(upper)
        if entity is not None:
            if update_only is None or upper in update_only:
                draft.entries[entity.key.upper()] = _parse_entries(ctx, draft, entity, raw, update_only)
            continue
        field = form.field(upper)
        if field is None:
            draft.problem("field_not_exist", str(key), key=key)
            continue
        if field.system or (update_only is not None and upper not in update_only):
            continue
        if field.polymorphic:
            deferred.append((field, raw))  # its type field may come later in the Model
            continue
        parsed, problems = _value(ctx, form, field, raw, "", index)
        draft.problems.extend(problems)
        draft.values[upper] = parsed
    for field, raw in deferred:
        type_value = draft.values.get((field.type_field or "").upper())
        parsed, problems = _polymorphic(ctx, field, raw, type_value, "", index)
        draft.problems.extend(problems)
        draft.values[field.key.upper()] = parsed
    complete_defaults(ctx, draft)
    if ctx.options.draft:
        draft.problems = [p for p in draft.problems if p.key not in _DRAFT_TOLERATED]
    return draft


def _existing(ctx: SaveContext, form: Form, raw: Any) -> Record | None:
    record_id = as_id(form, raw)
    return ctx.store.get(form, record_id) if record_id is not None else None


# --- defaults filled after parsing ----------------------------------------------------------------


def complete_defaults(ctx: SaveContext, draft: Draft) -> None:
    """Fill empty fields whose default is a reference or depends on other values (`@org`, `=FDATE`).

    A 子单据头 that the Model left out gets its one row here, so its required fields default too.
    """
    form = draft.form
    for key, field in _field_defaults(form.fields).completed:
        if is_empty(field, draft.values.get(key)):
            draft.values[key] = _default_for(ctx, form, field, draft.values)
    for entity_key, entity in form.entities.items():
        rows = draft.entries.setdefault(entity_key, [])
        if entity.single and not rows:
            rows.append({entity.pk.upper(): None, **_defaults(entity.fields)})
        completed = _field_defaults(entity.fields).completed
        for row in rows:
            for key, field in completed:
                if is_empty(field, row.get(key)):
                    row[key] = _default_for(ctx, form, field, draft.values)


def _default_for(ctx: SaveContext, form: Form, field: Field, header: dict[str, Any]) -> Any:
    token = str(field.default)
    if not field.dynamic_default and field.kind != "ref":
        return default_value(field)
    if token.startswith("="):
        return header.get(token[1:].upper())
    if token == "@org":
        number = ctx.store.meta("org_num")
        return (
            ctx.store.find_number(ctx.form("ORG_Organizations"), str(number)) if number is not None else None
        )
    if token == "@accttable":  # the data centre's first 科目表 (the main book's chart)
        tables = ctx.store.records(ctx.form("BD_ACCOUNTTABLE"))
        return tables[0].id if tables else None
    if token == "@currency":
        books = ctx.store.records(ctx.form("BD_AccountBook"))
        return books[0].values.get("FCURRENCYID") if books else None
    if token == "@billtype":
        types = [
            r
            for r in ctx.store.records(ctx.form("BOS_BillType"))
            if str(r.values.get("FBILLFORMID", "")).upper() == form.form_id.upper()
        ]
        chosen = next((r for r in types if r.values.get("FISDEFAULT")), types[0] if types else None)
        return chosen.id if chosen is not None else None
    target = ctx.form(field.form or "")
    record = find_record(ctx, target, Lookup(target.number or "FNumber", token))
    return record.id if record is not None else None


# --- checks ---------------------------------------------------------------------------------------


def check_package(ctx: SaveContext, draft: Draft) -> None:
    """Required fields, the form's rules, allocation to the bill's organisation, unique number.

    A Draft only keeps the number unique (the one index that must never hold two records).
    """
    form = draft.form
    if not ctx.options.draft:
        _check_required(draft)
        hook_of(form).validate(ctx, draft)
        allocation.check_references(ctx, draft)
    if form.number:
        number = str(draft.values.get(form.number.upper()) or "").strip()
        if number:
            probe = Record(form.form_id, draft.record_id or 0, draft.values)
            holder = ctx.store.find_number(form, number, scope_of(form, probe))
            if holder is not None and holder != draft.record_id:
                draft.problem("duplicate_number", form.number, number=number)


def _check_required(draft: Draft) -> None:
    form = draft.form
    for key, field in derived(form.fields, "required_header", _required_header):
        if is_empty(field, draft.values.get(key)) and not _already_reported(draft, field.key):
            draft.problem("field_required", field.key, where="", caption=field.caption)
    for entity_key, rows in draft.entries.items():
        entity = form.entities[entity_key]
        required = derived(entity.fields, "required", _required)
        for position, row in enumerate(rows, start=1):
            where = "" if entity.single else entry_where(position)
            for key, field in required:
                if is_empty(field, row.get(key)) and not _already_reported(draft, field.key):
                    draft.problem("field_required", field.key, where=where, caption=field.caption)


def _required_header(fields: dict[str, Field]) -> tuple[tuple[str, Field], ...]:
    """Required header fields a client fills (system fields are the server's to fill)."""
    return tuple((key, field) for key, field in fields.items() if field.required and not field.system)


def _required(fields: dict[str, Field]) -> tuple[tuple[str, Field], ...]:
    return tuple((key, field) for key, field in fields.items() if field.required)


def _already_reported(draft: Draft, field_key: str) -> bool:
    return any(p.field_name == field_key for p in draft.problems)


def _digest(form: Form, model: Any) -> str:
    """The identity of a JSON package for ValidateRepeatJson: canonical JSON, SHA-256."""
    text = jsonutil.dumps({"form": form.form_id.upper(), "model": model}, canonical=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _repeat_problem(ctx: SaveContext, form: Form, digest: str, index: int) -> Problem | None:
    earlier = ctx.store.saved_package(form, digest)
    if earlier is None:
        return None
    record_id, saved_at = earlier
    record = ctx.store.get(form, int(record_id) if form.id_kind == "int" else record_id)
    number = number_label(form, record) if record is not None else record_id
    return Problem.of("repeat_json", None, index, saved_at=saved_at, form_name=form.name, number=number)


# --- writing --------------------------------------------------------------------------------------


def write_package(ctx: SaveContext, draft: Draft, digest: str | None = None) -> Record:
    """Give a valid draft its ids and numbers and commit it."""
    form = draft.form
    hook = hook_of(form)
    drafting = ctx.options.draft
    with ctx.store.transaction() as tx:
        record_id = draft.existing.id if draft.existing else tx.new_id(form)
        for entity_key, rows in draft.entries.items():
            entity = form.entities[entity_key]
            for position, row in enumerate(rows, start=1):
                if not row.get(entity.pk.upper()):
                    row[entity.pk.upper()] = tx.next_value(f"entry:{form.form_id.upper()}.{entity_key}")
                row[entity.seq.upper()] = position
                for key, field in entity.fields.items():
                    if field.kind == "flex" and row.get(key):
                        row[key] = {"id": tx.flex_id(row[key]["dims"]), "dims": row[key]["dims"]}
        values = draft.values
        if not drafting:
            hook.assign(ctx, tx, draft)
            number_key = form.number.upper() if form.number else None
            if number_key and form.number_format and not str(values.get(number_key) or "").strip():
                values[number_key] = next_number(ctx.store, tx, form)
        _stamp(ctx, form, draft, record_id)
        record = Record(form.form_id, record_id, values, draft.entries)
        tx.put(form, record)
        if not drafting:
            hook.after_put(ctx, tx, record)
        if digest is not None:
            tx.remember_package(form, digest, record_id, format_datetime(ctx.now))
    return record


def _stamp(ctx: SaveContext, form: Form, draft: Draft, record_id: RecordId) -> None:
    """Who and when, the master id of shareable base data, and the document status."""
    values = draft.values
    if draft.existing is None:
        for key, value in (("FCREATEDATE", ctx.now), ("FCREATORID", ctx.user), ("FMASTERID", record_id)):
            if key in form.fields and not values.get(key):
                values[key] = value
    for key, value in (("FMODIFYDATE", ctx.now), ("FMODIFIERID", ctx.user)):
        if key in form.fields:
            values[key] = value
    if form.has_document_status:
        if ctx.options.draft:
            values["FDOCUMENTSTATUS"] = "Z"
        elif values.get("FDOCUMENTSTATUS") in (None, "", "Z"):
            values["FDOCUMENTSTATUS"] = "A"


def save_one(ctx: SaveContext, form: Form, model: Any, index: int) -> tuple[Record | None, list[Problem]]:
    """Save (or draft) one package; with IsAutoSubmitAndAudit also submit and audit it.

    Returns the written record (or None) and the problems; both are set when the bill was saved
    but its automatic submit/audit was refused — the bill stays saved, as on a real server.
    """
    digest = _digest(form, model)
    if ctx.options.validate_repeat_json:
        repeat = _repeat_problem(ctx, form, digest, index)
        if repeat is not None:
            return None, [repeat]
    draft = parse_package(ctx, form, model, index)
    if not draft.problems:
        check_package(ctx, draft)
    if draft.problems:
        return None, draft.problems
    record = write_package(ctx, draft, None if ctx.options.draft else digest)
    if not ctx.options.auto_audit or not form.has_document_status:
        return record, []
    for operation in ("Submit", "Audit"):
        record, problem = lifecycle.apply(ctx, form, record, lifecycle.TRANSITIONS[operation])
        if problem is not None:
            return record, [problem.at(index)]
    return record, []


def number_of(form: Form, record: Record) -> str:
    return str(record.values.get(form.number.upper(), "") or "") if form.number else ""


def return_data(ctx: SaveContext, form: Form, record: Record) -> dict[str, Any]:
    """NeedReturnData for one saved package: the requested keys, entry keys grouped per entity."""
    out: dict[str, Any] = {}
    for requested in ctx.options.need_return_fields:
        key = requested
        head, _, rest = requested.partition(".")
        entity = form.entity(head)
        if entity is not None and rest:
            key = f"{entity.key}_{rest}"
        try:
            accessor = query.resolve_key(ctx.registry, form, key)
        except query.UnknownField:
            continue
        if accessor.entity is None:
            out[requested] = accessor.output(ctx.store, record, None)
        else:
            rows = record.entries.get(accessor.entity.key.upper(), [])
            target = out.setdefault(accessor.entity.key, [{} for _ in rows])
            label = rest if entity is not None and rest else requested
            for slot, row in zip(target, rows, strict=False):
                slot[label] = accessor.output(ctx.store, record, row)
    return out


def save(ctx: SaveContext, form: Form, data: dict[str, Any]) -> dict[str, Any]:
    """The Save (and Draft) service: one Model object (§6.1, §6.3)."""
    model = model_of(data)
    if isinstance(model, list):
        raise ParameterProblem(Problem.of("model_not_object"))
    with ctx.store.lock:
        record, problems = save_one(ctx, form, model, 0)
        if record is None:
            return {"Result": {"ResponseStatus": response_status(problems)}}
        number = number_of(form, record)
        status = response_status(problems, [success_entity(record.id, number, 0)])
        return {
            "Result": {
                "ResponseStatus": status,
                "Id": record.id,
                "Number": number,
                "NeedReturnData": [return_data(ctx, form, record)],
            }
        }


def batch_save(ctx: SaveContext, form: Form, data: dict[str, Any]) -> dict[str, Any]:
    """The BatchSave service: a Model array, one result per package matched by DIndex (§6.2)."""
    model = model_of(data)
    packages = model if isinstance(model, list) else [model]
    problems: list[Problem] = []
    successes: list[dict[str, Any]] = []
    returned: list[dict[str, Any]] = []
    with ctx.store.lock:
        for index, package in enumerate(packages):
            record, package_problems = save_one(ctx, form, package, index)
            problems.extend(package_problems)
            if record is None:
                continue
            successes.append(success_entity(record.id, number_of(form, record), index))
            returned.append(return_data(ctx, form, record))
    return {"Result": {"ResponseStatus": response_status(problems, successes), "NeedReturnData": returned}}

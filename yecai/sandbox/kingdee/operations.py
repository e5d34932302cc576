"""Save, BatchSave and the Forbid/Enable operation, generic over the form metadata.

Each data package is parsed against the form, checked (required fields, references, unique
number, the form's hook), and only then given ids and numbers and written in its own transaction —
so a BatchSave can succeed for some packages and fail for others (matched by DIndex, §6.2), and a
refused package never consumes a voucher number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yecai.sandbox.kingdee import messages, query
from yecai.sandbox.kingdee.accounts import AccountHook
from yecai.sandbox.kingdee.drafts import Draft, FormHook, SaveContext, SaveOptions, entry_where
from yecai.sandbox.kingdee.envelopes import Problem, response_status, success_entity
from yecai.sandbox.kingdee.forms import Entity, Field, Form
from yecai.sandbox.kingdee.references import resolve_flex, resolve_reference, shown
from yecai.sandbox.kingdee.store import Record, RecordId, scope_of
from yecai.sandbox.kingdee.values import default_value, is_empty, parse_scalar, to_bool
from yecai.sandbox.kingdee.vouchers import VoucherHook

HOOKS: dict[str, FormHook] = {"voucher": VoucherHook(), "account": AccountHook()}


class ParameterProblem(Exception):
    """The `data` package itself is unusable (MsgCode 8 family)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _flag(data: dict[str, Any], name: str, default: bool) -> bool:
    raw = _get(data, name)
    if raw is None or raw == "":
        return default
    try:
        return to_bool(raw)
    except ValueError as exc:
        raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw))) from exc


def _keys(data: dict[str, Any], name: str) -> tuple[str, ...]:
    raw = _get(data, name)
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(item.strip() for item in raw if item.strip())
    raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw)))


def _get(data: dict[str, Any], name: str) -> Any:
    """Parameter names are matched case-insensitively [INF, §3.1]."""
    lowered = name.lower()
    return next((value for key, value in data.items() if str(key).lower() == lowered), None)


def save_options(data: dict[str, Any]) -> SaveOptions:
    batch_count = _get(data, "BatchCount")
    if batch_count not in (None, ""):
        try:
            int(str(batch_count))
        except ValueError as exc:
            raise ParameterProblem(
                Problem.of("parameter_invalid", name="BatchCount", value=shown(batch_count))
            ) from exc
    return SaveOptions(
        need_update_fields=_keys(data, "NeedUpDateFields"),
        need_return_fields=_keys(data, "NeedReturnFields"),
        is_delete_entry=_flag(data, "IsDeleteEntry", True),
        verify_base_data=_flag(data, "IsVerifyBaseDataField", False),
        auto_audit=_flag(data, "IsAutoSubmitAndAudit", False),
    )


def model_of(data: dict[str, Any]) -> Any:
    model = _get(data, "Model")
    if model is None or model == "" or model == []:
        raise ParameterProblem(Problem.of("model_missing"))
    return model


# --- parsing one package --------------------------------------------------------------------------


def _value(ctx: SaveContext, field: Field, raw: Any, where: str, index: int) -> tuple[Any, list[Problem]]:
    if field.kind == "ref":
        record_id, problem = resolve_reference(ctx, field, raw, where, index)
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


def _defaults(fields: dict[str, Field]) -> dict[str, Any]:
    return {key: default_value(field) for key, field in fields.items()}


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
            parsed, problems = _value(ctx, field, value, where, draft.index)
            draft.problems.extend(problems)
            row[upper] = parsed
        rows.append(row)
    if not ctx.options.is_delete_entry:
        kept = [row for row in existing_rows if row.get(pk) not in used]
        rows = kept + rows
    return rows


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return None
    return number or None


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
        if existing.values.get("FDOCUMENTSTATUS") == "C":
            number = existing.values.get(form.number.upper(), "") if form.number else existing.id
            draft.problem("record_audited", form.number, number=number, form_name=form.name)
            return draft
        draft.existing = existing
        draft.values = dict(existing.values)
        draft.entries = {key: [dict(row) for row in rows] for key, rows in existing.entries.items()}
    else:
        draft.values = _defaults(form.fields)
        draft.entries = {key: [] for key in form.entities}
    update_only = (
        {key.upper() for key in ctx.options.need_update_fields}
        if draft.existing and ctx.options.need_update_fields
        else None
    )
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
        parsed, problems = _value(ctx, field, raw, "", index)
        draft.problems.extend(problems)
        draft.values[upper] = parsed
    return draft


def _existing(ctx: SaveContext, form: Form, raw: Any) -> Record | None:
    record_id: RecordId | None = str(raw).strip().lower() if form.id_kind == "hex" else _int_or_none(raw)
    return ctx.store.get(form, record_id) if record_id is not None else None


def check_package(ctx: SaveContext, draft: Draft) -> None:
    """Required fields, unique number and the form's own rules."""
    form = draft.form
    for key, field in form.fields.items():
        missing = field.required and not field.system and is_empty(field, draft.values.get(key))
        if missing and not _already_reported(draft, field.key):
            draft.problem("field_required", field.key, where="", caption=field.caption)
    for entity_key, rows in draft.entries.items():
        entity = form.entities[entity_key]
        for position, row in enumerate(rows, start=1):
            for key, field in entity.fields.items():
                if (
                    field.required
                    and is_empty(field, row.get(key))
                    and not _already_reported(draft, field.key)
                ):
                    draft.problem(
                        "field_required", field.key, where=entry_where(position), caption=field.caption
                    )
    hook = HOOKS.get(form.hook or "")
    if hook is not None:
        hook.validate(ctx, draft)
    if form.number:
        number = str(draft.values.get(form.number.upper()) or "").strip()
        if number:
            probe = Record(form.form_id, draft.record_id or 0, draft.values)
            holder = ctx.store.find_number(form, number, scope_of(form, probe))
            if holder is not None and holder != draft.record_id:
                draft.problem("duplicate_number", form.number, number=number)


def _already_reported(draft: Draft, field_key: str) -> bool:
    return any(p.field_name == field_key for p in draft.problems)


def write_package(ctx: SaveContext, draft: Draft) -> Record:
    """Give a valid draft its ids and numbers and commit it."""
    form = draft.form
    hook = HOOKS.get(form.hook or "")
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
        if hook is not None:
            hook.assign(ctx, tx, draft)
        if draft.existing is None:
            if "FCREATEDATE" in form.fields:
                values["FCREATEDATE"] = ctx.now
            for org_key in ("FCREATEORGID", "FUSEORGID"):
                if org_key in form.fields and not values.get(org_key):
                    values[org_key] = _default_org(ctx)
        if "FMODIFYDATE" in form.fields:
            values["FMODIFYDATE"] = ctx.now
        if form.has_document_status and (ctx.options.auto_audit or not values.get("FDOCUMENTSTATUS")):
            values["FDOCUMENTSTATUS"] = "C" if ctx.options.auto_audit else "A"
        record = Record(form.form_id, record_id, values, draft.entries)
        tx.put(form, record)
        if hook is not None:
            hook.after_put(ctx, tx, record)
    return record


def _default_org(ctx: SaveContext) -> RecordId | None:
    org_form = ctx.form("ORG_Organizations")
    number = ctx.store.meta("org_num")
    return ctx.store.find_number(org_form, str(number)) if number is not None else None


def save_one(ctx: SaveContext, form: Form, model: Any, index: int) -> tuple[Record | None, list[Problem]]:
    draft = parse_package(ctx, form, model, index)
    if not draft.problems:
        check_package(ctx, draft)
    if draft.problems:
        return None, draft.problems
    return write_package(ctx, draft), []


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
    """The Save service: one Model object (§6.1)."""
    model = model_of(data)
    if isinstance(model, list):
        raise ParameterProblem(Problem.of("model_not_object"))
    with ctx.store.lock:
        record, problems = save_one(ctx, form, model, 0)
        if record is None:
            return {"Result": {"ResponseStatus": response_status(problems)}}
        number = number_of(form, record)
        status = response_status([], [success_entity(record.id, number, 0)])
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
            if record is None:
                problems.extend(package_problems)
                continue
            successes.append(success_entity(record.id, number_of(form, record), index))
            returned.append(return_data(ctx, form, record))
    return {"Result": {"ResponseStatus": response_status(problems, successes), "NeedReturnData": returned}}


def forbid_or_enable(ctx: SaveContext, form: Form, operation: str, data: dict[str, Any]) -> dict[str, Any]:
    """ExcuteOperation Forbid/Enable (禁用/反禁用) on base data, by Numbers or Ids (§6.8, §7.5)."""
    if not form.has_forbid_status:
        return {
            "Result": {
                "ResponseStatus": response_status(
                    [Problem.of("operation_not_supported", form_id=form.form_id, operation=operation)]
                )
            }
        }
    status = "B" if operation.lower() == "forbid" else "A"
    numbers = _get(data, "Numbers") or []
    ids = _get(data, "Ids") or ""
    if isinstance(numbers, str):
        numbers = [numbers]
    id_texts = [part.strip() for part in str(ids).split(",") if part.strip()]
    successes: list[dict[str, Any]] = []
    with ctx.store.lock:
        targets: list[Record] = []
        for number in numbers:
            found = [
                r for r in ctx.store.records(form) if number_of(form, r).casefold() == str(number).casefold()
            ]
            targets.extend(found)
        for text in id_texts:
            record = _existing(ctx, form, text)
            if record is not None:
                targets.append(record)
        seen: set[RecordId] = set()
        for index, record in enumerate(targets):
            if record.id in seen:
                continue
            seen.add(record.id)
            updated = record.copy()
            updated.values["FFORBIDSTATUS"] = status
            if "FMODIFYDATE" in form.fields:
                updated.values["FMODIFYDATE"] = ctx.now
            with ctx.store.transaction() as tx:
                tx.put(form, updated)
            successes.append(success_entity(record.id, number_of(form, record), index))
    if not successes:
        problem = Problem.of("operation_nothing_selected", operation=operation)
        return {"Result": {"ResponseStatus": response_status([problem])}}
    done = {"FieldName": None, "Message": messages.text("operation_done", operation=operation), "DIndex": 0}
    return {"Result": {"ResponseStatus": response_status([], successes, [done])}}

"""View (查看): one bill or base-data record serialised the way the ORM does, not by field key.

A real View answers `{"Result":{"ResponseStatus":null,"Result":{…}}}` with ORM property names
(§6.5). The sandbox derives them systematically [INF]: the field key without its leading `F`
(`FBillNo` → `BillNo`, `FDocumentStatus` → `DocumentStatus`, `FEntity` → `Entity`); the PK is
`Id`, an entry row's id `Id` and its row number `Seq`. References are nested objects
`{Id, Number, Name}` plus `<Prop>_Id`; 名称-like texts are `[{"Key":2052,"Value":…}]` and are
gathered again under `MultiLanguageText`; dimension values keep their `FDETAILID__<flex>` keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yecai.sandbox.kingdee import params
from yecai.sandbox.kingdee.drafts import SaveContext
from yecai.sandbox.kingdee.envelopes import Problem, response_status
from yecai.sandbox.kingdee.forms import Entity, Field, Form
from yecai.sandbox.kingdee.lifecycle import select
from yecai.sandbox.kingdee.references import FLEX_PREFIX
from yecai.sandbox.kingdee.store import Record, RecordId, Store
from yecai.sandbox.kingdee.values import format_datetime

LOCALE_ID = 2052


def property_name(key: str) -> str:
    """The ORM property of a field or entity key: the key without its leading `F` [INF]."""
    return key[1:] if len(key) > 1 and key[0] in "Ff" else key


def view(ctx: SaveContext, form: Form, data: dict[str, Any]) -> dict[str, Any]:
    """The View service: by `Id` (internal id) or `Number`; MsgCode 10 when there is no such record."""
    record_id = params.get(data, "Id")
    number = params.get(data, "Number")
    with ctx.store.lock:
        if record_id not in (None, "", 0, "0"):
            records, _ = select(ctx, form, {"Ids": str(record_id)})
            missing = Problem.of("record_not_found", None, id=str(record_id), form_name=form.name)
        elif number not in (None, ""):
            records, _ = select(
                ctx, form, {"Numbers": [str(number)], "UseOrgId": params.get(data, "UseOrgId")}
            )
            missing = Problem.of("record_number_not_found", None, number=str(number), form_name=form.name)
        else:
            return failure(Problem.of("view_key_missing"))
        if not records:
            return failure(missing)
        sort = params.flag(data, "IsSortBySeq", False)
        return {"Result": {"ResponseStatus": None, "Result": serialise(ctx.store, form, records[0], sort)}}


def failure(problem: Problem) -> dict[str, Any]:
    """View's refusal: the failure status beside a null `Result`."""
    return {"Result": {"ResponseStatus": response_status([problem]), "Result": None}}


def serialise(store: Store, form: Form, record: Record, sort_by_seq: bool = False) -> dict[str, Any]:
    """The ORM object of one record."""
    out: dict[str, Any] = {"Id": record.id}
    texts: dict[str, str] = {}
    for key, field in form.fields.items():
        out.update(_properties(store, field, record.values.get(key), record.values, texts))
    for entity_key, entity in form.entities.items():
        rows = record.entries.get(entity_key, [])
        if sort_by_seq:
            rows = sorted(rows, key=lambda row: row.get(entity.seq.upper()) or 0)
        out[property_name(entity.key)] = [_row(store, entity, row, record.values) for row in rows]
    if texts:
        out["MultiLanguageText"] = [{"PkId": record.id, "LocaleId": LOCALE_ID, **texts}]
    return out


def _row(store: Store, entity: Entity, row: dict[str, Any], header: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": row.get(entity.pk.upper()), "Seq": row.get(entity.seq.upper())}
    for key, field in entity.fields.items():
        out.update(_properties(store, field, row.get(key), header, None))
    return out


def _properties(
    store: Store, field: Field, value: Any, header: dict[str, Any], texts: dict[str, str] | None
) -> dict[str, Any]:
    prop = property_name(field.key)
    if field.kind == "ref":
        type_value = header.get((field.type_field or "").upper()) if field.polymorphic else field.form
        target = store.registry.get(str(type_value or ""))
        empty: RecordId = "" if target is not None and target.id_kind == "hex" else 0
        nested = _nested(store, target, value) if target is not None and value not in (None, 0, "") else None
        return {prop: nested, f"{prop}_Id": value if nested is not None else empty}
    if field.kind == "flex":
        return {prop: _flex(store, value), f"{prop}_Id": (value or {}).get("id") or 0}
    if field.multilang:
        text = str(value or "")
        if texts is not None:
            texts[prop] = text
        return {prop: [{"Key": LOCALE_ID, "Value": text}]}
    if isinstance(value, datetime):
        return {prop: format_datetime(value)}
    return {prop: value}


def _nested(store: Store, target: Form, record_id: Any) -> dict[str, Any] | None:
    """A referenced record as View nests it: its id, number and (multi-language) name."""
    record = store.get(target, record_id)
    if record is None:
        return None
    number = record.values.get(target.number.upper(), "") if target.number else ""
    name = record.values.get(target.name_field.upper(), "")
    return {"Id": record.id, "Number": number, "Name": [{"Key": LOCALE_ID, "Value": str(name or "")}]}


def _flex(store: Store, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {"Id": value.get("id") or 0}
    for key, dim_id in value.get("dims", {}).items():
        dimension = store.registry.dimension(key)
        target = store.registry.get(dimension.form) if dimension else None
        name = FLEX_PREFIX + (dimension.key if dimension else key)
        out[name] = _nested(store, target, dim_id) if target is not None else None
        out[f"{name}_Id"] = dim_id
    return out

"""Resolving base-data references in a Save Model: `{"FNumber": "1002.01"}` → internal id.

A reference names the target by any of its fields (`FNumber`, `FNUMBER`, `FStaffNumber`, the
target's own id key, …, §6 conventions); numbers compare case-insensitively. Dimension values
(FDetailID.FDETAILID__<flex>) are references too, scoped to their assistant-data category.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from yecai.jsonutil import dumps
from yecai.sandbox.kingdee.drafts import SaveContext
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.forms import Dimension, Field, Form
from yecai.sandbox.kingdee.store import Record, RecordId, number_key

FLEX_PREFIX = "FDETAILID__"
ASSISTANT_CATEGORY_FORM = "BOS_ASSISTANTDATA"


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a Model reference asks for: the target field key and the value it must have."""

    key: str
    value: Any


def shown(raw: Any) -> str:
    """A raw value as messages quote it."""
    if isinstance(raw, str):
        return raw
    try:
        return dumps(raw)
    except TypeError:
        return str(raw)


def reference_lookup(target: Form, raw: Any) -> Lookup | None:
    """The lookup a Model value asks for; None for an empty reference. ValueError if malformed."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        for key, value in raw.items():
            if value is None or (isinstance(value, str) and value.strip() == ""):
                continue
            if str(key).upper() == target.pk.upper() and value in (0, "0"):
                continue
            return Lookup(str(key), value)
        return None
    if isinstance(raw, (bool, list)):
        raise ValueError("reference expected")
    if isinstance(raw, int | Decimal):
        return None if raw == 0 else Lookup(target.pk, raw)
    if isinstance(raw, str):
        return None if raw.strip() == "" else Lookup(target.number or "FNumber", raw)
    raise ValueError("reference expected")


def find_record(
    ctx: SaveContext, target: Form, lookup: Lookup, scope: dict[str, Any] | None = None
) -> Record | None:
    """The target record the lookup names, within `scope` (header key → required value).

    Remembered for the rest of the call while no record of the target form changes; only text
    values are remembered (a number's lookup depends on how it prints, not just its value).
    """
    memo_key: Any = None
    if type(lookup.value) is str:
        try:
            memo_key = (target.form_id.upper(), lookup.key, lookup.value, *(scope or {}).items())
            hash(memo_key)
        except TypeError:
            memo_key = None
    if memo_key is None:
        return _find_record(ctx, target, lookup, scope)
    generation = ctx.store.generation(target)
    remembered = ctx.lookups.get(memo_key)
    if remembered is not None and remembered[0] == generation:
        return remembered[1]
    record = _find_record(ctx, target, lookup, scope)
    ctx.lookups[memo_key] = (generation, record)
    return record


def _find_record(
    ctx: SaveContext, target: Form, lookup: Lookup, scope: dict[str, Any] | None = None
) -> Record | None:
    store = ctx.store
    key = lookup.key.upper()
    if key in (target.pk.upper(), "ID"):
        record_id = as_id(target, lookup.value)
        record = store.get(target, record_id) if record_id is not None else None
        return record if record is not None and _in_scope(record, scope) else None
    if target.number and key == target.number.upper():
        upper_scope = {k.upper(): v for k, v in (scope or {}).items()}
        if target.unique_within and all(k.upper() in upper_scope for k in target.unique_within):
            wanted = tuple(upper_scope[k.upper()] for k in target.unique_within)
            found = store.find_number(target, shown(lookup.value), wanted)
            record = store.get(target, found) if found is not None else None
            return record if record is not None and _in_scope(record, scope) else None
        for holder in store.holders(target, shown(lookup.value)):
            record = store.get(target, holder)
            if record is not None and _in_scope(record, scope):
                return record
        return None
    field = target.field(lookup.key)
    if field is None or field.kind in ("ref", "flex"):
        return None
    expected = number_key(shown(lookup.value))
    for record in store.records(target):
        value = record.values.get(field.key.upper())
        if value is not None and number_key(shown(value)) == expected and _in_scope(record, scope):
            return record
    return None


def as_id(target: Form, value: Any) -> RecordId | None:
    """An internal id as the form keys its records (int, or 14 hex digits for assistant data)."""
    if target.id_kind == "hex":
        return str(value).strip().lower()
    try:
        return int(Decimal(str(value).strip()))
    except (ArithmeticError, ValueError):
        return None


def _in_scope(record: Record, scope: dict[str, Any] | None) -> bool:
    return all(_same_value(record.values.get(key.upper()), value) for key, value in (scope or {}).items())


def _same_value(held: Any, wanted: Any) -> bool:
    if isinstance(held, str) and isinstance(wanted, str):
        return held.casefold() == wanted.casefold()
    return bool(held == wanted)


def resolve_reference(
    ctx: SaveContext,
    field: Field,
    raw: Any,
    where: str,
    index: int,
    *,
    strict: bool = False,
    scope: dict[str, Any] | None = None,
    message_prefix: str = "base_data",
    target: Form | None = None,
) -> tuple[RecordId | None, Problem | None]:
    """(internal id, None) for a resolvable or empty reference, else (None, problem).

    Forbidden targets are refused (§6.1: "forbidden = not found") when `strict`, when the client
    asked IsVerifyBaseDataField, or always under `SandboxSettings.refuse_forbidden_references`;
    unaudited ones when the sandbox is set to require audit. `target` overrides the field's form
    (polymorphic references).
    """
    target = target or ctx.form(field.form or "")
    try:
        lookup = reference_lookup(target, raw)
    except ValueError:
        return None, Problem.of(
            "value_invalid", field.key, index, where=where, caption=field.caption, value=shown(raw)
        )
    if lookup is None:
        return None, None
    record = find_record(ctx, target, lookup, scope)
    if record is None:
        refusal = f"{message_prefix}_not_found"
    elif record.values.get("FFORBIDSTATUS") == "B" and (
        strict or ctx.options.verify_base_data or ctx.settings.refuse_forbidden_references
    ):
        refusal = f"{message_prefix}_forbidden"
    elif (
        ctx.settings.require_audited_base_data
        and target.has_document_status
        and record.values.get("FDOCUMENTSTATUS") != "C"
    ):
        refusal = "base_data_unaudited"
    else:
        return record.id, None
    # Only a refusal quotes the value (most references resolve; `shown` is not free).
    values = {"where": where, "caption": field.caption, "value": shown(lookup.value)}
    return None, Problem.of(refusal, field.key, index, **values)


def dimension_scope(ctx: SaveContext, dimension: Dimension) -> dict[str, Any] | None:
    """Assistant-data dimensions only accept values of their own category (e.g. XM01 项目)."""
    if not dimension.category:
        return None
    category_form = ctx.form(ASSISTANT_CATEGORY_FORM)
    category_id = ctx.store.find_number(category_form, dimension.category)
    return {"FId": category_id if category_id is not None else ""}


@lru_cache(maxsize=1024)
def _dimension_field(key: str, dimension: Dimension) -> Field:
    """The reference field a dimension value of FDetailID is resolved as (one per key, not per line)."""
    return Field(key=key, kind="ref", caption=dimension.name, form=dimension.form)


def resolve_flex(
    ctx: SaveContext, field: Field, raw: Any, where: str, index: int
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """FDetailID `{"FDETAILID__FF100001": {"FNumber": …}, …}` → `{"id": None, "dims": {key: id}}`.

    Inner keys must carry the `FDETAILID__` prefix; bare slot names and arrays are refused, as a
    real tenant refuses them. Dimension values are always checked for existence and forbid status.
    """
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [
            Problem.of(
                "value_invalid", field.key, index, where=where, caption=field.caption, value=shown(raw)
            )
        ]
    problems: list[Problem] = []
    dims: dict[str, RecordId] = {}
    for key, value in raw.items():
        upper = str(key).upper()
        dimension = (
            ctx.registry.dimension(upper[len(FLEX_PREFIX) :]) if upper.startswith(FLEX_PREFIX) else None
        )
        if dimension is None:
            problems.append(Problem.of("field_not_exist", field.key, index, key=key))
            continue
        dim_field = _dimension_field(str(key), dimension)
        record_id, problem = resolve_reference(
            ctx,
            dim_field,
            value,
            where,
            index,
            strict=True,
            scope=dimension_scope(ctx, dimension),
            message_prefix="dimension",
        )
        if problem is not None:
            problems.append(problem.on(field.key).at(index))
        elif record_id is not None:
            dims[dimension.key.upper()] = record_id
    return ({"id": None, "dims": dims} if dims else None), problems

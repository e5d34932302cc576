"""ExecuteBillQuery and BillQuery (§6.6): field keys, filters, ordering and paging over a form.

Field keys are resolved against the metadata: header keys, the PK, entry keys (bare or as
`<Entity>_<Key>`), dotted reference paths (`FACCOUNTID.FNumber`, `FDetailID.FF100001.FDataValue`,
`FCONTACTUNIT.FName` through a polymorphic reference). Using any entry field turns the result into
one row per entry line (header values repeat), as the server's SQL join does; bills without entries
still give one row (left join). Fields of a 子单据头 (one-row entity) read like header fields.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal
from typing import Any

from yecai.sandbox.kingdee import filters
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.forms import Dimension, Entity, Field, Form, FormRegistry
from yecai.sandbox.kingdee.references import shown
from yecai.sandbox.kingdee.store import ALWAYS, Record, Store
from yecai.sandbox.kingdee.values import format_datetime

MAX_LIMIT = 10000
_ENTRY_SEQ_ALIASES = ("FSEQ", "FENTRYSEQ")


class UnknownField(Exception):
    """A key the form's metadata does not have; `key` is what the server names in its message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class QueryProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Hop:
    """One step along a dotted key.

    A dimension hop picks one dimension's value id out of an FDetailID combination; a polymorphic
    hop finds its form in the header field `type_key` and reads `field_key` there; any other hop
    follows a reference id into `form` and reads `field` there (None: the target's own id).
    """

    form: Form | None
    field: Field | None
    dimension: Dimension | None = None
    type_key: str | None = None
    field_key: str | None = None


@dataclass(slots=True)
class Accessor:
    """How to read one field key from a record (and entry row)."""

    key: str
    entity: Entity | None
    base: str  # "pk" | "field" | "entry_pk" | "entry_seq"
    field: Field | None
    hops: list[Hop] = dataclass_field(default_factory=list)
    # What a bare reference prints when nothing is referenced: 0, or "" for text ids.
    empty_reference: int | str | None = None
    # The 子单据头 a header-like field lives in (read from its one row, no join).
    single: Entity | None = None

    def value(self, store: Store, record: Record, row: dict[str, Any] | None) -> Any:
        """The typed value (datetime, Decimal, id, …) or None when a join finds nothing."""
        if self.base == "pk":
            return record.id
        entity = self.entity or self.single
        if self.single is not None:
            row = (record.entries.get(self.single.key.upper()) or [None])[0]
        if entity is not None:
            if row is None:
                return None
            if self.base == "entry_pk":
                return row.get(entity.pk.upper())
            if self.base == "entry_seq":
                return row.get(entity.seq.upper())
            current: Any = row.get(self.field.key.upper()) if self.field else None
        else:
            current = record.values.get(self.field.key.upper()) if self.field else None
        for hop in self.hops:
            if hop.dimension is not None:
                current = (current or {}).get("dims", {}).get(hop.dimension.key.upper())
                continue
            form = (
                store.registry.get(str(record.values.get(hop.type_key) or "")) if hop.type_key else hop.form
            )
            if form is None or current in (None, 0, ""):
                return None
            target = store.get(form, current)
            if target is None:
                return None
            if hop.type_key is not None:
                wanted = form.field(hop.field_key or "")
                is_pk = (hop.field_key or "").upper() == form.pk.upper()
                current = target.id if is_pk else (target.values.get(wanted.key.upper()) if wanted else None)
                continue
            current = target.id if hop.field is None else target.values.get(hop.field.key.upper())
        return current

    def comparable(self, store: Store, record: Record, row: dict[str, Any] | None) -> Any:
        """The value filters and ordering see: ids for references (0 when unset), typed scalars."""
        value = self.value(store, record, row)
        if isinstance(value, dict):  # a bare FDetailID: the id of its dimension combination
            return value.get("id") or 0
        if self.empty_reference is not None and value in (None, 0, ""):
            if self.entity is not None and row is None:
                return None
            return self.empty_reference
        return value

    def output(self, store: Store, record: Record, row: dict[str, Any] | None) -> Any:
        """The value as the server prints it in a query result."""
        value = self.comparable(store, record, row)
        return format_datetime(value) if isinstance(value, datetime) else value


def _split_entity_key(form: Form, key: str) -> tuple[Entity, str] | None:
    upper = key.upper()
    for entity in form.entities.values():
        prefix = entity.key.upper() + "_"
        if upper.startswith(prefix) and len(upper) > len(prefix):
            return entity, key[len(prefix) :]
    return None


def _base_accessor(form: Form, key: str, first: str) -> Accessor:
    upper = first.upper()
    if upper == form.pk.upper():
        return Accessor(key, None, "pk", None)
    header_field = form.field(first)
    if header_field is not None:
        return Accessor(key, None, "field", header_field)
    entry = form.entry_field(first)
    if entry is not None:
        return _entry_accessor(key, entry[0], "field", entry[1])
    split = _split_entity_key(form, first)
    if split is None:
        raise UnknownField(first)
    entity, rest = split
    if rest.upper() == entity.pk.upper():
        return _entry_accessor(key, entity, "entry_pk", None)
    if rest.upper() in (entity.seq.upper(), *_ENTRY_SEQ_ALIASES):
        return _entry_accessor(key, entity, "entry_seq", None)
    entity_field = entity.field(rest)
    if entity_field is None:
        raise UnknownField(first)
    return _entry_accessor(key, entity, "field", entity_field)


def _entry_accessor(key: str, entity: Entity, base: str, field: Field | None) -> Accessor:
    if entity.single:
        return Accessor(key, None, base, field, single=entity)
    return Accessor(key, entity, base, field)


def resolve_key(registry: FormRegistry, form: Form, key: str) -> Accessor:
    """The accessor of a field key; UnknownField if it does not exist.

    For a dotted key the server names the first segment (the parent field) whichever segment is
    wrong — a tenant reported "FDetailID" for a misspelt dimension.
    """
    segments = key.strip().split(".")
    first = segments[0]
    if any(not s for s in segments):
        raise UnknownField(key.strip())
    accessor = _base_accessor(form, key, first)
    # `pointing` is the form a reference value at this point refers to (None: not a reference).
    current = accessor.field
    pointing: Form | None = None
    flex = current is not None and current.kind == "flex"
    polymorphic = current is not None and current.polymorphic
    if current is not None and current.kind == "ref" and not polymorphic:
        pointing = registry.get(current.form or "")
    for segment in segments[1:]:
        if polymorphic and current is not None:
            targets = [registry.get(name) for name in current.forms]
            if not any(
                t is not None and (t.field(segment) or segment.upper() == t.pk.upper()) for t in targets
            ):
                raise UnknownField(first)
            accessor.hops.append(
                Hop(None, None, type_key=(current.type_field or "").upper(), field_key=segment)
            )
            polymorphic = False
            continue
        if flex:
            dimension = registry.dimension(segment)
            pointing = registry.get(dimension.form) if dimension else None
            if dimension is None or pointing is None:
                raise UnknownField(first)
            accessor.hops.append(Hop(pointing, None, dimension))
            flex = False
            continue
        if pointing is None:
            raise UnknownField(first)
        if segment.upper() == pointing.pk.upper():
            accessor.hops.append(Hop(pointing, None))
            pointing = None
            continue
        next_field = pointing.field(segment)
        if next_field is None:
            raise UnknownField(first)
        accessor.hops.append(Hop(pointing, next_field))
        pointing = registry.get(next_field.form or "") if next_field.kind == "ref" else None
        if next_field.kind == "flex":
            raise UnknownField(first)
    if pointing is not None:
        accessor.empty_reference = "" if pointing.id_kind == "hex" else 0
    elif flex or polymorphic:
        accessor.empty_reference = 0
    return accessor


# --- the query ------------------------------------------------------------------------------------


def _param(data: dict[str, Any], name: str) -> Any:
    lowered = name.lower()
    return next((value for key, value in data.items() if str(key).lower() == lowered), None)


def _int_param(data: dict[str, Any], name: str) -> int:
    raw = _param(data, name)
    if raw is None or raw == "":
        return 0
    try:
        return int(Decimal(str(raw).strip()))
    except (ArithmeticError, ValueError) as exc:
        raise QueryProblem(Problem.of("parameter_invalid", name=name, value=shown(raw))) from exc


@dataclass(slots=True)
class QueryPlan:
    form: Form
    columns: list[Accessor]
    condition: filters.Node | None
    by_name: dict[str, Accessor]
    order: list[tuple[Accessor, bool]]
    entity: Entity | None
    start: int
    limit: int
    top: int


def plan_query(registry: FormRegistry, data: dict[str, Any]) -> QueryPlan:
    """Check every parameter in the order the server reports problems; QueryProblem on the first."""
    form_id = str(_param(data, "FormId") or "").strip()
    if not form_id:
        raise QueryProblem(Problem.of("form_id_empty"))
    form = registry.get(form_id)
    if form is None:
        raise QueryProblem(Problem.of("form_not_exist", form_id=form_id))
    raw_keys = _param(data, "FieldKeys")
    if isinstance(raw_keys, list):
        raw_keys = ",".join(str(k) for k in raw_keys)
    keys = [k.strip() for k in str(raw_keys or "").split(",") if k.strip()]
    if not keys:
        raise QueryProblem(Problem.of("field_keys_empty"))
    try:
        columns = [resolve_key(registry, form, key) for key in keys]
    except UnknownField as exc:
        raise QueryProblem(Problem.of("field_not_exist", key=exc.key)) from exc
    condition = _parse_condition(_param(data, "FilterString"))
    by_name: dict[str, Accessor] = {}
    try:
        for name in filters.field_names(condition):
            by_name.setdefault(name.upper(), resolve_key(registry, form, name))
    except UnknownField as exc:
        raise QueryProblem(Problem.of("field_not_exist", key=exc.key)) from exc
    order = _parse_order(registry, form, _param(data, "OrderString"))
    limit = _int_param(data, "Limit")
    if limit > MAX_LIMIT:
        raise QueryProblem(Problem.of("limit_too_large"))
    entities = {a.entity.key.upper(): a.entity for a in [*columns, *by_name.values()] if a.entity}
    entities.update({a.entity.key.upper(): a.entity for a, _ in order if a.entity})
    if len(entities) > 1:
        second = [a for a in columns if a.entity and a.entity.key.upper() != next(iter(entities))]
        raise QueryProblem(
            Problem.of("field_not_exist", key=second[0].key if second else next(iter(entities)))
        )
    return QueryPlan(
        form=form,
        columns=columns,
        condition=condition,
        by_name=by_name,
        order=order,
        entity=next(iter(entities.values()), None),
        start=max(_int_param(data, "StartRow"), 0),
        limit=max(limit, 0),
        top=max(_int_param(data, "TopRowCount"), 0),
    )


def _parse_condition(raw: Any) -> filters.Node | None:
    try:
        if raw is None:
            return None
        if isinstance(raw, list):
            return filters.parse_filter_array(raw)
        if isinstance(raw, str):
            return filters.parse_filter(raw)
        raise filters.FilterSyntaxError("FilterString must be text or an array")
    except filters.FilterError as exc:
        raise QueryProblem(Problem.of("filter_error", detail=f" ({exc})")) from exc


def _parse_order(registry: FormRegistry, form: Form, raw: Any) -> list[tuple[Accessor, bool]]:
    order: list[tuple[Accessor, bool]] = []
    for item in str(raw or "").split(","):
        words = item.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise QueryProblem(Problem.of("order_error", detail=item.strip()))
        try:
            accessor = resolve_key(registry, form, words[0])
        except UnknownField as exc:
            raise QueryProblem(Problem.of("field_not_exist", key=exc.key)) from exc
        order.append((accessor, len(words) == 2 and words[1].upper() == "DESC"))
    return order


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value.rstrip(" ").casefold())
    if isinstance(value, bool):
        return (1, int(value))
    return (1, value)


Row = tuple[Record, dict[str, Any] | None]


def _text_bucket(value: Any) -> Hashable:
    """A header text value as the filter compares it with text literals; anything else (NULL,
    numbers, dates) is always looked at, as only the full evaluation can tell."""
    return filters.text_key(value) if isinstance(value, str) else ALWAYS


def _text_keys_wanted(plan: QueryPlan) -> tuple[Field, frozenset[str]] | None:
    """The header text field and the texts every selected record's value must match, if the
    condition starts with `F = 'text'` or `F IN ('text', …)` (alone or as an AND's first term).

    Only the first term: AND stops at the first FALSE, so a record it rules out is never looked
    at further and cannot raise a filter error either; a NULL (UNKNOWN) goes on to the rest, so
    records whose value is not text are always evaluated in full.
    """
    node = plan.condition
    if isinstance(node, filters.And):
        node = node.items[0]
    name: str | None = None
    texts: frozenset[str] | None = None
    if isinstance(node, filters.In) and not node.negated and not node.has_null and node.texts is not None:
        if isinstance(node.operand, filters.FieldRef):
            name, texts = node.operand.name, node.texts
    elif isinstance(node, filters.Compare) and node.op == "=":
        for field_side, literal_side in ((node.left, node.right), (node.right, node.left)):
            if (
                isinstance(field_side, filters.FieldRef)
                and isinstance(literal_side, filters.Literal)
                and isinstance(literal_side.value, str)
            ):
                name, texts = field_side.name, frozenset({filters.text_key(literal_side.value)})
                break
    if name is None or texts is None:
        return None
    accessor = plan.by_name[name.upper()]
    plain = accessor.base == "field" and accessor.entity is None and accessor.single is None
    if not plain or accessor.hops or accessor.empty_reference is not None or accessor.field is None:
        return None
    return accessor.field, texts


def _candidates(store: Store, plan: QueryPlan) -> list[Record]:
    """The records the condition can select: through an index when its first term pins a header
    text field to a few values, else all of them (in the store's order either way)."""
    wanted = _text_keys_wanted(plan) if plan.condition is not None else None
    if wanted is None:
        return store.records(plan.form)
    field, texts = wanted
    return store.lookup(plan.form, field.key, _text_bucket, texts)


def select_rows(store: Store, plan: QueryPlan) -> list[Row]:
    """The rows the plan selects, filtered, ordered and paged."""
    rows: list[Row] = []
    entity_key = plan.entity.key.upper() if plan.entity else None
    for record in _candidates(store, plan):
        candidates: list[dict[str, Any] | None] = [None]
        if entity_key is not None:
            candidates = list(record.entries.get(entity_key) or [None])
        for row in candidates:
            if plan.condition is not None:
                resolve: Callable[[str], Any] = _resolver(store, plan, record, row)
                try:
                    verdict = filters.evaluate(plan.condition, resolve)
                except filters.FilterError as exc:
                    raise QueryProblem(Problem.of("filter_error", detail=f" ({exc})")) from exc
                if verdict is not True:
                    continue
            rows.append((record, row))
    for accessor, descending in reversed(plan.order):
        rows.sort(key=lambda r, a=accessor: _sort_key(a.comparable(store, r[0], r[1])), reverse=descending)
    if plan.top:
        rows = rows[: plan.top]
    rows = rows[plan.start :]
    if plan.limit:
        rows = rows[: plan.limit]
    return rows


def _resolver(
    store: Store, plan: QueryPlan, record: Record, row: dict[str, Any] | None
) -> Callable[[str], Any]:
    def resolve(name: str) -> Any:
        return plan.by_name[name.upper()].comparable(store, record, row)

    return resolve


def execute_bill_query(store: Store, registry: FormRegistry, data: dict[str, Any]) -> list[list[Any]]:
    """Rows as arrays in FieldKeys order; QueryProblem for the `[[…]]` error answer."""
    with store.lock:
        plan = plan_query(registry, data)
        return [
            [c.output(store, record, row) for c in plan.columns] for record, row in select_rows(store, plan)
        ]


def bill_query(store: Store, registry: FormRegistry, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as objects keyed by the requested field keys."""
    with store.lock:
        plan = plan_query(registry, data)
        return [
            {c.key: c.output(store, record, row) for c in plan.columns}
            for record, row in select_rows(store, plan)
        ]

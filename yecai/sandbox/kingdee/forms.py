"""Form metadata (业务对象元数据): which forms exist, their fields, entities and keys.

Everything the generic Save, query, View and status engines need is read from `forms.yaml` plus
the data centre's own additions (custom `F_…` fields and 核算维度 from the seed), so a new form is
new metadata, not new code. Keys are looked up case-insensitively, as the real server does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

FieldKind = Literal["text", "int", "decimal", "date", "datetime", "bool", "status", "ref", "flex"]
IdKind = Literal["int", "hex"]

FORMS_FILE = Path(__file__).with_name("forms.yaml")
_KINDS = {"text", "int", "decimal", "date", "datetime", "bool", "status", "ref", "flex"}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a form header or entity.

    `default` is a plain value, or a token filled in after the Model is parsed: `@org` (the data
    centre's organisation), `@currency` (the main book's currency), `@accttable` (the first 科目表), `@billtype` (the form's default
    单据类型), `=FKEY` (copy of header field FKEY). A `ref` without `form` is polymorphic (多类别基础
    资料): `type_field` names the header field that holds the target form id, one of `forms`.
    `form_scope` restricts a reference to targets whose field of that name holds the referring
    form's id (单据类型 belong to one form).
    """

    key: str
    kind: FieldKind
    caption: str
    required: bool = False
    system: bool = False
    default: Any = None
    values: tuple[str, ...] = ()
    form: str | None = None
    scale: int | None = None
    amount: bool = False
    multilang: bool = False
    type_field: str | None = None
    forms: tuple[str, ...] = ()
    form_scope: str | None = None

    @property
    def dynamic_default(self) -> bool:
        """A default computed after parsing (`@…` token or `=FKEY` copy), not a literal."""
        return isinstance(self.default, str) and self.default[:1] in ("@", "=")

    @property
    def polymorphic(self) -> bool:
        return self.kind == "ref" and self.form is None and self.type_field is not None


@dataclass(frozen=True, slots=True)
class Entity:
    """An entry entity (单据体): rows with their own id (`pk`) and row number (`seq`).

    A `single` entity is a 子单据头 (e.g. FsubHeadFinc): exactly one row, sent as a JSON object,
    queried like header fields.
    """

    key: str
    pk: str
    seq: str
    fields: dict[str, Field]
    single: bool = False

    def field(self, key: str) -> Field | None:
        return self.fields.get(key.upper())


@dataclass(frozen=True, slots=True)
class Dimension:
    """A 核算维度 a voucher line can carry under FDetailID (`FFLEX4`, custom `FF100001`, …)."""

    key: str
    name: str
    form: str
    category: str | None = None
    number: str = ""


@dataclass(slots=True)
class Form:
    """A business object: header fields keyed by upper-cased key, entities, and identity keys."""

    form_id: str
    name: str
    pk: str
    number: str | None
    fields: dict[str, Field]
    entities: dict[str, Entity] = dataclass_field(default_factory=dict)
    id_kind: IdKind = "int"
    name_field: str = "FName"
    unique_within: tuple[str, ...] = ()
    hook: str | None = None
    number_format: str | None = None
    allocatable: bool = False
    org_field: str | None = None

    def field(self, key: str) -> Field | None:
        return self.fields.get(key.upper())

    def entity(self, key: str) -> Entity | None:
        return self.entities.get(key.upper())

    def entry_field(self, key: str) -> tuple[Entity, Field] | None:
        """An entry field addressed by its bare key (entry keys are unique within a form)."""
        for entity in self.entities.values():
            found = entity.field(key)
            if found is not None:
                return entity, found
        return None

    @property
    def has_forbid_status(self) -> bool:
        return "FFORBIDSTATUS" in self.fields

    @property
    def has_document_status(self) -> bool:
        return "FDOCUMENTSTATUS" in self.fields

    def first_field(self, *keys: str) -> Field | None:
        """The first of `keys` this form has (conventional keys differ between forms)."""
        return next((self.fields[k.upper()] for k in keys if k.upper() in self.fields), None)


T = TypeVar("T")

# Facts derived from a field dict, by the dict's identity and name of the fact (see `derived`).
_DERIVED: dict[tuple[int, str], tuple[dict[str, Field], int, Any]] = {}


def derived(fields: dict[str, Field], name: str, compute: Callable[[dict[str, Field]], T]) -> T:
    """`compute(fields)`, computed once per field dict instead of once per package or row.

    The engines ask the same questions of a form's fields for every line they save (which fields
    default, which are references, …); the answers change only when fields change, which happens
    while the registry loads custom fields — the length check notices that.
    """
    cached = _DERIVED.get((id(fields), name))
    if cached is not None and cached[0] is fields and cached[1] == len(fields):
        return cached[2]  # type: ignore[no-any-return]
    value = compute(fields)
    _DERIVED[(id(fields), name)] = (fields, len(fields), value)
    return value


class FormRegistry:
    """All forms of one data centre, plus its voucher dimensions."""

    def __init__(self, forms: dict[str, Form], dimensions: dict[str, Dimension]) -> None:
        self._forms = {form_id.upper(): form for form_id, form in forms.items()}
        self.dimensions = {key.upper(): dim for key, dim in dimensions.items()}

    def get(self, form_id: str) -> Form | None:
        return self._forms.get(form_id.strip().upper())

    def __iter__(self) -> Any:
        return iter(self._forms.values())

    def dimension(self, key: str) -> Dimension | None:
        return self.dimensions.get(key.upper())

    def referrers(self, target_form_id: str) -> list[tuple[Form, Entity | None, Field]]:
        """Every (form, entity, field) whose values can point at records of `target_form_id`."""
        target = target_form_id.upper()
        found: list[tuple[Form, Entity | None, Field]] = []
        flex_targets = {dim.form.upper() for dim in self.dimensions.values()}
        for form in self._forms.values():
            places: list[tuple[Entity | None, dict[str, Field]]] = [(None, form.fields)]
            places += [(entity, entity.fields) for entity in form.entities.values()]
            for entity, fields in places:
                for field in fields.values():
                    targets = {t.upper() for t in (field.forms if field.polymorphic else (field.form or "",))}
                    if field.kind == "flex":
                        targets = flex_targets
                    if target in targets:
                        found.append((form, entity, field))
        return found


def _make_field(key: str, spec: dict[str, Any], where: str) -> Field:
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"{where}.{key}: unknown field kind {kind!r}")
    if kind == "ref" and not spec.get("form") and not spec.get("type_field"):
        raise ValueError(f"{where}.{key}: a ref field needs `form` (or `type_field` and `forms`)")
    return Field(
        key=key,
        kind=kind,
        caption=str(spec.get("caption", key)),
        required=bool(spec.get("required", False)),
        system=bool(spec.get("system", False)),
        default=spec.get("default"),
        values=tuple(str(v) for v in spec.get("values", ())),
        form=spec.get("form"),
        scale=spec.get("scale"),
        amount=bool(spec.get("amount", False)),
        multilang=bool(spec.get("multilang", False)),
        type_field=spec.get("type_field"),
        forms=tuple(str(v) for v in spec.get("forms", ())),
        form_scope=spec.get("form_scope"),
    )


def _make_fields(specs: dict[str, Any], where: str) -> dict[str, Field]:
    return {key.upper(): _make_field(key, dict(spec), where) for key, spec in specs.items()}


def _make_form(form_id: str, spec: dict[str, Any]) -> Form:
    entities: dict[str, Entity] = {}
    for entity_key, entity_spec in (spec.get("entities") or {}).items():
        entities[entity_key.upper()] = Entity(
            key=entity_key,
            pk=entity_spec["pk"],
            seq=entity_spec["seq"],
            fields=_make_fields(entity_spec.get("fields") or {}, f"{form_id}.{entity_key}"),
            single=bool(entity_spec.get("single", False)),
        )
    return Form(
        form_id=form_id,
        name=str(spec.get("name", form_id)),
        pk=spec["pk"],
        number=spec.get("number"),
        fields=_make_fields(spec.get("fields") or {}, form_id),
        entities=entities,
        id_kind=spec.get("id_kind", "int"),
        name_field=spec.get("name_field", "FName"),
        unique_within=tuple(spec.get("unique_within", ())),
        hook=spec.get("hook"),
        number_format=spec.get("number_format"),
        allocatable=bool(spec.get("allocatable", False)),
        org_field=spec.get("org_field"),
    )


def _add_custom_fields(forms: dict[str, Form], custom: dict[str, Any]) -> None:
    """Tenant fields (`F_<ISV>_…`) from the seed: `FORM: {KEY: spec}` or `FORM: {ENTITY.KEY: spec}`."""
    for form_id, specs in (custom or {}).items():
        form = forms.get(form_id.upper())
        if form is None:
            raise ValueError(f"custom_fields: unknown form {form_id}")
        for dotted, spec in specs.items():
            if "." in dotted:
                entity_key, key = dotted.split(".", 1)
                entity = form.entity(entity_key)
                if entity is None:
                    raise ValueError(f"custom_fields: {form_id} has no entity {entity_key}")
                entity.fields[key.upper()] = _make_field(key, dict(spec), f"{form_id}.{entity_key}")
            else:
                form.fields[dotted.upper()] = _make_field(dotted, dict(spec), form_id)


def standard_dimension_number(key: str) -> str:
    """The BD_FLEXITEMPROPERTY number of a flex key: FFLEX4…FFLEX13 ↔ HSWD01_SYS…HSWD10_SYS (§7.2)."""
    upper = key.upper()
    if upper.startswith("FFLEX") and upper[5:].isdigit():
        return f"HSWD{int(upper[5:]) - 3:02d}_SYS"
    return upper


@lru_cache(maxsize=8)
def _parsed(forms_file: Path) -> dict[str, Any]:
    """forms.yaml as data, parsed once per process: every sandbox start needs it (twice), and Form
    objects are built fresh from it each time, so a data centre's custom fields never leak."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10× faster
    parsed: dict[str, Any] = yaml.load(forms_file.read_text(encoding="utf-8"), Loader=loader)
    return parsed


def load_registry(seed: dict[str, Any], forms_file: Path = FORMS_FILE) -> FormRegistry:
    """The registry for a data centre described by `seed` (its dimensions and custom fields)."""
    raw = _parsed(forms_file)
    forms = {form_id.upper(): _make_form(form_id, spec) for form_id, spec in raw["forms"].items()}
    _add_custom_fields(forms, seed.get("custom_fields") or {})
    dimensions = {
        key.upper(): Dimension(
            key=key,
            name=str(spec["name"]),
            form=str(spec["form"]),
            category=spec.get("category"),
            number=standard_dimension_number(key),
        )
        for key, spec in (seed.get("dimensions") or {}).items()
    }
    for dim in dimensions.values():
        if dim.form.upper() not in forms:
            raise ValueError(f"dimension {dim.key}: unknown form {dim.form}")
    _check_references(forms)
    return FormRegistry(forms, dimensions)


def _check_references(forms: dict[str, Form]) -> None:
    """Every reference names a defined form, so a typo in forms.yaml fails at start, not at Save."""
    for form in forms.values():
        for entity in [None, *form.entities.values()]:
            fields = form.fields if entity is None else entity.fields
            for field in fields.values():
                if field.kind != "ref":
                    continue
                for target in field.forms if field.polymorphic else (field.form or "",):
                    if target.upper() not in forms:
                        raise ValueError(f"{form.form_id}.{field.key}: unknown form {target}")
                if field.polymorphic and (field.type_field or "").upper() not in form.fields:
                    raise ValueError(f"{form.form_id}.{field.key}: type field {field.type_field} missing")

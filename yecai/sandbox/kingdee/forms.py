"""Form metadata (业务对象元数据): which forms exist, their fields, entities and keys.

Everything the generic Save and query engines need is read from `forms.yaml` plus the data
centre's own additions (custom `F_…` fields and 核算维度 from the seed), so a new form is new
metadata, not new code. Keys are looked up case-insensitively, as the real server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal

import yaml

FieldKind = Literal["text", "int", "decimal", "date", "datetime", "bool", "status", "ref", "flex"]
IdKind = Literal["int", "hex"]

FORMS_FILE = Path(__file__).with_name("forms.yaml")
_KINDS = {"text", "int", "decimal", "date", "datetime", "bool", "status", "ref", "flex"}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a form header or entity."""

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


@dataclass(frozen=True, slots=True)
class Entity:
    """An entry entity (单据体): rows with their own id (`pk`) and row number (`seq`)."""

    key: str
    pk: str
    seq: str
    fields: dict[str, Field]

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


def _make_field(key: str, spec: dict[str, Any], where: str) -> Field:
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"{where}.{key}: unknown field kind {kind!r}")
    if kind == "ref" and not spec.get("form"):
        raise ValueError(f"{where}.{key}: a ref field needs `form`")
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


def load_registry(seed: dict[str, Any], forms_file: Path = FORMS_FILE) -> FormRegistry:
    """The registry for a data centre described by `seed` (its dimensions and custom fields)."""
    raw = yaml.safe_load(forms_file.read_text(encoding="utf-8"))
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
    return FormRegistry(forms, dimensions)

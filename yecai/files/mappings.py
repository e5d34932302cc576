"""Saved column mappings ("column templates"): a recurring export's headers → fields, by name.

When a system's export uses headers no alias covers, or lacks a column that is constant for the
file (the project code of a single-project ledger, 进项 for an input-invoice list), the user saves
a mapping once and names it on every import. Mappings live in the `column_templates` table and
travel as YAML (safe-loaded), so a consultant can prepare them once and load them at each site.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select

from yecai.files.columns import KINDS, kind_spec
from yecai.store.db import Store
from yecai.store.file_tables import ColumnTemplate


class MappingError(ValueError):
    """A column mapping that cannot be used; bilingual."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


class ColumnMapping(BaseModel):
    """Source header → field, constants for fields the file lacks, and where the header is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    kind: str
    columns: dict[str, str] = Field(default_factory=dict)  # header as written → field
    constants: dict[str, str] = Field(default_factory=dict)  # field → value, read like a cell
    header_row: int | None = Field(None, ge=1)  # 1-based; None = detect
    header_height: int | None = Field(None, ge=1, le=2)
    sheet: str | None = None
    description: str = ""

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; use one of {', '.join(KINDS)}")
        return value

    @model_validator(mode="after")
    def _fields(self) -> ColumnMapping:
        known = set(kind_spec(self.kind).field_names)
        unknown = sorted(
            {f for f in self.columns.values() if f and f not in known}
            | {f for f in self.constants if f not in known}
        )
        if unknown:
            raise ValueError(
                f"fields {', '.join(unknown)} do not exist for kind {self.kind}; known: {', '.join(sorted(known))}"
            )
        return self

    def definition(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "kind", "description"}, exclude_none=True)


def _from_row(row: ColumnTemplate) -> ColumnMapping:
    return ColumnMapping(name=row.name, kind=row.kind, description=row.description or "", **row.definition)


def save_mapping(store: Store, mapping: ColumnMapping) -> None:
    """Create or replace the mapping of that name."""
    with store.transaction() as session:
        row = session.scalars(select(ColumnTemplate).where(ColumnTemplate.name == mapping.name)).one_or_none()
        if row is None:
            session.add(
                ColumnTemplate(
                    name=mapping.name,
                    kind=mapping.kind,
                    definition=mapping.definition(),
                    description=mapping.description or None,
                )
            )
        else:
            row.kind = mapping.kind
            row.definition = mapping.definition()
            row.description = mapping.description or None


def load_mapping(store: Store, name: str) -> ColumnMapping:
    with store.transaction() as session:
        row = session.scalars(select(ColumnTemplate).where(ColumnTemplate.name == name)).one_or_none()
        if row is None:
            known = list(session.scalars(select(ColumnTemplate.name).order_by(ColumnTemplate.name)))
            raise MappingError(
                f"没有名为 {name!r} 的列映射模板" + (f"；已有：{'、'.join(known)}" if known else ""),
                f"there is no column template named {name!r}"
                + (f"; known: {', '.join(known)}" if known else ""),
            )
        return _from_row(row)


def list_mappings(store: Store) -> list[ColumnMapping]:
    with store.transaction() as session:
        return [
            _from_row(row) for row in session.scalars(select(ColumnTemplate).order_by(ColumnTemplate.name))
        ]


def delete_mapping(store: Store, name: str) -> bool:
    with store.transaction() as session:
        row = session.scalars(select(ColumnTemplate).where(ColumnTemplate.name == name)).one_or_none()
        if row is None:
            return False
        session.delete(row)
        return True


def mappings_to_yaml(mappings: list[ColumnMapping]) -> str:
    """YAML text of the mappings (Chinese kept readable), loadable by `mappings_from_yaml`."""
    data = {
        "column_templates": [
            {
                "name": m.name,
                "kind": m.kind,
                **({"description": m.description} if m.description else {}),
                **m.definition(),
            }
            for m in mappings
        ]
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def mappings_from_yaml(text: str) -> list[ColumnMapping]:
    """Parse and check YAML written by `mappings_to_yaml` (or by hand); raises MappingError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"YAML 格式错误：{exc}", f"invalid YAML: {exc}") from None
    items = data.get("column_templates") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MappingError(
            "YAML 中应有 column_templates 列表", "the YAML must hold a list under column_templates"
        )
    out: list[ColumnMapping] = []
    for number, item in enumerate(items, start=1):
        try:
            out.append(ColumnMapping.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '-'}: {e['msg']}" for e in exc.errors()
            )
            raise MappingError(
                f"第 {number} 个列映射模板无效：{problems}",
                f"column template {number} is invalid: {problems}",
            ) from None
    return out


def import_mappings_yaml(store: Store, text: str) -> list[str]:
    """Save every mapping of the YAML text; returns their names."""
    mappings = mappings_from_yaml(text)
    for mapping in mappings:
        save_mapping(store, mapping)
    return [m.name for m in mappings]

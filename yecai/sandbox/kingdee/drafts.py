"""The shared vocabulary of a Save: options, the context it runs in, and the draft being built.

A `Draft` is one data package of a Save/BatchSave after parsing and before it is written; form
hooks (vouchers, accounts) read and complete it. Keeping these types apart lets the generic Save
engine and the per-form rules import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from yecai.sandbox.kingdee import messages
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.forms import Form, FormRegistry
from yecai.sandbox.kingdee.settings import SandboxSettings
from yecai.sandbox.kingdee.store import Record, RecordId, Store, Transaction


@dataclass(frozen=True, slots=True)
class SaveOptions:
    """The control keys of a Save/BatchSave `data` package (§6.1) that change what happens."""

    need_update_fields: tuple[str, ...] = ()
    need_return_fields: tuple[str, ...] = ()
    is_delete_entry: bool = True
    verify_base_data: bool = False
    auto_audit: bool = False


@dataclass(slots=True)
class SaveContext:
    store: Store
    registry: FormRegistry
    settings: SandboxSettings
    options: SaveOptions
    now: datetime

    def form(self, form_id: str) -> Form:
        form = self.registry.get(form_id)
        if form is None:
            raise KeyError(f"form {form_id} is not defined")
        return form


@dataclass(slots=True)
class Draft:
    """One package being saved: merged header values and entry rows, plus what went wrong."""

    form: Form
    index: int
    existing: Record | None
    values: dict[str, Any]
    entries: dict[str, list[dict[str, Any]]]
    problems: list[Problem] = field(default_factory=list)

    def problem(self, message_key: str, field_name: str | None = None, /, **values: Any) -> None:
        self.problems.append(Problem.of(message_key, field_name, self.index, **values))

    @property
    def record_id(self) -> RecordId | None:
        return self.existing.id if self.existing else None


class FormHook(Protocol):
    """A form's own rules around the generic Save."""

    def validate(self, ctx: SaveContext, draft: Draft) -> None:
        """Check the draft and derive values; report problems on the draft. Must not write."""

    def assign(self, ctx: SaveContext, tx: Transaction, draft: Draft) -> None:
        """Allocate numbers (voucher no, bill no) once the draft is known to be valid."""

    def after_put(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        """Write follow-up changes to other records in the same transaction."""


def entry_where(row: int) -> str:
    """The '第n行分录：' prefix of messages about entry rows."""
    return messages.text("entry_prefix", row=row)

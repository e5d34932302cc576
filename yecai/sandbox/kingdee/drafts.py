"""The shared vocabulary of a write: options, the context it runs in, and the draft being built.

A `Draft` is one data package of a Save/BatchSave/Draft after parsing and before it is written;
form hooks (vouchers, accounts, AP/AR bills) read and complete it, and are asked again before a
status operation or a delete. Keeping these types apart lets the generic engines and the per-form
rules import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from yecai.jsonutil import decimal_text
from yecai.sandbox.kingdee import messages
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.forms import Field, Form, FormRegistry
from yecai.sandbox.kingdee.netctrl import NetworkControl
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
    validate_repeat_json: bool = False
    draft: bool = False  # the Draft (暂存) service: structure only, status Z, no number


@dataclass(slots=True)
class SaveContext:
    store: Store
    registry: FormRegistry
    settings: SandboxSettings
    options: SaveOptions
    now: datetime
    user: RecordId | None = None  # SEC_User id of the caller (creator, auditor, …)
    user_name: str = ""
    locks: NetworkControl | None = None
    # Lookups of this call, with what they were made against (references.find_record, the
    # voucher hook's required dimensions): a BatchSave names the same accounts on every line.
    lookups: dict[Any, Any] = field(default_factory=dict)

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

    def check_precision(self, field: Field, amount: Decimal, where: str, currency: str, digits: int) -> bool:
        """Report an amount with more decimals than its currency allows; whether it was fine."""
        if decimal_places(amount) <= digits:
            return True
        self.problem(
            "amount_precision",
            field.key,
            where=where,
            caption=field.caption,
            amount=decimal_text(amount),
            currency=currency,
            precision=digits,
        )
        return False

    @property
    def record_id(self) -> RecordId | None:
        return self.existing.id if self.existing else None


class FormHook(Protocol):
    """A form's own rules around the generic engines."""

    def validate(self, ctx: SaveContext, draft: Draft) -> None:
        """Check the draft and derive values; report problems on the draft. Must not write."""

    def assign(self, ctx: SaveContext, tx: Transaction, draft: Draft) -> None:
        """Allocate numbers (voucher no, …) once the draft is known to be valid."""

    def after_put(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        """Write follow-up changes to other records in the same transaction."""

    def check_operation(
        self, ctx: SaveContext, record: Record, operation: str, caption: str
    ) -> list[Problem]:
        """Refusals of the form's own for a status operation (`Audit`/审核, `Delete`/删除, …)."""
        ...

    def after_delete(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        """Write follow-up changes when `record` is deleted, in the same transaction."""


class BaseHook:
    """No rules of its own: hooks override only what they need."""

    def validate(self, ctx: SaveContext, draft: Draft) -> None:
        return None

    def assign(self, ctx: SaveContext, tx: Transaction, draft: Draft) -> None:
        return None

    def after_put(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        return None

    def check_operation(
        self, ctx: SaveContext, record: Record, operation: str, caption: str
    ) -> list[Problem]:
        return []

    def after_delete(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        return None


def decimal_places(value: Decimal) -> int:
    """How many decimals a Decimal really has (`1.50` → 1, `100` → 0)."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def number_label(form: Form, record: Record) -> str:
    """How messages name a record: its number, or its internal id when it has none (drafts)."""
    number = str(record.values.get(form.number.upper(), "") or "") if form.number else ""
    return number or str(record.id)


@lru_cache(maxsize=1024)
def entry_where(row: int) -> str:
    """The '第n行分录：' prefix of messages about entry rows."""
    return messages.text("entry_prefix", row=row)

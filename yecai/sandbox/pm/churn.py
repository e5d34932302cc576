"""Edits and deletions of cost lines and attendance after they were keyed (what incremental sync sees).

Drawn per line in ledger order from the project's own stream. Material and machinery lines are
corrected (quantity and amount) or deleted within days; a labour line is corrected together with
the attendance behind it (one full day becomes a half day, the line loses 0.5 工日 at the same
moment); un-invoiced expense lines are sometimes corrected or reversed, invoiced ones never.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm.labour import FULL_DAY, HALF_DAY
from yecai.sandbox.pm.models import CENT, CostCategory, CostRecord
from yecai.sandbox.pm.records import Attendance
from yecai.sandbox.pm.seeding import later
from yecai.sandbox.pm.timeline import History

LABOUR_CORRECTION_SHARE = 0.03
DIRECT_DELETE_SHARE = 0.015
DIRECT_EDIT_SHARE = 0.04
EXPENSE_DELETE_SHARE = 0.02
EXPENSE_EDIT_SHARE = 0.05
_HALF = Decimal("0.5")


def _amount(quantity: Decimal, price: Decimal) -> Decimal:
    return (quantity * price).quantize(CENT, ROUND_HALF_UP)


def churn_direct(
    rng: random.Random,
    records: list[CostRecord],
    attendance: dict[int, list[Attendance]],
    costs: History,
    gate: History,
) -> None:
    for index, record in enumerate(records):
        draw = rng.random()
        if record.category is CostCategory.LABOUR:
            rows = [row for row in attendance.get(index, []) if row.days == FULL_DAY]
            if draw >= LABOUR_CORRECTION_SHARE or not rows:
                continue
            row = rng.choice(rows)
            at = later(rng, max(record.created_at, row.created_at), 1, 3)
            gate.update(
                row.attendance_id,
                at,
                days=HALF_DAY,
                overtime_hours=Decimal(0),
                check_out=f"11:{rng.randint(30, 59):02d}:{rng.randint(0, 59):02d}",
            )
            quantity = record.quantity - _HALF
            costs.update(record.record_id, at, quantity=quantity, amount=_amount(quantity, record.unit_price))
        elif draw < DIRECT_DELETE_SHARE:
            costs.delete(record.record_id, later(rng, record.created_at, 1, 4))
        elif draw < DIRECT_DELETE_SHARE + DIRECT_EDIT_SHARE:
            at = later(rng, record.created_at, 1, 6)
            if record.category is CostCategory.MACHINERY:
                step = _HALF if record.quantity <= _HALF or rng.random() < 0.5 else -_HALF
                quantity = min(Decimal("3.0"), record.quantity + step)
                if quantity == record.quantity:
                    quantity = record.quantity - _HALF
            else:
                scale = Decimal(1).scaleb(record.quantity.as_tuple().exponent)  # type: ignore[arg-type]
                quantity = (record.quantity * rng.randint(85, 115) / 100).quantize(scale, ROUND_HALF_UP)
                if quantity == record.quantity or quantity <= 0:
                    quantity = record.quantity + scale
            costs.update(record.record_id, at, quantity=quantity, amount=_amount(quantity, record.unit_price))


def churn_expenses(rng: random.Random, records: list[CostRecord], costs: History) -> None:
    """Corrections and reversals of this month's un-invoiced expense lines."""
    for record in records:
        if record.invoice_no is not None or record.category is CostCategory.SUBCONTRACT:
            continue
        draw = rng.random()
        if draw < EXPENSE_DELETE_SHARE:
            costs.delete(record.record_id, later(rng, record.created_at, 1, 5))
        elif draw < EXPENSE_DELETE_SHARE + EXPENSE_EDIT_SHARE:
            at = later(rng, record.created_at, 1, 6)
            if record.unit == "项":
                price = (record.unit_price * rng.randint(90, 110) / 100).quantize(CENT, ROUND_HALF_UP)
                if price == record.unit_price:
                    price += CENT
                costs.update(record.record_id, at, unit_price=price, amount=_amount(record.quantity, price))
            else:
                quantity = record.quantity + (1 if rng.random() < 0.5 or record.quantity <= 1 else -1)
                costs.update(
                    record.record_id, at, quantity=quantity, amount=_amount(quantity, record.unit_price)
                )

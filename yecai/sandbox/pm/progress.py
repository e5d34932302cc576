"""Monthly progress reports (形象进度与产值计量) measured against the contract BOQ.

Reported on the 25th, approved by the owner days later, sometimes with quantities cut (审减).
Valuation = Σ measured quantity × 综合单价, rounded per line; percent complete = cumulative
valuation ÷ BOQ total, counting work measured before the data window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from yecai.sandbox.pm.boq import quantity_scale
from yecai.sandbox.pm.models import CENT, Project
from yecai.sandbox.pm.records import BoqItem, MeasuredItem, ProgressReport
from yecai.sandbox.pm.seeding import later, month_end, office_time, working_days

_HUNDRED = Decimal(100)


@dataclass(slots=True)
class ProgressState:
    """Cumulative measured quantity per BOQ item (by boq_id) carried from month to month."""

    cumulative: dict[str, Decimal] = field(default_factory=dict)


def opening_state(
    rng: random.Random, project: Project, items: list[BoqItem], first_day: date
) -> ProgressState:
    """What was measured before the window: the elapsed share of the works, give or take."""
    duration = max(1, (project.end_date - project.start_date).days)
    elapsed = Decimal(min(max(0, (first_day - project.start_date).days), duration)) / duration
    done = min(Decimal("0.95"), elapsed * rng.randint(85, 105) / 100)
    return ProgressState(
        {
            item.boq_id: (item.quantity * done).quantize(quantity_scale(item.unit), ROUND_DOWN)
            for item in items
        }
    )


def measured_to_date(items: list[BoqItem], state: ProgressState) -> tuple[Decimal, Decimal]:
    """Cumulative valuation (ex-VAT) and percent complete of what `state` holds as measured."""
    return _value(items, state.cumulative), _percent(items, state.cumulative)


def _value(items: list[BoqItem], quantities: dict[str, Decimal]) -> Decimal:
    return sum(
        (
            (quantities.get(item.boq_id, Decimal(0)) * item.unit_price).quantize(CENT, ROUND_HALF_UP)
            for item in items
        ),
        Decimal("0.00"),
    )


def _percent(items: list[BoqItem], quantities: dict[str, Decimal]) -> Decimal:
    total = sum((item.amount for item in items), Decimal(0))
    if total == 0:
        return Decimal("0.00")
    return min(_HUNDRED, (_value(items, quantities) / total * _HUNDRED).quantize(CENT, ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    submitted: ProgressReport
    approved: ProgressReport


def report_month(
    rng: random.Random,
    project: Project,
    items: list[BoqItem],
    state: ProgressState,
    month_first: date,
    window: tuple[date, date],
) -> MonthlyReport | None:
    """This month's report and its approved version, or None when the site did not work this month.

    Updates `state` with the approved quantities.
    """
    first = max(month_first, window[0], project.start_date)
    last = min(month_end(month_first), window[1], project.end_date)
    days = [d for d in working_days(first, last) if d.day <= 25] or working_days(first, last)
    if not days or not items:
        return None
    report_date = days[-1]
    duration_months = max(1, (project.end_date - project.start_date).days // 30)
    pace = Decimal(rng.randint(60, 140)) / 100 / duration_months

    def measure(cut: Decimal) -> tuple[MeasuredItem, ...]:
        measured = []
        for item, draw in zip(items, draws, strict=True):
            if draw is None:
                continue
            scale = quantity_scale(item.unit)
            done = state.cumulative.get(item.boq_id, Decimal(0))
            quantity = min(
                item.quantity - done, (item.quantity * pace * draw * cut).quantize(scale, ROUND_DOWN)
            )
            if quantity <= 0:
                continue
            measured.append(
                MeasuredItem(
                    boq_code=item.item_code,
                    item_name=item.item_name,
                    unit=item.unit,
                    quantity=quantity,
                    cumulative_quantity=done + quantity,
                    unit_price=item.unit_price,
                    amount=(quantity * item.unit_price).quantize(CENT, ROUND_HALF_UP),
                )
            )
        return tuple(measured)

    # Which items were worked on, and how hard: drawn once, so the approval only scales them.
    draws = [Decimal(rng.randint(50, 150)) / 100 if rng.random() < 0.65 else None for _ in items]
    reported = measure(Decimal(1))
    cut = Decimal(100 - rng.randint(2, 6)) / 100 if rng.random() < 0.15 else Decimal(1)
    approved_lines = measure(cut) if cut != 1 else reported

    def as_report(lines: tuple[MeasuredItem, ...]) -> tuple[Decimal, Decimal, Decimal]:
        quantities = dict(state.cumulative)
        by_code = {item.item_code: item for item in items}
        for line in lines:
            quantities[by_code[line.boq_code].boq_id] = line.cumulative_quantity
        valuation = sum((line.amount for line in lines), Decimal("0.00"))
        return valuation, _value(items, quantities), _percent(items, quantities)

    valuation, cumulative, percent = as_report(reported)
    created = office_time(rng, report_date, 16, 19)
    submitted = ProgressReport(
        report_id=f"JD-{project.project_code}-{month_first:%Y%m}",
        project_code=project.project_code,
        period=f"{month_first:%Y-%m}",
        report_date=report_date,
        percent_complete=percent,
        reported_amount=valuation,
        valuation_amount=valuation,
        cumulative_valuation=cumulative,
        approved=False,
        approved_date=None,
        measured=reported,
        created_at=created,
        updated_at=created,
    )
    approved_at = later(rng, created, 3, 10)
    valuation, cumulative, percent = as_report(approved_lines)
    approved = replace(
        submitted,
        percent_complete=percent,
        valuation_amount=valuation,
        cumulative_valuation=cumulative,
        approved=True,
        approved_date=approved_at.date(),
        measured=approved_lines,
        updated_at=approved_at,
    )
    by_code = {item.item_code: item for item in items}
    for line in approved_lines:
        state.cumulative[by_code[line.boq_code].boq_id] = line.cumulative_quantity
    return MonthlyReport(submitted, approved)

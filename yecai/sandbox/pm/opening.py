"""Opening balances (期初余额) of sandbox.pm: where each contract stood when the data window opened.

The window's first day is the go-live: a project under construction then has history the ledger
never saw. Its figures follow the generator's own account of that history, so the window carries
on from them: progress is what `progress.opening_state` measured before the window (the first
report's cumulative figures include it), billing is that measured value, retention and receipts
the income contract's rates of it; the project's cost is the target cost (目标成本, also the
预计总成本) at that progress, give or take; a 专业分包 has settled `Specialist.settled_before`; a
labour, purchase or lease contract priced 5–25 % above its expected cost (`contracts`) has
incurred about its share of that cost at the project's progress. Every cost was invoiced before
go-live and paid at the contract's payment ratio, as `payments.PaymentBook` does in the window.
The prepaid-VAT base (invoices issued − subcontractors' invoices, prepaid_vat.py) is carried only
when negative. Draws come from their own stream, so no other stream of the project changes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from yecai.sandbox.pm.contracts import ProjectContracts
from yecai.sandbox.pm.models import CENT, CostCategory, Project
from yecai.sandbox.pm.progress import ProgressState, measured_to_date
from yecai.sandbox.pm.records import BoqItem, BudgetLine, Contract, ContractKind, OpeningBalance
from yecai.sandbox.pm.seeding import office_time

# 分包款 deducted from the prepaid-VAT base: 专业分包 and 劳务分包 alike (公告2016年第17号)
_DEDUCTED = (ContractKind.SUBCONTRACT, ContractKind.LABOUR)
_ZERO = Decimal("0.00")
_DIRECT = (CostCategory.LABOUR, CostCategory.MATERIAL, CostCategory.MACHINERY, CostCategory.SUBCONTRACT)
_HUNDRED = Decimal(100)
# A contract whose costs pass 85 % of its amount gets a 补充协议 (builder._TOP_UP_AT); one that
# had not by go-live stayed below it.
_TOP_UP_AT = Decimal("0.85")


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def _paid(invoiced: Decimal, contract: Contract) -> Decimal:
    """What was paid on `invoiced`: the payment ratio of it, rounded down, within the amount."""
    return min((invoiced * contract.payment_ratio).quantize(CENT, ROUND_DOWN), contract.amount)


def opening_id(contract_no: str) -> str:
    return f"QC-{contract_no}"


def opening_balances(
    rng: random.Random,
    project: Project,
    deals: ProjectContracts,
    budget: Sequence[BudgetLine],
    boq: list[BoqItem],
    state: ProgressState,
    first_day: date,
) -> list[OpeningBalance]:
    """One row per contract running on `first_day` of a project started before it (else none)."""
    if project.start_date >= first_day:
        return []
    billed, percent = measured_to_date(boq, state)
    share = percent / _HUNDRED
    income = deals.income
    # not running yet: a specialist whose works start later has no history to carry
    running = [c for c in deals.contracts[1:] if c.start_date < first_day]
    stamp = _stamp(rng, first_day, [c.created_at for c in (income, *running)])

    def row(contract: Contract, **figures: Decimal | None) -> OpeningBalance:
        values: dict[str, Decimal | None] = {
            "percent_complete": None,
            "cost_to_date": _ZERO,
            "revenue_to_date": _ZERO,
            "estimated_total_cost": None,
            "billed_to_date": _ZERO,
            "retention_to_date": _ZERO,
            "received_to_date": _ZERO,
            "invoiced_to_date": _ZERO,
            "paid_to_date": _ZERO,
            "prepaid_vat_carry": _ZERO,
        }
        values.update(figures)
        return OpeningBalance(
            opening_id=opening_id(contract.contract_no),
            project_code=project.project_code,
            contract_no=contract.contract_no,
            contract_kind=contract.contract_kind,
            contract_type_name=contract.contract_type_name,
            counterparty_name=contract.counterparty_name,
            go_live_date=first_day,
            created_at=stamp,
            updated_at=stamp,
            **values,  # type: ignore[arg-type]
        )

    suppliers: list[OpeningBalance] = []
    settled = {s.contract_no: s.settled_before for s in deals.specialists}
    for contract in running:
        if contract.contract_no in settled:
            cost = settled[contract.contract_no]
        else:
            # priced 5–25 % above the expected cost over the whole works: 80–92 % of it, per unit
            # of progress, is what the crews, deliveries and machines came to
            expected = contract.amount / (1 + contract.tax_rate) * rng.randint(80, 92) / 100
            ceiling = contract.amount * _TOP_UP_AT / (1 + contract.tax_rate)
            cost = _money(min(expected * share, ceiling))
        invoiced = _money(cost * (1 + contract.tax_rate))
        suppliers.append(
            row(
                contract, cost_to_date=cost, invoiced_to_date=invoiced, paid_to_date=_paid(invoiced, contract)
            )
        )

    # The project's cost follows the target cost at its progress, give or take, so that cost to
    # date ÷ 预计总成本 tells the same story as the PM system's percent complete; the contracts
    # above are part of it (the rest was 零星采购 and 零星用工 settled before go-live), 其他直接费
    # and 间接费用 have no contract.
    targets = {line.category: line.amount for line in budget}

    def at_progress(categories: tuple[CostCategory, ...]) -> Decimal:
        return sum(
            (_money(targets.get(c, _ZERO) * share * rng.randint(95, 105) / 100) for c in categories),
            _ZERO,
        )

    direct = at_progress(_DIRECT)
    overheads = at_progress((CostCategory.OTHER_DIRECT, CostCategory.INDIRECT))
    contracted = sum((r.cost_to_date for r in suppliers), _ZERO)
    retention = _money(billed * income.retention_rate)
    issued = _money((billed - retention) * (1 + income.tax_rate))  # 销项 invoices: net of retention
    subcontracted = sum((r.invoiced_to_date for r in suppliers if r.contract_kind in _DEDUCTED), _ZERO)
    price = income.amount / (1 + income.tax_rate)
    cost_to_date = max(direct, contracted) + overheads
    estimate = sum(targets.values(), _ZERO)
    # The books recognise revenue by the input method (CAS 14 投入法): price × cost to date ÷ 预计总成本,
    # the progress yecai's revenue rule carries on from — not the PM system's physical percent.
    input_progress = min(cost_to_date / estimate, Decimal(1)) if estimate > 0 else _ZERO
    owner = row(
        income,
        percent_complete=percent,
        cost_to_date=cost_to_date,
        revenue_to_date=_money(price * input_progress),
        estimated_total_cost=estimate,
        billed_to_date=billed,
        retention_to_date=retention,
        received_to_date=(billed * (1 + income.tax_rate) * income.payment_ratio).quantize(CENT, ROUND_DOWN),
        prepaid_vat_carry=min(_ZERO, issued - subcontracted),
    )
    return [owner, *suppliers]


def _stamp(rng: random.Random, first_day: date, after: list[datetime]) -> datetime:
    """Keyed in on the evening before go-live (期初建账), after every contract it names."""
    stamp = office_time(rng, first_day - timedelta(days=1), 17, 20)
    latest = max(after)
    return stamp if stamp > latest else latest + timedelta(minutes=1)

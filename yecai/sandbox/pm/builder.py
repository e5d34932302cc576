"""One project's whole timeline: master data first, then the data window month by month.

Contracts, BOQ and budget come before work starts; a booking site then gets its daily ledger,
workers, attendance and their corrections, and a site already under way its opening balances
(期初, as of the window's first day); each month brings expenses, settlements, the progress
report and its approval, invoices, contract top-ups and payment requests. Every kind of draw has
its own stream, consumed in date order, so a longer run starts with a shorter run's records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm.boq import make_boq
from yecai.sandbox.pm.budget import budget_id, make_budget
from yecai.sandbox.pm.churn import churn_direct, churn_expenses
from yecai.sandbox.pm.contracts import ProjectContracts, make_contracts, round_up
from yecai.sandbox.pm.costs import direct_costs, make_expense_plan, other_costs
from yecai.sandbox.pm.invoicing import CONTRACTOR, InvoiceBook, line, lines_for
from yecai.sandbox.pm.labour import attendance_for, make_roster
from yecai.sandbox.pm.models import (
    CENT,
    DIRECT_CATEGORIES,
    CostCategory,
    CostRecord,
    Project,
    ProjectStatus,
)
from yecai.sandbox.pm.opening import opening_balances
from yecai.sandbox.pm.parties import is_government
from yecai.sandbox.pm.payments import PaymentBook
from yecai.sandbox.pm.plan import VAT_SIMPLE, CostPlan, make_plan
from yecai.sandbox.pm.progress import opening_state, report_month
from yecai.sandbox.pm.projects import BOOKING_STATUSES
from yecai.sandbox.pm.receipts import ReceiptBook
from yecai.sandbox.pm.records import BoqItem, Contract, Invoice, InvoiceDirection, InvoiceType, ProgressReport
from yecai.sandbox.pm.seeding import later, month_end, months_between, office_time, stream
from yecai.sandbox.pm.timeline import History

_TOP_UP_AT = Decimal("0.85")  # a 补充协议 when costs reach 85 % of the contract amount
_TOP_UP_TO = Decimal("1.30")
_VARIATION_SHARE = 0.06
_BUDGET_REVISION_SHARE = 0.08


@dataclass(frozen=True, slots=True)
class Histories:
    project: History
    cost_record: History
    boq_item: History
    budget_line: History
    contract: History
    progress_report: History
    payment_request: History
    invoice: History
    receipt: History
    worker: History
    attendance: History
    opening_balance: History

    @classmethod
    def empty(cls) -> Histories:
        keys = {
            "project": "project_code",
            "cost_record": "record_id",
            "boq_item": "boq_id",
            "budget_line": "budget_id",
            "contract": "contract_no",
            "progress_report": "report_id",
            "payment_request": "request_no",
            "invoice": "invoice_no",
            "receipt": "receipt_no",
            "worker": "worker_id",
            "attendance": "attendance_id",
            "opening_balance": "opening_id",
        }
        return cls(**{entity: History(entity, key) for entity, key in keys.items()})

    def all(self) -> dict[str, History]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _after(moment: datetime, candidate: datetime) -> datetime:
    """`candidate`, or a minute after `moment` if it is not later (versions must move forward)."""
    return candidate if candidate > moment else moment + timedelta(minutes=1)


class ProjectBuilder:
    """Builds one project's records and versions into the shared histories."""

    def __init__(
        self, seed: int, index: int, project: Project, window: tuple[date, date], histories: Histories
    ) -> None:
        self.seed = seed
        self.index = index
        self.project = project
        self.window = window
        self.h = histories
        self.code = project.project_code

    def rng(self, name: str) -> random.Random:
        return stream(self.seed, name, self.code)

    def build(self, taken_ids: set[str]) -> None:
        project, h = self.project, self.h
        h.project.create(project)
        plan = make_plan(self.rng("plan"), project)
        deals = make_contracts(self.rng("contracts"), project, plan, self.window[0])
        for contract in deals.contracts:
            h.contract.create(contract)
        income = deals.income
        boq = make_boq(self.rng("boq"), project, income.signed_date, income.created_at)
        for item in boq:
            h.boq_item.create(item)
        self.budget = make_budget(self.rng("budget"), project, income.created_at)
        for budget_line in self.budget:
            h.budget_line.create(budget_line)
        self.receipts = ReceiptBook(project)
        self.receipts_rng = self.rng("receipts")
        if project.status is ProjectStatus.COMPLETED:
            retention = self.receipts.retention(self.receipts_rng, income, self.window)
            if retention is not None:
                h.receipt.create(retention)
        if project.status not in BOOKING_STATUSES:
            return

        direct = direct_costs(self.rng("costs"), project, plan, deals.contract_of, *self.window)
        for record in direct.records:
            h.cost_record.create(record)
        roster = make_roster(self.rng("workers"), project, plan, self.window[0], taken_ids)
        for worker in roster.workers:
            h.worker.create(worker)
        gate = attendance_for(self.rng("attendance"), project, direct.records, direct.labour_days, roster)
        for rows in gate.values():
            for row in rows:
                h.attendance.create(row)
        churn_direct(self.rng("churn"), direct.records, gate, h.cost_record, h.attendance)
        self._months(plan, deals, boq, direct.records)

    # -----------------------------------------------------------------------------------------

    def _months(
        self, plan: CostPlan, deals: ProjectContracts, boq: list[BoqItem], direct: list[CostRecord]
    ) -> None:
        project = self.project
        self.plan = plan
        self.deals = deals
        self.boq = boq
        self.expenses_rng = self.rng("expenses")
        self.expense_plan = make_expense_plan(self.expenses_rng, project)
        self.progress_rng = self.rng("progress")
        self.invoices_rng = self.rng("invoices")
        self.payments_rng = self.rng("payments")
        self.changes_rng = self.rng("changes")
        self.churn_rng = self.rng("expense-churn")
        self.book = InvoiceBook(project, self.index)
        self.payments = PaymentBook(project, plan.clerks[CostCategory.MATERIAL])
        self.progress = opening_state(self.progress_rng, project, boq, self.window[0])
        # 期初: what the window starts from, before its first month changes anything
        for balance in opening_balances(
            self.rng("opening"), project, deals, self.budget, boq, self.progress, self.window[0]
        ):
            self.h.opening_balance.create(balance)
        self.settled: dict[str, Decimal] = {}  # specialist contract → settled so far (ex-VAT)
        self.numbers: dict[str, int] = {}  # FB / FY record sequences
        self.special_of: dict[str, bool] = {}  # does a contract's counterparty issue 专票
        self.incurred: dict[str, Decimal] = {}  # contract → costs so far, tax included
        by_month: dict[date, list[CostRecord]] = {}
        for record in direct:
            by_month.setdefault(record.business_date.replace(day=1), []).append(record)

        for month in months_between(*self.window):
            invoiced_at: dict[str, datetime] = {}  # contract → when its last invoice of the month came
            self._expenses(month, invoiced_at)
            self._progress(month)
            # what the month's daily costs came to, after their corrections and deletions
            live = [
                r
                for r in (self.h.cost_record.latest(r.record_id) for r in by_month.get(month, []))
                if isinstance(r, CostRecord)
            ]
            self._top_ups(month, live)
            self._supplier_invoices(month, live, invoiced_at)
            for contract_no, after in invoiced_at.items():
                self.payments.request(
                    self.payments_rng,
                    self.h.payment_request,
                    self._contract(contract_no),
                    after,
                    project.city.removesuffix("市"),
                )

    def _contract(self, contract_no: str) -> Contract:
        return self.h.contract.latest(contract_no)  # type: ignore[no-any-return]

    def _expenses(self, month: date, invoiced_at: dict[str, datetime]) -> None:
        """Expenses and subcontract settlements, each registered with its invoice when it has one."""
        rng = self.invoices_rng
        booked: list[CostRecord] = []
        for cost in other_costs(
            self.expenses_rng,
            self.project,
            self.plan,
            self.expense_plan,
            self.deals.specialists,
            self.settled,
            month,
            self.window,
            self.numbers,
        ):
            record = cost.record
            if cost.bill is not None:
                invoice = self.book.issue(
                    rng,
                    direction=InvoiceDirection.IN,
                    special=cost.bill.special,
                    issue_date=record.business_date - timedelta(days=rng.randint(0, 3)),
                    seller=record.supplier_name or CONTRACTOR,
                    buyer=CONTRACTOR,
                    lines=(
                        line(
                            cost.bill.item_name,
                            "",
                            record.unit or "项",
                            record.quantity,
                            record.unit_price,
                            record.amount,
                            record.tax_rate,
                        ),
                    ),
                    contract_no=record.contract_no,
                    period=f"{month:%Y-%m}",
                    created_at=record.created_at - timedelta(minutes=rng.randint(5, 60)),
                )
                self._register_invoice(rng, invoice)
                record = replace(record, invoice_no=invoice.invoice_no)
                if record.contract_no is not None:
                    self.payments.invoice_received(record.contract_no, invoice.total_amount)
                    invoiced_at[record.contract_no] = max(
                        invoiced_at.get(record.contract_no, invoice.created_at), invoice.created_at
                    )
                    self.incurred[record.contract_no] = (
                        self.incurred.get(record.contract_no, Decimal(0)) + invoice.total_amount
                    )
            self.h.cost_record.create(record)
            booked.append(record)
        churn_expenses(self.churn_rng, booked, self.h.cost_record)

    def _progress(self, month: date) -> None:
        """The month's progress report, its approval, what the approval sets off, the owner's invoice."""
        income = self.deals.income
        report = report_month(
            self.progress_rng, self.project, self._boq_now(self.boq), self.progress, month, self.window
        )
        if report is None:
            return
        self.h.progress_report.create(report.submitted)
        approved = self.h.progress_report.update(
            report.approved.report_id, report.approved.updated_at, **_changes(report.approved)
        )
        self._after_approval(self.changes_rng, approved.updated_at, self.boq, income)
        billed = (approved.valuation_amount * (1 - income.retention_rate)).quantize(CENT, ROUND_HALF_UP)
        if billed <= 0:
            return
        issued_at = later(self.invoices_rng, approved.updated_at, 1, 5)
        customer = self.project.customer_name
        period = f"{month:%Y-%m}"
        invoice = self.book.issue(
            self.invoices_rng,
            direction=InvoiceDirection.OUT,
            special=not is_government(customer),
            issue_date=issued_at.date(),
            seller=CONTRACTOR,
            buyer=customer,
            lines=(
                line(
                    "*建筑服务*工程进度款",
                    f"{period} 产值计量（扣质保金）",
                    "项",
                    Decimal(1),
                    billed,
                    billed,
                    income.tax_rate,
                ),
            ),
            contract_no=income.contract_no,
            period=period,
            created_at=issued_at,
        )
        self._register_invoice(self.invoices_rng, invoice)
        paid = self.receipts.progress(self.receipts_rng, invoice, income, approved.updated_at.date())
        if paid is not None:
            self.h.receipt.create(paid)

    def _top_ups(self, month: date, live: list[CostRecord]) -> None:
        """补充协议 on the 1st of the next month for contracts whose costs passed 85 % of the amount."""
        for record in live:
            gross = record.amount + (record.amount * record.tax_rate).quantize(CENT, ROUND_HALF_UP)
            key = record.contract_no or ""
            self.incurred[key] = self.incurred.get(key, Decimal(0)) + gross
        top_up_day = month_end(month) + timedelta(days=1)
        known = {c.contract_no for c in self.deals.contracts} - {self.deals.income.contract_no}
        for contract_no, total in self.incurred.items():
            if contract_no not in known:
                continue
            contract = self._contract(contract_no)
            if total > contract.amount * _TOP_UP_AT:
                at = _after(contract.updated_at, office_time(self.changes_rng, top_up_day, 9, 11))
                self.h.contract.update(contract_no, at, amount=round_up(total * _TOP_UP_TO))

    def _supplier_invoices(
        self, month: date, live: list[CostRecord], invoiced_at: dict[str, datetime]
    ) -> None:
        """Each counterparty's invoice for the month's daily costs, per contract and rate, next month."""
        rng = self.invoices_rng
        groups: dict[tuple[str, Decimal], list[CostRecord]] = {}
        for record in live:
            if record.category in DIRECT_CATEGORIES and record.contract_no:
                groups.setdefault((record.contract_no, record.tax_rate), []).append(record)
        for (contract_no, rate), rows in groups.items():
            contract = self._contract(contract_no)
            if contract_no not in self.special_of:
                # 清包工 labour companies on the simple method are often small: half of them issue 普票
                self.special_of[contract_no] = rate != VAT_SIMPLE or rng.random() < 0.5
            issue_day = month_end(month) + timedelta(days=rng.randint(3, 18))
            created = office_time(rng, issue_day)
            invoice = self.book.issue(
                rng,
                direction=InvoiceDirection.IN,
                special=self.special_of[contract_no],
                issue_date=issue_day,
                seller=contract.counterparty_name,
                buyer=CONTRACTOR,
                lines=lines_for(rows, rate),
                contract_no=contract_no,
                period=f"{month:%Y-%m}",
                created_at=created,
            )
            self._register_invoice(rng, invoice)
            self.payments.invoice_received(contract_no, invoice.total_amount)
            invoiced_at[contract_no] = max(invoiced_at.get(contract_no, created), created)

    # -----------------------------------------------------------------------------------------

    def _boq_now(self, boq: list[BoqItem]) -> list[BoqItem]:
        return [self.h.boq_item.latest(item.boq_id) for item in boq]

    def _register_invoice(self, rng: random.Random, invoice: Invoice) -> None:
        created = self.h.invoice.create(invoice)
        if created.direction is InvoiceDirection.IN and created.invoice_type is InvoiceType.SPECIAL:
            # 勾选认证: the accountant ticks received 专票 on the tax platform within a few weeks
            self.h.invoice.update(created.invoice_no, later(rng, created.created_at, 5, 25), certified=True)

    def _after_approval(
        self, rng: random.Random, approved_at: datetime, boq: list[BoqItem], income: Contract
    ) -> None:
        h = self.h
        if rng.random() < _VARIATION_SHARE:
            item = h.boq_item.latest(rng.choice(boq).boq_id)
            scale = Decimal(1).scaleb(item.quantity.as_tuple().exponent)
            quantity = max(
                item.quantity + scale, (item.quantity * rng.randint(103, 112) / 100).quantize(scale)
            )
            amount = (quantity * item.unit_price).quantize(CENT, ROUND_HALF_UP)
            at = _after(item.updated_at, later(rng, approved_at, 1, 3))
            h.boq_item.update(item.boq_id, at, quantity=quantity, amount=amount)
            contract = h.contract.latest(income.contract_no)
            extra = ((amount - item.amount) * (1 + contract.tax_rate)).quantize(CENT, ROUND_HALF_UP)
            h.contract.update(
                income.contract_no, _after(contract.updated_at, at), amount=contract.amount + extra
            )
        if rng.random() < _BUDGET_REVISION_SHARE:
            at = later(rng, approved_at, 2, 6)
            for category in rng.sample(list(CostCategory), rng.randint(1, 2)):
                key = budget_id(self.code, category)
                budget = h.budget_line.latest(key)
                version = f"V{int(budget.version[1:]) + 1}"
                amount = (budget.amount * rng.randint(101, 106) / 100).quantize(CENT, ROUND_HALF_UP)
                h.budget_line.update(
                    key,
                    _after(budget.updated_at, at),
                    amount=amount,
                    version=version,
                    description=f"目标成本—{category.chinese}（{version} 调整：设计变更及材料调差）",
                )


def _changes(report: ProgressReport) -> dict[str, object]:
    fields = (
        "percent_complete",
        "valuation_amount",
        "cumulative_valuation",
        "approved",
        "approved_date",
        "measured",
    )
    return {name: getattr(report, name) for name in fields}

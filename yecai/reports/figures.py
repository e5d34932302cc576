"""The report figures per project × period, as Kingdee holds them and as the PM system plans them.

From Kingdee (ledger.py, accounts from configuration): revenue recognised = net credit of 主营业务
收入; cost by category = debits (借方发生额) of each category's 合同履约成本 account — the month-end
carry-over to 主营业务成本 is a credit and does not reduce cost incurred; paid = debits of the
payables the payment rule set posts. From the PM documents: contract value, budget by category,
percent complete, payment requests. Budget to date = budget × percent complete of the latest
progress report up to the period; without one, pro rata to the project's elapsed days; without
dates, the whole budget. Variance % = (cost to date − budget to date) ÷ budget to date.
A contract running at go-live adds its opening balance (cost and revenue to date before go-live)
to the project's figures to date: Kingdee holds that history as 科目初始余额, not by 项目 × category.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from yecai.domain.documents import CATEGORY_NAMES_ZH, ContractKind, CostCategory, PaymentStatus, Project
from yecai.domain.money import ZERO, money_sum, round_money
from yecai.mapping.rules import MappingTable
from yecai.reports.accounts import ReportAccounts
from yecai.reports.documents import ProjectDocuments
from yecai.reports.ledger import Ledger
from yecai.reports.periods import Period

HUNDRED = Decimal(100)
TREND_MONTHS = 12
REQUESTED = (PaymentStatus.APPROVED, PaymentStatus.PAID)


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """part ÷ whole in per cent to one decimal place; None when there is nothing to divide by."""
    if whole == 0:
        return None
    return (part / whole * HUNDRED).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    category: str
    name: str  # 成本项目 in Chinese (the account's name in a CAS chart)
    budget: Decimal
    budget_to_date: Decimal
    cost_period: Decimal
    cost_to_date: Decimal
    variance_pct: Decimal | None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    period: str
    cost: Decimal
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class UnpaidRequest:
    request_no: str
    payee: str
    amount: Decimal
    request_date: dt.date
    age_days: int


@dataclass(frozen=True, slots=True)
class ProjectFigures:
    code: str
    name: str
    manager: str | None
    kingdee_number: str
    contract_value: Decimal | None
    percent_complete: Decimal | None
    budget_basis: str  # progress | time | full | none
    budget: Decimal
    budget_to_date: Decimal
    revenue_period: Decimal
    revenue_to_date: Decimal
    cost_period: Decimal
    cost_to_date: Decimal
    categories: tuple[CategoryFigures, ...]
    trend: tuple[TrendPoint, ...]
    requested_period: Decimal
    requested_to_date: Decimal
    paid_period: Decimal
    paid_to_date: Decimal
    unpaid: tuple[UnpaidRequest, ...]
    in_pm: bool = True  # False: a 项目 Kingdee holds figures for that the PM system does not list
    opening_cost: Decimal = ZERO  # cost to date at go-live (in cost_to_date, not in the categories)
    opening_revenue: Decimal = ZERO  # revenue recognised before go-live (in revenue_to_date)

    @property
    def margin_period(self) -> Decimal:
        return self.revenue_period - self.cost_period

    @property
    def margin_to_date(self) -> Decimal:
        return self.revenue_to_date - self.cost_to_date

    @property
    def margin_pct(self) -> Decimal | None:
        return percent(self.margin_to_date, self.revenue_to_date)

    @property
    def variance_pct(self) -> Decimal | None:
        return percent(self.cost_to_date - self.budget_to_date, self.budget_to_date)

    @property
    def unpaid_total(self) -> Decimal:
        return money_sum(r.amount for r in self.unpaid)


@dataclass(slots=True)
class Figures:
    period: str
    job: str
    kingdee: str
    cash_source: str  # kingdee (payment vouchers) | pm (paid requests)
    projects: list[ProjectFigures] = field(default_factory=list)
    accounts: dict[str, list[str]] = field(default_factory=dict)  # role → accounts read
    ledger_lines: int = 0
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def project(self, code: str) -> ProjectFigures | None:
        return next((p for p in self.projects if p.code == code), None)


def _completion(
    project: Project | None, docs: ProjectDocuments, code: str, period: Period
) -> tuple[Decimal, str, Decimal | None]:
    """(share of the budget due by the period's end, basis, percent complete reported)."""
    reports = [r for r in docs.progress.get(code, []) if r.period <= str(period)]
    if reports:
        latest = max(reports, key=lambda r: (r.period, r.report_date))
        return latest.percent_complete / HUNDRED, "progress", latest.percent_complete
    if project is not None and project.start_date and project.end_date:
        span = (project.end_date - project.start_date).days + 1
        done = (min(period.last_day, project.end_date) - project.start_date).days + 1
        return min(max(Decimal(done) / Decimal(span), ZERO), Decimal(1)), "time", None
    if docs.budgets.get(code):
        return Decimal(1), "full", None
    return ZERO, "none", None


def _opening(docs: ProjectDocuments, code: str) -> tuple[Decimal, Decimal]:
    """(cost, revenue) to date at go-live: the project's own row, else its income contracts' rows —
    a supplier contract's cost is already inside the contract's (as REVENUE counts it)."""
    rows = docs.openings.get(code, [])
    whole = [o for o in rows if o.contract_no is None]
    if not whole:
        kinds = {c.contract_no: c.contract_kind for c in docs.contracts.get(code, [])}
        whole = [
            o for o in rows if kinds.get(o.contract_no or "", ContractKind.INCOME) is ContractKind.INCOME
        ]
    return money_sum(o.cost_to_date for o in whole), money_sum(o.revenue_to_date for o in whole)


def _cash(
    docs: ProjectDocuments, code: str, period: Period
) -> tuple[Decimal, Decimal, Decimal, Decimal, tuple[UnpaidRequest, ...]]:
    """(requested in period, requested to date, paid in period, paid to date, unpaid approved)."""
    end = period.last_day
    requests = [r for r in docs.requests.get(code, []) if r.status in REQUESTED and r.request_date <= end]
    requested_to_date = money_sum(r.amount for r in requests)
    requested_period = money_sum(r.amount for r in requests if Period.of(r.request_date) == period)
    paid = [
        r
        for r in requests
        if r.status is PaymentStatus.PAID and (r.expected_pay_date or r.request_date) <= end
    ]
    paid_to_date = money_sum(r.amount for r in paid)
    paid_period = money_sum(
        r.amount for r in paid if Period.of(r.expected_pay_date or r.request_date) == period
    )
    unpaid = tuple(
        UnpaidRequest(r.request_no, r.payee_name, r.amount, r.request_date, (end - r.request_date).days)
        for r in sorted(requests, key=lambda r: r.request_date)
        if r.status is PaymentStatus.APPROVED
    )
    return requested_period, requested_to_date, paid_period, paid_to_date, unpaid


def project_figures(
    code: str,
    *,
    number: str,
    docs: ProjectDocuments,
    ledger: Ledger,
    accounts: ReportAccounts,
    period: Period,
) -> ProjectFigures:
    project = docs.projects.get(code)
    this = {period}
    share, basis, reported = _completion(project, docs, code, period)
    budgets: dict[CostCategory, Decimal] = defaultdict(lambda: ZERO)
    for line in docs.budgets.get(code, []):
        budgets[line.category] += line.amount
    by_category: dict[CostCategory, set[str]] = defaultdict(set)
    for account, category in accounts.cost.items():
        by_category[category].add(account)
    categories = []
    for category in CostCategory:
        budget = budgets[category]
        due = round_money(budget * share)
        to_date = ledger.sum(number, by_category[category], None, "debit")
        categories.append(
            CategoryFigures(
                category.value,
                CATEGORY_NAMES_ZH[category],
                budget,
                due,
                ledger.sum(number, by_category[category], this, "debit"),
                to_date,
                percent(to_date - due, due),
            )
        )
    cost_accounts = set(accounts.cost)

    def revenue(periods: set[Period] | None) -> Decimal:
        return ledger.sum(number, accounts.revenue, periods, "credit") - ledger.sum(
            number, accounts.revenue, periods, "debit"
        )

    active = ledger.periods(cost_accounts | accounts.revenue)
    trend = tuple(
        TrendPoint(str(p), ledger.sum(number, cost_accounts, {p}, "debit"), revenue({p}))
        for p in period.back(TREND_MONTHS)
    )
    requested_period, requested_to_date, paid_period, paid_to_date, unpaid = _cash(docs, code, period)
    if accounts.payments_posted:  # what Kingdee holds as paid, not what the PM system says
        paid_period = ledger.sum(number, accounts.payables, this, "debit")
        paid_to_date = ledger.sum(number, accounts.payables, None, "debit")
    budget_total = money_sum(budgets.values())
    opening_cost, opening_revenue = _opening(docs, code)
    return ProjectFigures(
        code=code,
        name=project.name if project else code,
        manager=project.manager if project else None,
        kingdee_number=number,
        contract_value=project.contract_value if project else None,
        percent_complete=reported,
        budget_basis=basis,
        budget=budget_total,
        budget_to_date=money_sum(c.budget_to_date for c in categories),
        revenue_period=revenue(this),
        revenue_to_date=revenue(None) + opening_revenue,
        cost_period=money_sum(c.cost_period for c in categories),
        cost_to_date=money_sum(c.cost_to_date for c in categories) + opening_cost,
        categories=tuple(categories),
        # months with figures only; the period itself too when the books have any that month (a
        # project quiet then shows its zero), never an empty month that ends the line at zero
        trend=tuple(
            point
            for point in trend
            if point.cost or point.revenue or (point.period == str(period) and period in active)
        ),
        requested_period=requested_period,
        requested_to_date=requested_to_date,
        paid_period=paid_period,
        paid_to_date=paid_to_date,
        unpaid=unpaid,
        in_pm=project is not None,
        opening_cost=opening_cost,
        opening_revenue=opening_revenue,
    )


def compute_figures(
    *,
    docs: ProjectDocuments,
    ledger: Ledger,
    accounts: ReportAccounts,
    mapping: MappingTable,
    period: Period,
    job: str,
    kingdee: str,
    company_wide: bool,
) -> Figures:
    """Every visible project's figures; company-wide callers also get 项目 only Kingdee knows."""
    numbers = {code: mapping.project_number(code) or code for code in docs.projects}
    codes = dict(numbers)
    if company_wide:
        known = set(numbers.values())
        for number in sorted(ledger.projects() - known):
            codes[number] = number  # booked in Kingdee under a 项目 the PM system does not list
    figures = Figures(
        period=str(period),
        job=job,
        kingdee=kingdee,
        cash_source="kingdee" if accounts.payments_posted else "pm",
        accounts={
            "cost": sorted(accounts.cost),
            "revenue": sorted(accounts.revenue),
            "payables": sorted(accounts.payables) if accounts.payments_posted else [],
        },
        ledger_lines=ledger.lines,
    )
    for code in sorted(codes):
        figures.projects.append(
            project_figures(
                code, number=codes[code], docs=docs, ledger=ledger, accounts=accounts, period=period
            )
        )
    return figures

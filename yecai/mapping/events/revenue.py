"""Revenue and cost by input-method progress (投入法, reference entries 9 and 9b, §2.1).

Progress = cumulative cost ÷ (cumulative cost + estimated cost to complete); cumulative revenue =
contract price (ex-VAT) × progress, rounded to the cent; the period's revenue is cumulative revenue
less what was recognised before (`ctx.history`), so a revised estimate catches up in the period it
changes. CAS: Dr 合同结算—收入结转 / Cr 主营业务收入, and Dr 主营业务成本 / Cr 合同履约成本—X for
the period's cost; 小企业: Dr 主营业务成本, Dr(Cr) 工程施工—合同毛利, Cr 主营业务收入.

The period's cost is the cost records' *and* whatever other rule sets debited to the project's
合同履约成本 (allocated indirect cost, the tax of 普票 and of simple-method projects' invoices),
read from their stored postings (`ctx.history["fulfilment_cost"]`), so the account is empty once
the work is recognised. Progress starts from the contract's figures at go-live (`OpeningBalance`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from yecai.domain.documents import (
    AccountingStandard,
    BudgetLine,
    Contract,
    ContractKind,
    CostCategory,
    CostRecord,
    OpeningBalance,
)
from yecai.domain.money import ZERO, money_sum, round_money
from yecai.mapping.events import common, valuation
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "settlement_revenue": ("project",),  # 合同结算—收入结转
    "revenue": ("project",),  # 主营业务收入
    "cost_of_sales": ("project",),  # 主营业务成本
    "gross_margin": ("project",),  # 工程施工—合同毛利 (小企业会计准则 only)
}

HISTORY_KEY = "revenue_to_date"
# ctx.history: Kingdee 项目 number → what other rule sets debited to its 合同履约成本 (FulfilmentCost rows)
FULFILMENT_KEY = "fulfilment_cost"


class EstimateSource(StrEnum):
    BUDGET = "budget"  # the project's budget lines (目标成本), unless `estimated_total_cost` names it
    OPTION = "option"  # only `estimated_total_cost`


class RevenueOptions(common.EventOptions):
    estimate: EstimateSource = EstimateSource.BUDGET
    estimated_total_cost: dict[str, Decimal] = Field(
        default_factory=dict, description="project code → estimated total cost (ex-VAT)"
    )
    contract_price: dict[str, Decimal] = Field(
        default_factory=dict,
        description="project code → transaction price ex-VAT (else from income contracts)",
    )
    budget_version: str | None = Field(
        common.LATEST,
        description="budget lines kept side by side in several versions: this version, `latest` (the "
        "highest per line) or null (report them); lines revised in place are never ambiguous",
    )
    default_vat_rate: Decimal = Decimal("0.09")
    carry_from: tuple[str, ...] = Field(
        ("purchase_invoice", "indirect_allocation"),
        description="rule sets whose debits to 合同履约成本 are carried to 主营业务成本 besides cost records",
    )
    carry_accounts: tuple[str, ...] = Field(
        (), description="合同履约成本 accounts besides the categories' (e.g. —合同成本 of the allocation)"
    )
    carried_cost_in_progress: bool = Field(
        True, description="whether that cost (allocated indirect cost, non-deductible VAT) counts as progress"
    )
    pool_projects: tuple[str, ...] = Field(
        ("JJFY",), description="indirect-cost pools: the allocation empties them, revenue leaves them alone"
    )


@dataclass(frozen=True, slots=True)
class RevenueToDate:
    """What earlier revenue postings covered for a project: cumulative cost and revenue."""

    cost: Decimal = ZERO
    revenue: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class FulfilmentCost:
    """Net debit another rule set posted to one 合同履约成本 account of a project in one period."""

    period: str  # YYYY-MM of the posting
    account: str
    amount: Decimal
    carried: bool  # an earlier revenue posting already carried it to 主营业务成本


@dataclass(frozen=True, slots=True)
class Opening:
    """A project's figures at go-live, from its `OpeningBalance` documents."""

    cost: Decimal = ZERO
    revenue: Decimal = ZERO
    estimated_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Recognition:
    """One period's figures for one project."""

    cumulative_cost: Decimal
    estimated_total: Decimal
    progress: Decimal  # 0–1, unrounded
    cumulative_revenue: Decimal
    period_revenue: Decimal


def recognise(
    price: Decimal, cumulative_cost: Decimal, estimated_total: Decimal, before: Decimal
) -> Recognition:
    """Input-method figures: the estimate to complete never goes below zero (progress ≤ 100 %)."""
    to_complete = max(estimated_total - cumulative_cost, ZERO)
    denominator = cumulative_cost + to_complete
    progress = cumulative_cost / denominator if denominator > 0 else Decimal(0)
    cumulative = round_money(price * progress)
    return Recognition(cumulative_cost, estimated_total, progress, cumulative, cumulative - before)


def _to_date(history: Mapping[str, Any], project: str) -> RevenueToDate:
    value = history.get(HISTORY_KEY, {}).get(project)
    if value is None:
        return RevenueToDate()
    if isinstance(value, RevenueToDate):
        return value
    return RevenueToDate(Decimal(str(value.get("cost", 0))), Decimal(str(value.get("revenue", 0))))


def _fulfilment(history: Mapping[str, Any], number: str) -> list[FulfilmentCost]:
    rows = history.get(FULFILMENT_KEY, {}).get(number, ())
    out = []
    for row in rows:
        if isinstance(row, FulfilmentCost):
            out.append(row)
        else:
            amount = Decimal(str(row["amount"]))
            out.append(FulfilmentCost(str(row["period"]), str(row["account"]), amount, bool(row["carried"])))
    return out


def opening_rows(
    ctx: PlanningContext, project: str, *, income_only: bool, contracts: Mapping[str, Contract]
) -> list[OpeningBalance]:
    """The project's go-live rows that describe it: the row for the project as a whole when there
    is one (it is the whole, so per-contract rows beside it would count twice), else its contracts'
    rows — with `income_only`, not those of known supplier-side contracts (their cost is not the
    contract's progress: it is already inside the income contract's cumulative cost)."""
    rows = [o for o in common.related_of(ctx, "opening_balance", OpeningBalance) if o.project_code == project]
    whole = [o for o in rows if o.contract_no is None]
    if whole:
        return whole
    if not income_only:
        return rows
    return [
        o
        for o in rows
        if (contract := contracts.get(o.contract_no or "")) is None
        or contract.contract_kind is ContractKind.INCOME
    ]


def _opening(ctx: PlanningContext, project: str, contracts: Mapping[str, Contract]) -> Opening:
    rows = opening_rows(ctx, project, income_only=True, contracts=contracts)
    estimates = [o.estimated_total_cost for o in rows if o.estimated_total_cost is not None]
    return Opening(
        money_sum(o.cost_to_date for o in rows),
        money_sum(o.revenue_to_date for o in rows),
        money_sum(estimates) if estimates else None,
    )


def _fulfilment_accounts(
    resolver: common.Resolver, standard: AccountingStandard, options: RevenueOptions
) -> dict[str, CostCategory | None]:
    """合同履约成本 accounts of a standard → the category whose sub-ledger each is (None: extra)."""
    accounts: dict[str, CostCategory | None] = dict.fromkeys(options.carry_accounts)
    for category in CostCategory:
        rule = resolver.rules.category_rule(category, standard, resolver.mapping)
        if rule is not None:
            accounts[rule.debit] = category
    return accounts


def plan_revenue(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """One voucher per project × period, periods in order, each catching up on the one before."""
    options = common.parse_options(rules, RevenueOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    budget_lines = common.related_of(ctx, "budget_line", BudgetLine)
    budgets, versions = common.budget_totals(budget_lines, options.budget_version)
    contracts = common.income_contracts(ctx)
    all_contracts = common.contracts_by_number(ctx)
    by_project: dict[str, dict[str, list[PlannableDocument]]] = defaultdict(lambda: defaultdict(list))
    for document in documents:
        record: CostRecord = document.model
        if not common.selected(rules, record) or record.project_code in options.pool_projects:
            # A pool's cost is not a contract's: the allocation moves it onto the contracts,
            # and this rule carries it from there (fulfilment cost), so it stays out of here.
            continue
        by_project[record.project_code][common.period_of(record.business_date)].append(document)

    for project in sorted(by_project):
        periods = by_project[project]
        all_ids = tuple(d.document_id for docs in periods.values() for d in docs)
        opening = _opening(ctx, project, all_contracts)
        reason = _missing_figures(project, options, budgets, versions, contracts, opening)
        if reason:
            plan.held.append(Held(all_ids, *reason))
            continue
        estimated = _estimate(project, options, budgets, opening)
        price = transaction_price(
            project, options.contract_price, contracts[project], options.default_vat_rate
        )
        standard = resolver.standard(project)
        accounts = _fulfilment_accounts(resolver, standard, options)
        number = mapping.project_number(project) or project
        waiting = [f for f in _fulfilment(ctx.history, number) if f.account in accounts]
        to_date = _to_date(ctx.history, project)
        carried_before = money_sum(f.amount for f in waiting if f.carried)
        waiting = [f for f in waiting if not f.carried]
        cumulative_cost = opening.cost + to_date.cost
        if options.carried_cost_in_progress:
            cumulative_cost += carried_before
        recognised = opening.revenue + to_date.revenue
        for period in sorted(periods):
            members = sorted(periods[period], key=lambda d: d.source_key)
            # What other rule sets put into 合同履约成本 up to this period leaves it with this voucher.
            due = [f for f in waiting if f.period <= period]
            waiting = [f for f in waiting if f.period > period]
            extra: dict[str, Decimal] = defaultdict(lambda: ZERO)
            for row in due:
                extra[row.account] += row.amount
            documents_cost = money_sum(d.model.amount for d in members)
            extra_cost = money_sum(extra.values())
            cumulative_cost += documents_cost + (extra_cost if options.carried_cost_in_progress else ZERO)
            figures = recognise(price, cumulative_cost, estimated, recognised)
            recognised = figures.cumulative_revenue
            entry = _entry(
                resolver,
                standard,
                project,
                members,
                figures.period_revenue,
                documents_cost + extra_cost,
                {a: x for a, x in extra.items() if x != ZERO},
                accounts,
            )
            if entry is None:
                continue
            group = f"{project}|{period}"
            progress = f"完工进度 {figures.progress * 100:.2f}%"
            amount = figures.period_revenue
            plan.add(
                common.period_voucher(resolver, entry, project, period, members, amount, progress), group
            )
    plan.unmapped = resolver.unmapped()
    return plan


def transaction_price(
    project: str, prices: Mapping[str, Decimal], income: Sequence[Contract], default_vat_rate: Decimal
) -> Decimal:
    """The transaction price ex-VAT: the configured one, else the income contracts' amounts less
    their VAT (each rounded to the cent) — one rule for revenue and the month-end loss provision."""
    if project in prices:
        return prices[project]
    return money_sum(
        round_money(c.amount / (1 + (c.tax_rate if c.tax_rate is not None else default_vat_rate)))
        for c in income
    )


def _estimate(
    project: str, options: RevenueOptions, budgets: Mapping[str, Decimal], opening: Opening
) -> Decimal:
    """Estimated total cost: the option, else the budget (the live 目标成本), else the go-live figure."""
    if project in options.estimated_total_cost:
        return options.estimated_total_cost[project]
    if options.estimate is EstimateSource.BUDGET and budgets.get(project, ZERO) > 0:
        return budgets[project]
    assert opening.estimated_total is not None  # _missing_figures held the project otherwise
    return opening.estimated_total


def _missing_figures(
    project: str,
    options: RevenueOptions,
    budgets: Mapping[str, Decimal],
    versions: Mapping[str, set[str]],
    contracts: Mapping[str, list[Any]],
    opening: Opening,
) -> tuple[str, str] | None:
    if project not in options.estimated_total_cost:
        if options.estimate is EstimateSource.BUDGET and project in versions:
            found = "、".join(sorted(v or "-" for v in versions[project]))
            return (
                f"项目 {project} 的预算有多个版本（{found}），请在 options.budget_version 中指定",
                f"project {project} has budget lines of several versions ({found}); set options.budget_version",
            )
        has_budget = options.estimate is EstimateSource.BUDGET and budgets.get(project, ZERO) > 0
        if not has_budget and not (opening.estimated_total and opening.estimated_total > 0):
            return (
                f"项目 {project} 没有预计总成本（预算、期初余额或 options.estimated_total_cost），无法按投入法确认收入",
                f"project {project} has no estimated total cost (budget, opening balance or "
                "options.estimated_total_cost); input-method revenue cannot be recognised",
            )
    if project not in options.contract_price and not contracts.get(project):
        return (
            f"项目 {project} 没有收入合同（或 options.contract_price），无法确定交易价格",
            f"project {project} has no income contract (or options.contract_price); the price is unknown",
        )
    return None


def _entry(
    resolver: common.Resolver,
    standard: AccountingStandard,
    project: str,
    members: Sequence[PlannableDocument],
    revenue: Decimal,
    cost: Decimal,
    extra: Mapping[str, Decimal],
    accounts: Mapping[str, CostCategory | None],
) -> common.Entry | None:
    """The period's lines, or None when a value is unmapped (recorded on the resolver).

    `cost` is the whole period cost (documents and `extra`, the fulfilment cost other rule sets
    booked, per 合同履约成本 account)."""
    ids = tuple(d.document_id for d in members)
    values = {"project": project}
    revenue_account = resolver.account("revenue", standard, ids)
    revenue_dims = resolver.role_dims("revenue", ids, **values)
    cost_account = resolver.account("cost_of_sales", standard, ids)
    cost_dims = resolver.role_dims("cost_of_sales", ids, **values)
    entry = common.Entry()
    if standard is AccountingStandard.SMALL:
        margin_account = resolver.account("gross_margin", standard, ids)
        margin_dims = resolver.role_dims("gross_margin", ids, **values)
        if not resolver.ok(ids):
            return None
        assert revenue_account and cost_account and margin_account
        assert revenue_dims is not None and cost_dims is not None and margin_dims is not None
        # 小企业会计准则: costs stay in 工程施工—合同成本; the margin sub-ledger takes the difference.
        margin = revenue - cost
        entry.dr(cost_account, cost, cost_dims, ids)
        if margin >= ZERO:
            entry.dr(margin_account, margin, margin_dims, ids)
        else:
            entry.cr(margin_account, -margin, margin_dims, ids)
        entry.cr(revenue_account, revenue, revenue_dims, ids)
        return entry
    settlement = resolver.account("settlement_revenue", standard, ids)
    # 合同结算 carries the customer too, so it nets per customer and project against 价款结算
    customer = valuation.customer_of(resolver, project)
    settlement_dims = resolver.role_dims("settlement_revenue", ids, **values, customer=customer)
    by_category: dict[CostCategory, list[PlannableDocument]] = defaultdict(list)
    for member in members:
        by_category[member.model.category].append(member)
    # (account, dims) → (amount, document ids): one credit per 合同履约成本 sub-ledger
    credits: dict[tuple[str, common.Dims], tuple[Decimal, tuple[int, ...]]] = {}
    for category in sorted(by_category, key=lambda c: c.value):
        docs = by_category[category]
        cat_ids = tuple(d.document_id for d in docs)
        rule = resolver.category(category, standard, ids)
        dims = resolver.dims(rule.debit_dimensions, ids, **values) if rule else None
        if rule is not None and dims is not None:
            credits[(rule.debit, dims)] = (money_sum(d.model.amount for d in docs), cat_ids)
    for account in sorted(extra):
        category = accounts.get(account)
        rule = resolver.category(category, standard, ids) if category is not None else None
        names = rule.debit_dimensions if rule is not None else ("project",)
        dims = resolver.dims(names, ids, **values)
        if dims is not None:
            amount, cat_ids = credits.get((account, dims), (ZERO, ids))
            credits[(account, dims)] = (amount + extra[account], cat_ids)
    if not resolver.ok(ids):
        return None
    assert settlement and revenue_account and cost_account
    assert settlement_dims is not None and revenue_dims is not None and cost_dims is not None
    # Negative figures (an estimate raised, a credit note) stay on their sides as red ink (负数).
    entry.dr(settlement, revenue, settlement_dims, ids)
    entry.cr(revenue_account, revenue, revenue_dims, ids)
    entry.dr(cost_account, cost, cost_dims, ids)
    for (account, dims), (amount, cat_ids) in credits.items():
        entry.cr(account, amount, dims, cat_ids)
    return entry


SPEC = common.EventSpec(
    Event.REVENUE,
    plan_revenue,
    "cost_record",
    ROLES,
    ("project", "contract", "budget_line", "opening_balance"),
    RevenueOptions,
    category_accounts=True,
)

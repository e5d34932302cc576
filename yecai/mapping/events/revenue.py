"""Revenue and cost by input-method progress (投入法, reference entries 9 and 9b, §2.1).

Progress = cumulative cost ÷ (cumulative cost + estimated cost to complete); cumulative revenue =
contract price (ex-VAT) × progress, rounded to the cent; the period's revenue is cumulative revenue
less what was recognised before (`ctx.history`), so a revised estimate catches up in the period it
changes. CAS: Dr 合同结算—收入结转 / Cr 主营业务收入, and Dr 主营业务成本 / Cr 合同履约成本—X for
the period's cost; 小企业: Dr 主营业务成本, Dr(Cr) 工程施工—合同毛利, Cr 主营业务收入.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from yecai.domain.documents import AccountingStandard, BudgetLine, CostCategory, CostRecord
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
    budget_version: str | None = Field(None, description="use only budget lines of this version")
    default_vat_rate: Decimal = Decimal("0.09")


@dataclass(frozen=True, slots=True)
class RevenueToDate:
    """What earlier revenue postings covered for a project: cumulative cost and revenue."""

    cost: Decimal = ZERO
    revenue: Decimal = ZERO


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


def _budget(
    lines: Sequence[BudgetLine], version: str | None
) -> tuple[dict[str, Decimal], dict[str, set[str]]]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    versions: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        if version is not None and line.version != version:
            continue
        totals[line.project_code] += line.amount
        versions[line.project_code].add(line.version or "")
    return totals, versions


def plan_revenue(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """One voucher per project × period, periods in order, each catching up on the one before."""
    options = common.parse_options(rules, RevenueOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    budget_lines = common.related_of(ctx, "budget_line", BudgetLine)
    budgets, versions = _budget(budget_lines, options.budget_version)
    contracts = common.income_contracts(ctx)
    by_project: dict[str, dict[str, list[PlannableDocument]]] = defaultdict(lambda: defaultdict(list))
    for document in documents:
        record: CostRecord = document.model
        if not common.selected(rules, record):
            continue
        by_project[record.project_code][common.period_of(record.business_date)].append(document)

    for project in sorted(by_project):
        periods = by_project[project]
        all_ids = tuple(d.document_id for docs in periods.values() for d in docs)
        reason = _missing_figures(project, options, budgets, versions, contracts)
        if reason:
            plan.held.append(Held(all_ids, *reason))
            continue
        estimated = options.estimated_total_cost.get(project, budgets.get(project, ZERO))
        price = options.contract_price.get(project)
        if price is None:
            price = money_sum(
                round_money(
                    c.amount / (1 + (c.tax_rate if c.tax_rate is not None else options.default_vat_rate))
                )
                for c in contracts[project]
            )
        standard = resolver.standard(project)
        to_date = _to_date(ctx.history, project)
        cumulative_cost, recognised = to_date.cost, to_date.revenue
        for period in sorted(periods):
            members = sorted(periods[period], key=lambda d: d.source_key)
            period_cost = money_sum(d.model.amount for d in members)
            cumulative_cost += period_cost
            figures = recognise(price, cumulative_cost, estimated, recognised)
            recognised = figures.cumulative_revenue
            entry = _entry(resolver, standard, project, members, figures.period_revenue, period_cost)
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


def _missing_figures(
    project: str,
    options: RevenueOptions,
    budgets: Mapping[str, Decimal],
    versions: Mapping[str, set[str]],
    contracts: Mapping[str, list[Any]],
) -> tuple[str, str] | None:
    if project not in options.estimated_total_cost:
        if options.estimate is EstimateSource.OPTION or budgets.get(project, ZERO) <= 0:
            return (
                f"项目 {project} 没有预计总成本（预算或 options.estimated_total_cost），无法按投入法确认收入",
                f"project {project} has no estimated total cost (budget or options.estimated_total_cost); "
                "input-method revenue cannot be recognised",
            )
        if len(versions.get(project, set())) > 1:
            found = "、".join(sorted(versions[project]))
            return (
                f"项目 {project} 的预算有多个版本（{found}），请在 options.budget_version 中指定",
                f"project {project} has budget lines of several versions ({found}); set options.budget_version",
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
) -> common.Entry | None:
    """The period's lines, or None when a value is unmapped (recorded on the resolver)."""
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
    credits = []
    for category in sorted(by_category, key=lambda c: c.value):
        docs = by_category[category]
        cat_ids = tuple(d.document_id for d in docs)
        rule = resolver.category(category, standard, ids)
        dims = resolver.dims(rule.debit_dimensions, ids, **values) if rule else None
        if rule is not None and dims is not None:
            credits.append((rule.debit, dims, money_sum(d.model.amount for d in docs), cat_ids))
    if not resolver.ok(ids):
        return None
    assert settlement and revenue_account and cost_account
    assert settlement_dims is not None and revenue_dims is not None and cost_dims is not None
    # Negative figures (an estimate raised, a credit note) stay on their sides as red ink (负数).
    entry.dr(settlement, revenue, settlement_dims, ids)
    entry.cr(revenue_account, revenue, revenue_dims, ids)
    entry.dr(cost_account, cost, cost_dims, ids)
    for account, dims, amount, cat_ids in credits:
        entry.cr(account, amount, dims, cat_ids)
    return entry


SPEC = common.EventSpec(
    Event.REVENUE,
    plan_revenue,
    "cost_record",
    ROLES,
    ("project", "contract", "budget_line"),
    RevenueOptions,
    category_accounts=True,
)

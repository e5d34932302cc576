"""The monthly operating analysis (月度经营分析) as a view model, built from the period's figures.

Company overview, projects ranked by gross margin % and by cost variance %, the cost structure by
category, cash (payment requests against payments) and the top risks: cost overrun beyond a
threshold (10 % by default — company policy, construction facts §5), negative margin,
approved requests unpaid for too long, and active projects with no cost booked in the month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from yecai.domain.documents import CATEGORY_NAMES_ZH, CostCategory
from yecai.domain.money import ZERO, money_sum
from yecai.reports.figures import Figures, ProjectFigures, percent

# the kinds of risk, in the order the report lists them (their words: yecai.labels, prefix "risk")
RISK_KINDS = ("negative_margin", "overrun", "unpaid", "no_cost")
_RISK_ORDER = {kind: position for position, kind in enumerate(RISK_KINDS)}


@dataclass(frozen=True, slots=True)
class MonthlyOptions:
    overrun_pct: Decimal = Decimal(10)  # variance % above which a project is a risk
    unpaid_days: int = 30  # approved requests older than this are a risk
    top_risks: int = 20


@dataclass(frozen=True, slots=True)
class Overview:
    projects: int
    contract_value: Decimal
    revenue_period: Decimal
    revenue_to_date: Decimal
    cost_period: Decimal
    cost_to_date: Decimal
    margin_period: Decimal
    margin_to_date: Decimal
    margin_pct: Decimal | None
    budget: Decimal
    budget_to_date: Decimal
    variance_pct: Decimal | None
    requested_to_date: Decimal
    paid_to_date: Decimal
    unpaid: Decimal


@dataclass(frozen=True, slots=True)
class StructureRow:
    category: str
    name: str
    cost_period: Decimal
    cost_to_date: Decimal
    budget: Decimal
    share_pct: Decimal | None


@dataclass(frozen=True, slots=True)
class Risk:
    kind: str  # negative_margin | overrun | unpaid | no_cost
    project: str
    project_name: str
    zh: str
    en: str
    value: Decimal | None = None


@dataclass(slots=True)
class MonthlyReport:
    period: str
    figures: Figures
    options: MonthlyOptions
    overview: Overview
    by_margin: list[ProjectFigures] = field(default_factory=list)
    by_variance: list[ProjectFigures] = field(default_factory=list)
    structure: list[StructureRow] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    # (zh, en) when nobody named the period: which one was chosen and why (reports.latest)
    period_note: tuple[str, str] | None = None

    @property
    def projects(self) -> list[ProjectFigures]:
        return self.figures.projects

    def trend(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(cost, revenue) of all the report's projects per period, in order of period.

        The workbook's trend sheet and the page's trend chart both draw this, so they show one figure.
        """
        totals: dict[str, list[Decimal]] = {}
        for p in self.projects:
            for point in p.trend:
                cell = totals.setdefault(point.period, [Decimal(0), Decimal(0)])
                cell[0] += point.cost
                cell[1] += point.revenue
        return {period: (totals[period][0], totals[period][1]) for period in sorted(totals)}


def _overview(projects: list[ProjectFigures]) -> Overview:
    revenue = money_sum(p.revenue_to_date for p in projects)
    cost = money_sum(p.cost_to_date for p in projects)
    due = money_sum(p.budget_to_date for p in projects)
    return Overview(
        projects=len(projects),
        contract_value=money_sum(p.contract_value or ZERO for p in projects),
        revenue_period=money_sum(p.revenue_period for p in projects),
        revenue_to_date=revenue,
        cost_period=money_sum(p.cost_period for p in projects),
        cost_to_date=cost,
        margin_period=money_sum(p.margin_period for p in projects),
        margin_to_date=revenue - cost,
        margin_pct=percent(revenue - cost, revenue),
        budget=money_sum(p.budget for p in projects),
        budget_to_date=due,
        variance_pct=percent(cost - due, due),
        requested_to_date=money_sum(p.requested_to_date for p in projects),
        paid_to_date=money_sum(p.paid_to_date for p in projects),
        unpaid=money_sum(p.unpaid_total for p in projects),
    )


def _structure(projects: list[ProjectFigures]) -> list[StructureRow]:
    total = money_sum(p.cost_to_date for p in projects)
    rows = []
    for category in CostCategory:
        parts = [c for p in projects for c in p.categories if c.category == category.value]
        to_date = money_sum(c.cost_to_date for c in parts)
        rows.append(
            StructureRow(
                category.value,
                CATEGORY_NAMES_ZH[category],
                money_sum(c.cost_period for c in parts),
                to_date,
                money_sum(c.budget for c in parts),
                percent(to_date, total),
            )
        )
    return rows


def _risks(projects: list[ProjectFigures], options: MonthlyOptions) -> list[Risk]:
    risks: list[Risk] = []
    for p in projects:
        if p.margin_to_date < 0:  # also cost booked with no revenue recognised yet
            rate_zh = f"毛利率 {p.margin_pct}%" if p.margin_pct is not None else "尚未确认收入"
            rate_en = f"margin {p.margin_pct}%" if p.margin_pct is not None else "no revenue recognised yet"
            risks.append(
                Risk(
                    "negative_margin",
                    p.code,
                    p.name,
                    f"毛利为负：{p.margin_to_date:,.2f}（{rate_zh}）",
                    f"negative gross margin: {p.margin_to_date:,.2f} ({rate_en})",
                    p.margin_pct,
                )
            )
        variance = p.variance_pct
        if variance is not None and variance > options.overrun_pct:
            risks.append(
                Risk(
                    "overrun",
                    p.code,
                    p.name,
                    f"成本超支 {variance}%（阈值 {options.overrun_pct}%）",
                    f"cost overrun {variance}% (threshold {options.overrun_pct}%)",
                    variance,
                )
            )
        old = [r for r in p.unpaid if r.age_days > options.unpaid_days]
        if old:
            amount = money_sum(r.amount for r in old)
            oldest = max(r.age_days for r in old)
            risks.append(
                Risk(
                    "unpaid",
                    p.code,
                    p.name,
                    f"{len(old)} 笔已批准付款申请超过 {options.unpaid_days} 天未付，合计 {amount:,.2f}，最长 {oldest} 天",
                    f"{len(old)} approved payment requests unpaid over {options.unpaid_days} days, "
                    f"{amount:,.2f} in total, oldest {oldest} days",
                    Decimal(oldest),
                )
            )
        if p.in_pm and p.cost_period == 0 and p.budget and (p.percent_complete or 0) < 100:
            risks.append(Risk("no_cost", p.code, p.name, "本月无成本入账", "no cost booked this month", None))
    # most serious first: losses, then overruns by size, unpaid by age, then silent projects
    risks.sort(
        key=lambda r: (
            _RISK_ORDER[r.kind],
            -(r.value or 0) if r.kind != "negative_margin" else (r.value or 0),
        )
    )
    return risks[: options.top_risks]


def _key(value: Decimal | None, missing: Decimal) -> Decimal:
    return missing if value is None else value


def monthly_report(figures: Figures, options: MonthlyOptions) -> MonthlyReport:
    projects = figures.projects
    low = Decimal("-1e12")  # projects without a figure rank last
    return MonthlyReport(
        period=figures.period,
        figures=figures,
        options=options,
        overview=_overview(projects),
        by_margin=sorted(projects, key=lambda p: (-_key(p.margin_pct, low), p.code)),
        by_variance=sorted(projects, key=lambda p: (-_key(p.variance_pct, low), p.code)),
        structure=_structure(projects),
        risks=_risks(projects, options),
    )

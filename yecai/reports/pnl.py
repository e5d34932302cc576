"""The per-project P&L (项目损益) as a view model: headline figures, the cost table and chart data.

Built from one project's figures; the console page, the API and the Excel export all show this,
so they cannot disagree. Chart data is plain lists (money as exact decimal strings) that the
console's ECharts script and the workbook's native charts read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yecai.domain.money import ZERO
from yecai.reports.figures import CategoryFigures, Figures, ProjectFigures, percent


@dataclass(frozen=True, slots=True)
class PnlRow:
    category: str
    name: str
    budget: Decimal
    budget_to_date: Decimal
    cost_period: Decimal
    cost_to_date: Decimal
    variance: Decimal  # cost to date − budget to date
    variance_pct: Decimal | None
    share_pct: Decimal | None  # of the project's cost to date


@dataclass(frozen=True, slots=True)
class ProjectPnl:
    period: str
    job: str
    kingdee: str
    project: ProjectFigures
    rows: tuple[PnlRow, ...]

    def charts(self) -> dict[str, object]:
        """Chart data for the console: cost vs budget by category, monthly trend, margin."""
        p = self.project
        return {
            "categories": {
                "kind": "bars",
                "labels": [r.name for r in self.rows],
                "series": [
                    {"name": "预算 budget", "values": [f"{r.budget:f}" for r in self.rows]},
                    {
                        "name": "至今预算 budget to date",
                        "values": [f"{r.budget_to_date:f}" for r in self.rows],
                    },
                    {"name": "实际成本 actual cost", "values": [f"{r.cost_to_date:f}" for r in self.rows]},
                ],
            },
            "trend": {
                "kind": "line",
                "labels": [t.period for t in p.trend],
                "series": [
                    {"name": "成本 cost", "values": [f"{t.cost:f}" for t in p.trend]},
                    {"name": "收入 revenue", "values": [f"{t.revenue:f}" for t in p.trend]},
                ],
            },
            "margin": {
                "kind": "bars",
                "labels": ["收入 revenue", "成本 cost", "毛利 margin"],
                "series": [
                    {
                        "name": "至今 to date",
                        "values": [f"{p.revenue_to_date:f}", f"{p.cost_to_date:f}", f"{p.margin_to_date:f}"],
                    }
                ],
            },
        }


def _row(c: CategoryFigures, total: Decimal) -> PnlRow:
    return PnlRow(
        c.category,
        c.name,
        c.budget,
        c.budget_to_date,
        c.cost_period,
        c.cost_to_date,
        c.cost_to_date - c.budget_to_date,
        c.variance_pct,
        percent(c.cost_to_date, total),
    )


def project_pnl(figures: Figures, project: ProjectFigures) -> ProjectPnl:
    rows = tuple(_row(c, project.cost_to_date) for c in project.categories)
    if project.opening_cost:
        # cost before go-live: one figure (Kingdee's 科目初始余额 are not split by 项目 × category)
        opening = project.opening_cost
        rows += (
            PnlRow(
                "opening", "期初累计成本 cost at go-live", ZERO, ZERO, ZERO, opening, ZERO, None,
                percent(opening, project.cost_to_date),
            ),
        )  # fmt: skip
    return ProjectPnl(figures.period, figures.job, figures.kingdee, project, rows)

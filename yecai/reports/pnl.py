"""The per-project P&L (项目损益) as a view model: headline figures, the cost table and chart data.

Built from one project's figures; the console page, the API and the Excel export all show this,
so they cannot disagree. Chart data is plain lists (money as exact decimal strings) that the
console's ECharts script and the workbook's native charts read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yecai import labels
from yecai.domain.money import ZERO
from yecai.reports.figures import CategoryFigures, Figures, ProjectFigures, percent

# the charts' legends and axis words (中文, English)
CHART_WORDS: dict[str, tuple[str, str]] = {
    "budget": ("预算", "budget"),
    "budget_to_date": ("至今预算", "budget to date"),
    "actual_cost": ("实际成本", "actual cost"),
    "cost": ("成本", "cost"),
    "revenue": ("收入", "revenue"),
    "margin": ("毛利", "margin"),
    "to_date": ("至今", "to date"),
}


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

    def charts(self, lang: str | None = None) -> dict[str, object]:
        """Chart data for the console: cost vs budget by category, monthly trend, margin. In one
        language ("zh" / "en": the console page's) or, without one, both (the API's)."""
        p = self.project

        def say(key: str) -> str:
            zh, en = CHART_WORDS[key]
            return f"{zh} {en}" if lang is None else (en if lang == "en" else zh)

        names = [r.name if lang is None else labels.label("category", r.category, lang) for r in self.rows]
        return {
            "categories": {
                "kind": "bars",
                "labels": names,
                "series": [
                    {"name": say("budget"), "values": [f"{r.budget:f}" for r in self.rows]},
                    {"name": say("budget_to_date"), "values": [f"{r.budget_to_date:f}" for r in self.rows]},
                    {"name": say("actual_cost"), "values": [f"{r.cost_to_date:f}" for r in self.rows]},
                ],
            },
            "trend": {
                "kind": "line",
                "labels": [t.period for t in p.trend],
                "series": [
                    {"name": say("cost"), "values": [f"{t.cost:f}" for t in p.trend]},
                    {"name": say("revenue"), "values": [f"{t.revenue:f}" for t in p.trend]},
                ],
            },
            "margin": {
                "kind": "bars",
                "labels": [say("revenue"), say("cost"), say("margin")],
                "series": [
                    {
                        "name": say("to_date"),
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
                "opening", labels.both("category", "opening"), ZERO, ZERO, ZERO, opening, ZERO, None,
                percent(opening, project.cost_to_date),
            ),
        )  # fmt: skip
    return ProjectPnl(figures.period, figures.job, figures.kingdee, project, rows)

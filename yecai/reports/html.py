"""The monthly report as one self-contained HTML file: inline CSS, inline SVG charts, no script.

Rendered with Jinja2 with autoescape on, so any text from the source system is escaped; the
charts are SVG markup drawn by svg.py. The file opens offline — in a browser, a mail client or
an archive — exactly as generated, and prints on A4.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from yecai.localtime import shown
from yecai.reports import svg
from yecai.reports.monthly import MonthlyReport

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


_env.filters["money"] = money
_env.filters["pct"] = pct
_env.filters["when"] = shown  # the workspace's zone, labelled (yecai.localtime)

RISK_NAMES = {
    "negative_margin": "毛利为负 negative margin",
    "overrun": "成本超支 overrun",
    "unpaid": "付款逾期 unpaid requests",
    "no_cost": "本月无成本 no cost this month",
}


def _charts(report: MonthlyReport) -> dict[str, object]:
    top = report.by_margin[:12]
    totals = report.trend()
    periods = list(totals)
    return {
        "margin": svg.bars(
            [p.code for p in top],
            [
                ("累计收入 revenue", [p.revenue_to_date for p in top]),
                ("累计成本 cost", [p.cost_to_date for p in top]),
                ("累计毛利 margin", [p.margin_to_date for p in top]),
            ],
        ),
        "structure": svg.donut([(row.name, row.cost_to_date) for row in report.structure]),
        "trend": svg.lines(
            periods,
            [
                ("成本 cost", [totals[p][0] for p in periods]),
                ("收入 revenue", [totals[p][1] for p in periods]),
            ],
        ),
        "cash": svg.bars(
            [p.code for p in report.projects[:12]],
            [
                ("累计申请 requested", [p.requested_to_date for p in report.projects[:12]]),
                ("累计已付 paid", [p.paid_to_date for p in report.projects[:12]]),
            ],
        ),
    }


def monthly_html(report: MonthlyReport) -> str:
    template = _env.get_template("monthly.html")
    return template.render(
        r=report, o=report.overview, f=report.figures, charts=_charts(report), risk_names=RISK_NAMES
    )

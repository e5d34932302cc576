"""The monthly report as one self-contained HTML file: inline CSS, inline SVG charts, no script.

Rendered with Jinja2 with autoescape on, so any text from the source system is escaped; the
charts are SVG markup drawn by svg.py. The file opens offline — in a browser, a mail client or
an archive — exactly as generated, and prints on A4.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from yecai import labels
from yecai.localtime import shown
from yecai.reports import svg
from yecai.reports.monthly import RISK_KINDS, MonthlyReport

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

RISK_NAMES = {kind: labels.both("risk", kind) for kind in RISK_KINDS}


CASH_TOP = 15  # the cash chart's rows before the rest are summed into one "others" row
OTHERS = "其他 {n} 个项目 / {n} others"


def _charts(report: MonthlyReport) -> dict[str, object]:
    totals = report.trend()
    periods = list(totals)
    # every project, ranked by margin: one row each, so no label is hidden or drawn over another
    by_margin = sorted(report.projects, key=lambda p: (-p.margin_to_date, p.code))
    by_request = sorted(report.projects, key=lambda p: (-p.requested_to_date, -p.paid_to_date, p.code))
    return {
        "margin": svg.ranked(
            [
                svg.RankedRow(f"{p.code} {p.name}", (p.revenue_to_date, p.cost_to_date, p.margin_to_date))
                for p in by_margin
            ],
            ("累计收入 revenue", "累计成本 cost", "累计毛利 margin"),
            value_series=2,
        ),
        "structure": svg.donut([(row.name, row.cost_to_date) for row in report.structure]),
        "trend": svg.lines(
            periods,
            [
                ("成本 cost", [totals[p][0] for p in periods]),
                ("收入 revenue", [totals[p][1] for p in periods]),
            ],
        ),
        "cash": svg.ranked(
            svg.top_and_others(
                [
                    svg.RankedRow(f"{p.code} {p.name}", (p.requested_to_date, p.paid_to_date))
                    for p in by_request
                ],
                CASH_TOP,
                OTHERS,
            ),
            ("累计申请 requested", "累计已付 paid"),
        ),
    }


def monthly_html(report: MonthlyReport) -> str:
    template = _env.get_template("monthly.html")
    return template.render(
        r=report,
        o=report.overview,
        f=report.figures,
        charts=_charts(report),
        risk_names=RISK_NAMES,
        cash_top=CASH_TOP,
    )

"""The reports as Excel workbooks (XlsxWriter) with native charts — column, pie and line.

Headers are Chinese first, English after. Every text cell goes through `write_string` after
`inert` (cells.py), so a name from the source system can never become a formula; numbers are
written as numbers (money to the cent, percentages as Excel percentages) so people can sum and
re-chart them. One sheet per part of the report, each table with its chart beside it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from yecai import labels
from yecai.reports.cells import inert
from yecai.reports.figures import ProjectFigures
from yecai.reports.monthly import MonthlyReport
from yecai.reports.pnl import ProjectPnl

MONEY = "#,##0.00"
PCT = "0.0%"
COLOURS = ("#1f5fa8", "#e0803a", "#4caf50", "#9c27b0", "#00897b", "#c62828")


class _Sheet:
    """A worksheet with the three formats and a typed cell writer."""

    def __init__(self, book: Workbook, name: str, formats: dict[str, Any]) -> None:
        self.ws: Worksheet = book.add_worksheet(name)
        self.f = formats
        self.name = name

    def text(self, row: int, col: int, value: object, fmt: str | None = None) -> None:
        # write_string, never write(): text is stored as text even if it looks like a number or formula
        self.ws.write_string(row, col, inert("" if value is None else str(value)), self.f.get(fmt or ""))

    def money(self, row: int, col: int, value: Decimal | None) -> None:
        if value is None:
            self.ws.write_blank(row, col, None, self.f["money"])
        else:
            self.ws.write_number(row, col, float(value), self.f["money"])

    def pct(self, row: int, col: int, value: Decimal | None) -> None:
        if value is None:
            self.ws.write_blank(row, col, None, self.f["pct"])
        else:
            self.ws.write_number(row, col, float(value / 100), self.f["pct"])

    def header(self, row: int, titles: Sequence[str]) -> None:
        for col, title in enumerate(titles):
            self.text(row, col, title, "head")

    def title(self, text: str) -> None:
        self.text(0, 0, text, "title")


def _book() -> tuple[Workbook, io.BytesIO, dict[str, Any]]:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    )
    formats = {
        "": None,
        "title": book.add_format({"bold": True, "font_size": 14}),
        "head": book.add_format({"bold": True, "bg_color": "#e8eef7", "border": 1, "text_wrap": True}),
        "money": book.add_format({"num_format": MONEY}),
        "pct": book.add_format({"num_format": PCT}),
        "note": book.add_format({"italic": True, "font_color": "#555555"}),
    }
    return book, buffer, formats


def _chart(book: Workbook, kind: str, title: str, subtype: str | None = None) -> Any:
    options: dict[str, str] = {"type": kind}
    if subtype:
        options["subtype"] = subtype
    chart = book.add_chart(options)
    chart.set_title({"name": title, "name_font": {"size": 11}})
    chart.set_size({"width": 620, "height": 320})
    return chart


PROJECT_HEAD = (
    "项目编码 code",
    "项目名称 name",
    "项目经理 manager",
    "合同额 contract value",
    "本月收入 revenue (month)",
    "累计收入 revenue to date",
    "本月成本 cost (month)",
    "累计成本 cost to date",
    "累计毛利 margin to date",
    "毛利率 margin %",
    "目标成本 budget",
    "至今预算 budget to date",
    "成本偏差 variance %",
    "完工百分比 % complete",
)


def _project_row(s: _Sheet, row: int, p: ProjectFigures) -> None:
    s.text(row, 0, p.code)
    s.text(row, 1, p.name)
    s.text(row, 2, p.manager or "")
    s.money(row, 3, p.contract_value)
    for col, value in enumerate(
        (p.revenue_period, p.revenue_to_date, p.cost_period, p.cost_to_date, p.margin_to_date), start=4
    ):
        s.money(row, col, value)
    s.pct(row, 9, p.margin_pct)
    s.money(row, 10, p.budget)
    s.money(row, 11, p.budget_to_date)
    s.pct(row, 12, p.variance_pct)
    s.pct(row, 13, p.percent_complete)


def _overview(book: Workbook, f: dict[str, Any], report: MonthlyReport) -> None:
    s = _Sheet(book, "概览 Overview", f)
    o = report.overview
    s.title(f"月度经营分析 monthly operating analysis · {report.period}")
    if report.period_note:  # nobody named the period: say which one this is and why
        s.text(1, 0, " / ".join(report.period_note))
    s.header(2, ("指标 figure", "金额 amount"))
    rows: list[tuple[str, Decimal | None, str]] = [
        ("项目数 projects", Decimal(o.projects), "n"),
        ("合同额 contract value", o.contract_value, "m"),
        ("本月收入 revenue (month)", o.revenue_period, "m"),
        ("累计收入 revenue to date", o.revenue_to_date, "m"),
        ("本月成本 cost (month)", o.cost_period, "m"),
        ("累计成本 cost to date", o.cost_to_date, "m"),
        ("本月毛利 margin (month)", o.margin_period, "m"),
        ("累计毛利 margin to date", o.margin_to_date, "m"),
        ("毛利率 margin %", o.margin_pct, "p"),
        ("目标成本 budget", o.budget, "m"),
        ("至今预算 budget to date", o.budget_to_date, "m"),
        ("成本偏差 variance %", o.variance_pct, "p"),
        ("累计申请付款 requested to date", o.requested_to_date, "m"),
        ("累计已付 paid to date", o.paid_to_date, "m"),
        ("已批未付 approved, unpaid", o.unpaid, "m"),
    ]
    for index, (label, value, kind) in enumerate(rows, start=3):
        s.text(index, 0, label)
        if kind == "p":
            s.pct(index, 1, value)
        elif kind == "n":
            s.ws.write_number(index, 1, float(value or 0))
        else:
            s.money(index, 1, value)
    note = len(rows) + 4
    fig = report.figures
    s.text(
        note,
        0,
        f"金蝶账套 Kingdee: {fig.kingdee} · 作业 job: {fig.job} · 付款口径 paid from: {fig.cash_source}",
        "note",
    )
    s.text(
        note + 1,
        0,
        "科目 accounts: " + "; ".join(f"{k} {', '.join(v)}" for k, v in fig.accounts.items()),
        "note",
    )
    s.ws.set_column(0, 0, 34)
    s.ws.set_column(1, 1, 20)
    chart = _chart(book, "column", "收入、成本与毛利 revenue, cost, margin (to date)")
    chart.add_series(
        {
            "name": "累计 to date",
            "categories": [s.name, 6, 0, 6, 0],
            "values": [s.name, 6, 1, 6, 1],
            "points": [{"fill": {"color": COLOURS[0]}}],
        }
    )
    chart.add_series(
        {"name": "累计成本 cost", "categories": [s.name, 8, 0, 8, 0], "values": [s.name, 8, 1, 8, 1]}
    )
    chart.add_series(
        {"name": "累计毛利 margin", "categories": [s.name, 10, 0, 10, 0], "values": [s.name, 10, 1, 10, 1]}
    )
    s.ws.insert_chart(2, 3, chart)


def _projects(
    book: Workbook, f: dict[str, Any], name: str, title: str, projects: list[ProjectFigures], col: int
) -> None:
    s = _Sheet(book, name, f)
    s.title(title)
    s.header(2, PROJECT_HEAD)
    for index, p in enumerate(projects, start=3):
        _project_row(s, index, p)
    s.ws.set_column(0, 0, 12)
    s.ws.set_column(1, 1, 30)
    s.ws.set_column(2, 13, 15)
    s.ws.freeze_panes(3, 2)
    if projects:
        last = 2 + len(projects)
        chart = _chart(book, "bar", title)
        chart.add_series(
            {
                "name": [s.name, 2, col],
                "categories": [s.name, 3, 1, last, 1],
                "values": [s.name, 3, col, last, col],
                "fill": {"color": COLOURS[0] if col == 9 else COLOURS[1]},
            }
        )
        chart.set_legend({"none": True})
        chart.set_y_axis({"reverse": True})
        chart.set_size({"width": 620, "height": max(320, 28 * len(projects))})
        s.ws.insert_chart(last + 2, 1, chart)


def _structure(book: Workbook, f: dict[str, Any], report: MonthlyReport) -> None:
    s = _Sheet(book, "成本结构 Cost structure", f)
    s.title("成本结构 cost structure")
    s.header(2, ("成本项目 category", "本月 month", "累计 to date", "目标成本 budget", "占比 share"))
    for index, row in enumerate(report.structure, start=3):
        s.text(index, 0, row.name)
        s.money(index, 1, row.cost_period)
        s.money(index, 2, row.cost_to_date)
        s.money(index, 3, row.budget)
        s.pct(index, 4, row.share_pct)
    s.ws.set_column(0, 4, 18)
    last = 2 + len(report.structure)
    pie = _chart(book, "pie", "累计成本构成 cost to date by category")
    pie.add_series(
        {
            "name": "累计 to date",
            "categories": [s.name, 3, 0, last, 0],
            "values": [s.name, 3, 2, last, 2],
            "data_labels": {"percentage": True},
            "points": [{"fill": {"color": c}} for c in COLOURS],
        }
    )
    s.ws.insert_chart(2, 6, pie)
    bars = _chart(book, "column", "成本与预算 cost against budget")
    bars.add_series(
        {"name": "累计成本 cost", "categories": [s.name, 3, 0, last, 0], "values": [s.name, 3, 2, last, 2]}
    )
    bars.add_series(
        {"name": "目标成本 budget", "categories": [s.name, 3, 0, last, 0], "values": [s.name, 3, 3, last, 3]}
    )
    s.ws.insert_chart(last + 3, 0, bars)


def _trend(book: Workbook, f: dict[str, Any], report: MonthlyReport) -> None:
    s = _Sheet(book, "趋势 Trend", f)
    s.title("月度成本与收入 monthly cost and revenue")
    s.header(2, ("期间 period", "成本 cost", "收入 revenue"))
    totals = report.trend()
    for index, period in enumerate(totals, start=3):
        s.text(index, 0, period)
        s.money(index, 1, totals[period][0])
        s.money(index, 2, totals[period][1])
    s.ws.set_column(0, 2, 18)
    if totals:
        last = 2 + len(totals)
        chart = _chart(book, "line", "月度成本与收入 monthly cost and revenue")
        for col, colour in ((1, COLOURS[1]), (2, COLOURS[0])):
            chart.add_series(
                {
                    "name": [s.name, 2, col],
                    "categories": [s.name, 3, 0, last, 0],
                    "values": [s.name, 3, col, last, col],
                    "line": {"color": colour, "width": 2.25},
                    "marker": {"type": "circle"},
                }
            )
        s.ws.insert_chart(2, 4, chart)


def _cash(book: Workbook, f: dict[str, Any], report: MonthlyReport) -> None:
    s = _Sheet(book, "资金 Cash", f)
    s.title("付款申请与付款 payment requests against payments")
    s.header(
        2,
        ("项目编码 code", "项目名称 name", "本月申请 requested (month)", "累计申请 requested to date",
         "本月已付 paid (month)", "累计已付 paid to date", "已批未付 approved, unpaid"),
    )  # fmt: skip
    for index, p in enumerate(report.projects, start=3):
        s.text(index, 0, p.code)
        s.text(index, 1, p.name)
        for col, value in enumerate(
            (p.requested_period, p.requested_to_date, p.paid_period, p.paid_to_date, p.unpaid_total), start=2
        ):
            s.money(index, col, value)
    s.ws.set_column(0, 0, 12)
    s.ws.set_column(1, 1, 30)
    s.ws.set_column(2, 6, 18)
    if report.projects:
        last = 2 + len(report.projects)
        chart = _chart(book, "column", "申请与已付 requested and paid (to date)")
        for col, colour in ((3, COLOURS[1]), (5, COLOURS[2])):
            chart.add_series(
                {
                    "name": [s.name, 2, col],
                    "categories": [s.name, 3, 0, last, 0],
                    "values": [s.name, 3, col, last, col],
                    "fill": {"color": colour},
                }
            )
        s.ws.insert_chart(last + 2, 1, chart)


def _risks(book: Workbook, f: dict[str, Any], report: MonthlyReport) -> None:
    s = _Sheet(book, "风险 Risks", f)
    s.title("重点风险 top risks")
    s.header(2, ("类型 kind", "项目编码 code", "项目名称 name", "说明", "description"))
    for index, risk in enumerate(report.risks, start=3):
        kind = labels.both("risk", risk.kind)
        for col, value in enumerate((kind, risk.project, risk.project_name, risk.zh, risk.en)):
            s.text(index, col, value)
    s.ws.set_column(0, 1, 16)
    s.ws.set_column(2, 2, 30)
    s.ws.set_column(3, 4, 60)


DEFINITIONS = (
    (
        "累计收入 revenue to date",
        "主营业务收入 贷方 − 借方（金蝶凭证，按项目维度，截至期末） / net credit of the revenue account in Kingdee, by 项目, to the period's end",
    ),
    (
        "成本 cost",
        "合同履约成本各明细科目借方发生额（金蝶凭证） / debits of each category's 合同履约成本 account in Kingdee",
    ),
    ("毛利 margin", "收入 − 成本；毛利率 = 毛利 ÷ 收入 / revenue − cost; margin % = margin ÷ revenue"),
    (
        "至今预算 budget to date",
        "目标成本 × 最新进度报告完工百分比；无进度按工期比例；无工期取全部预算 / budget × latest % complete, else pro rata to elapsed days, else the whole budget",
    ),
    (
        "成本偏差 variance %",
        "(累计成本 − 至今预算) ÷ 至今预算 / (cost to date − budget to date) ÷ budget to date",
    ),
    (
        "付款 cash",
        "申请：已批准及已付款的付款申请（PM 系统）；已付：金蝶付款凭证（应付账款借方），未同步付款时取 PM 已付申请 / requested: approved and paid requests (PM); paid: Kingdee payment vouchers (payables debited), else paid requests",
    ),
)


def _definitions(book: Workbook, f: dict[str, Any]) -> None:
    s = _Sheet(book, "口径 Definitions", f)
    s.title("指标口径 definitions")
    s.header(2, ("指标 figure", "口径 definition"))
    for index, (name, text) in enumerate(DEFINITIONS, start=3):
        s.text(index, 0, name)
        s.text(index, 1, text)
    s.ws.set_column(0, 0, 28)
    s.ws.set_column(1, 1, 120)


def monthly_workbook(report: MonthlyReport) -> bytes:
    """The monthly operating analysis as .xlsx bytes."""
    book, buffer, f = _book()
    _overview(book, f, report)
    _projects(book, f, "毛利排名 By margin", "项目毛利率排名 projects by margin %", report.by_margin, 9)
    _projects(
        book,
        f,
        "偏差排名 By variance",
        "项目成本偏差排名 projects by cost variance %",
        report.by_variance,
        12,
    )
    _structure(book, f, report)
    _trend(book, f, report)
    _cash(book, f, report)
    _risks(book, f, report)
    _definitions(book, f)
    book.close()
    return buffer.getvalue()


def pnl_workbook(view: ProjectPnl) -> bytes:
    """One project's P&L as .xlsx bytes: headline, cost by category with a chart, monthly trend."""
    book, buffer, f = _book()
    p = view.project
    s = _Sheet(book, "项目损益 P&L", f)
    s.title(f"项目损益 project P&L · {p.code} {p.name} · {view.period}")
    head: list[tuple[str, Decimal | None, bool]] = [
        ("合同额 contract value", p.contract_value, False),
        ("累计收入 revenue to date", p.revenue_to_date, False),
        ("累计成本 cost to date", p.cost_to_date, False),
        ("累计毛利 margin to date", p.margin_to_date, False),
        ("毛利率 margin %", p.margin_pct, True),
        ("完工百分比 % complete", p.percent_complete, True),
        ("成本偏差 variance %", p.variance_pct, True),
    ]
    for index, (label, value, is_pct) in enumerate(head, start=2):
        s.text(index, 0, label)
        (s.pct if is_pct else s.money)(index, 1, value)
    top = len(head) + 3
    s.header(
        top,
        ("成本项目 category", "目标成本 budget", "至今预算 budget to date", "本月成本 cost (month)",
         "累计成本 cost to date", "偏差 variance", "偏差 variance %", "占比 share"),
    )  # fmt: skip
    for index, r in enumerate(view.rows, start=top + 1):
        s.text(index, 0, r.name)
        for col, value in enumerate(
            (r.budget, r.budget_to_date, r.cost_period, r.cost_to_date, r.variance), start=1
        ):
            s.money(index, col, value)
        s.pct(index, 6, r.variance_pct)
        s.pct(index, 7, r.share_pct)
    last = top + len(view.rows)
    s.ws.set_column(0, 0, 26)
    s.ws.set_column(1, 7, 17)
    chart = _chart(book, "column", "成本与预算 cost against budget")
    for col, colour in ((1, COLOURS[0]), (2, COLOURS[5]), (4, COLOURS[1])):
        chart.add_series(
            {
                "name": [s.name, top, col],
                "categories": [s.name, top + 1, 0, last, 0],
                "values": [s.name, top + 1, col, last, col],
                "fill": {"color": colour},
            }
        )
    s.ws.insert_chart(last + 2, 0, chart)
    t = _Sheet(book, "趋势 Trend", f)
    t.header(0, ("期间 period", "成本 cost", "收入 revenue"))
    for index, point in enumerate(p.trend, start=1):
        t.text(index, 0, point.period)
        t.money(index, 1, point.cost)
        t.money(index, 2, point.revenue)
    t.ws.set_column(0, 2, 16)
    if p.trend:
        line = _chart(book, "line", "月度成本与收入 monthly cost and revenue")
        for col in (1, 2):
            line.add_series(
                {
                    "name": [t.name, 0, col],
                    "categories": [t.name, 1, 0, len(p.trend), 0],
                    "values": [t.name, 1, col, len(p.trend), col],
                    "marker": {"type": "circle"},
                }
            )
        t.ws.insert_chart(1, 4, line)
    book.close()
    return buffer.getvalue()

"""Invoice matching (三单匹配) as an Excel workbook: a sheet of the contracts, one of the
unmatched items, a summary.

Chinese headers first with English beside. Every text cell — a supplier or payee name, a contract
number, a document number — comes from the PM system and goes through `write_string` after
`yecai.reports.cells.inert`, so text starting with `=`, `+`, `-`, `@`, a tab or a carriage return
can never run as a formula, in Excel nor after the sheet is saved as CSV. Amounts are numbers.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import xlsxwriter

from yecai.reconcile.matching import MISMATCH_ZH, Mismatch
from yecai.reconcile.matching_service import MISMATCH_EN, MatchingReport
from yecai.reports.cells import inert

ROW_HEADERS = (
    ("合同/供应商", "contract / supplier", 26),
    ("项目", "project", 14),
    ("往来单位", "supplier", 30),
    ("成本(不含税)", "cost ex-VAT", 16),
    ("到票金额", "invoiced net", 16),
    ("到票税额", "invoiced VAT", 14),
    ("价税合计", "invoiced total", 16),
    ("已付款", "paid", 16),
    ("未到票", "not invoiced", 16),
    ("未付款", "not paid", 16),
)
UNMATCHED_HEADERS = (
    ("类型", "type", 28),
    ("合同/供应商", "contract / supplier", 26),
    ("项目", "project", 14),
    ("往来单位", "supplier", 30),
    ("金额", "amount", 16),
    ("单据", "documents", 40),
    ("说明及处理", "explanation and what to do", 70),
    ("explanation (English)", "", 70),
)


def _put(sheet: Any, row: int, col: int, value: object, money: Any, style: Any = None) -> None:
    if isinstance(value, Decimal):
        sheet.write_number(row, col, float(value), money)
    elif isinstance(value, int) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    elif value is None:
        sheet.write_blank(row, col, None)
    else:
        sheet.write_string(row, col, inert(str(value)), style)


def _headers(sheet: Any, headers: tuple[tuple[str, str, int], ...], style: Any) -> None:
    for col, (zh, en, width) in enumerate(headers):
        sheet.write_string(0, col, f"{zh} {en}".strip(), style)
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)


def matching_workbook(report: MatchingReport) -> bytes:
    """The report as .xlsx bytes (what the CLI writes to a file)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    money = book.add_format({"num_format": "#,##0.00"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    result = report.result

    sheet = book.add_worksheet("三单匹配 Matching")
    _headers(sheet, ROW_HEADERS, head)
    for row, r in enumerate(result.rows, start=1):
        values: list[object] = [
            r.key,
            r.project_code,
            r.counterparty,
            r.cost,
            r.invoiced_net,
            r.invoiced_tax,
            r.invoiced_total,
            r.paid,
            r.uninvoiced,
            r.unpaid,
        ]
        for col, value in enumerate(values):
            _put(sheet, row, col, value, money)
    if result.rows:
        sheet.autofilter(0, 0, len(result.rows), len(ROW_HEADERS) - 1)

    sheet = book.add_worksheet("未匹配 Unmatched")
    _headers(sheet, UNMATCHED_HEADERS, head)
    for row, u in enumerate(result.unmatched, start=1):
        values = [
            f"{MISMATCH_ZH[u.kind]} {MISMATCH_EN[u.kind]}",
            u.key,
            u.project_code,
            u.counterparty,
            u.amount,
            "、".join(u.documents),
            u.zh,
            u.en,
        ]
        for col, value in enumerate(values):
            _put(sheet, row, col, value, money, wrap if col >= 5 else None)
    if result.unmatched:
        sheet.autofilter(0, 0, len(result.unmatched), len(UNMATCHED_HEADERS) - 1)

    counts = report.counts()
    summary = book.add_worksheet("汇总 Summary")
    summary.set_column(0, 0, 36)
    summary.set_column(1, 1, 24)
    facts: list[tuple[str, object]] = [
        ("期间 period", result.period or ""),
        ("同步作业 sync job", report.job),
        ("源连接 source connection", report.source),
        ("项目 project", report.project or "全部 all"),
        ("合同/供应商 contracts", len(result.rows)),
        *((f"{MISMATCH_ZH[m]} {MISMATCH_EN[m]}", counts[m.value]) for m in Mismatch),
    ]
    summary.write_string(0, 0, "项目 item", head)
    summary.write_string(0, 1, "值 value", head)
    for row, (label, value) in enumerate(facts, start=1):
        summary.write_string(row, 0, label)
        _put(summary, row, 1, value, money)
    book.close()
    return buffer.getvalue()

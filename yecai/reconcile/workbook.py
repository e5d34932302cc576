"""A reconciliation run as an Excel workbook: a summary sheet and the differences, Chinese headers first.

Text cells are always written with `write_string`, and text that a spreadsheet would take for a
formula (starting with = + - @, a tab or a carriage return) also gets a leading apostrophe, so a
summary or project name typed into Kingdee or the source can never run as a formula (CSV/formula
injection) — not in Excel, nor after someone saves the sheet as CSV.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import xlsxwriter

from yecai import labels
from yecai.domain.text import inert
from yecai.localtime import shown
from yecai.reconcile.classify import KINDS
from yecai.reconcile.service import DifferenceView, RunView

HEADERS = (
    ("类型", "type"),
    ("项目", "project"),
    ("科目", "account"),
    ("期间", "period"),
    ("源系统金额", "source amount"),
    ("业财金额", "yecai amount"),
    ("金蝶金额", "Kingdee amount"),
    ("过账ID", "posting id"),
    ("过账键", "posting key"),
    ("金蝶凭证号", "Kingdee voucher"),
    ("单据ID", "document ids"),
    ("说明及处理", "explanation and what to do"),
    ("explanation (English)", "explanation (English)"),
)
WIDTHS = (22, 14, 14, 9, 14, 14, 14, 9, 22, 20, 14, 80, 80)


def safe_text(value: object) -> str:
    """The text of a cell, defused: a leading apostrophe before anything that starts a formula."""
    return inert("" if value is None else str(value))


def _put(sheet: Any, row: int, col: int, value: object, money: Any, style: Any = None) -> None:
    if isinstance(value, Decimal):
        sheet.write_number(row, col, float(value), money)
    elif isinstance(value, int) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    elif value is None:
        sheet.write_blank(row, col, None)
    else:
        sheet.write_string(row, col, safe_text(value), style)


def workbook(run: RunView, differences: list[DifferenceView]) -> bytes:
    """The run's workbook as bytes (what the CLI writes to a file and the API sends)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    money = book.add_format({"num_format": "#,##0.00"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})

    summary = book.add_worksheet("汇总 Summary")
    summary.set_column(0, 0, 44)
    summary.set_column(1, 1, 24)
    facts: list[tuple[str, object]] = [
        ("对账运行 run", run.id),
        ("期间 period", run.period),
        ("金蝶连接 Kingdee connection", run.connection or ""),
        ("同步作业 sync job", run.job or ""),
        ("状态 status", labels.both("state", run.status)),
        ("开始 started", shown(run.started_at, seconds=True)),
    ]
    for kind in KINDS:
        facts.append((labels.both("recon", kind), run.counts.get(kind, 0)))
    summary.write_string(0, 0, "项目 item", head)
    summary.write_string(0, 1, "值 value", head)
    for row, (label, value) in enumerate(facts, start=1):
        summary.write_string(row, 0, label)
        _put(summary, row, 1, value, money)

    sheet = book.add_worksheet("差异 Differences")
    for col, ((zh, en), width) in enumerate(zip(HEADERS, WIDTHS, strict=True)):
        sheet.write_string(0, col, zh if zh == en else f"{zh} {en}", head)
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)
    for row, d in enumerate(differences, start=1):
        values: list[object] = [
            labels.both("recon", d.kind),
            d.project,
            d.account,
            d.period,
            d.source_amount,
            d.yecai_amount,
            d.kingdee_amount,
            d.posting_id,
            d.posting_key,
            d.kingdee_number,
            ", ".join(str(i) for i in d.document_ids),
            d.message_zh,
            d.message_en,
        ]
        for col, value in enumerate(values):
            _put(sheet, row, col, value, money, wrap if col >= 11 else None)
    if differences:
        sheet.autofilter(0, 0, len(differences), len(HEADERS) - 1)
    book.close()
    return buffer.getvalue()

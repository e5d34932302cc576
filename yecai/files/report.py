"""The downloadable import report: an Excel workbook of what an import did and every bad row.

Sheets: 汇总 Summary (file, fingerprint, run, counts of imported / rejected / duplicate / warnings,
notes), 错误 Rejected (sheet, row, column header, value, reason 中文 and English, one line per
problem), 警告 Warnings (doubts about imported rows, e.g. a card number failing Luhn), 跳过
Skipped (total and note rows left out) and 列对照 Columns (which header fed which field). Built from the database, so it can be downloaded again
at any time; written with XlsxWriter in constant-memory mode, so a million problems fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xlsxwriter
from sqlalchemy import select

from yecai.domain.text import inert
from yecai.files.rows import RowIssue
from yecai.localtime import shown
from yecai.store.db import Store
from yecai.store.file_tables import FileImport, FileImportIssue

EXCEL_ROWS = 1_048_576
SUMMARY_SHEET = "汇总 Summary"
ERROR_SHEET = "错误 Rejected"
WARNING_SHEET = "警告 Warnings"
SKIPPED_SHEET = "跳过 Skipped"
COLUMN_SHEET = "列对照 Columns"
ISSUE_HEADERS = ("工作表 sheet", "行号 row", "列 column", "字段 field", "值 value", "原因", "reason")
COUNT_LABELS = (
    ("rows", "数据行 data rows"),
    ("imported", "已导入 imported"),
    ("rejected", "已拒绝 rejected"),
    ("duplicate", "重复 duplicate"),
    ("warnings", "警告 warnings"),
    ("skipped", "跳过（合计/备注/重复表头行）skipped (totals, notes, repeated headers)"),
)


def iter_issues(store: Store, import_id: int, severity: str | None = None) -> Iterator[FileImportIssue]:
    """The problems recorded for an import, in file order (errors and/or warnings)."""
    with store.transaction() as session:
        query = select(FileImportIssue).where(FileImportIssue.import_id == import_id)
        if severity is not None:
            query = query.where(FileImportIssue.severity == severity)
        query = query.order_by(FileImportIssue.sheet, FileImportIssue.row_number, FileImportIssue.id)
        yield from session.scalars(query.execution_options(yield_per=2000))


def first_issues(store: Store, import_id: int, limit: int = 50) -> list[RowIssue]:
    """Up to `limit` problems, rejections first, for printing."""
    out: list[RowIssue] = []
    for severity in ("error", "warning"):
        for item in iter_issues(store, import_id, severity):
            if len(out) >= limit:
                return out
            out.append(
                RowIssue(item.sheet, item.row_number, item.column, item.field, item.value, item.zh, item.en)
            )
    return out


def write_report(store: Store, import_id: int, path: Path, *, already: bool = False) -> Path:
    """Write the report workbook of an import to `path` (an .xlsx); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        path = path.with_suffix(".xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.transaction() as session:
        record = session.get(FileImport, import_id)
        if record is None:
            raise LookupError(f"file import {import_id} does not exist")
        info = {
            "file_name": record.file_name,
            "fingerprint": record.fingerprint,
            "kind": record.kind,
            "connection": record.connection,
            "run_id": record.run_id,
            "file_format": record.file_format,
            "encoding": record.encoding,
            "status": record.status,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "imported_by": record.imported_by,
            "template": record.template,
            "counts": dict(record.counts or {}),
            "notes": list(record.notes or []),
            "layout": dict(record.layout or {}),
        }
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    try:
        bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        _summary(workbook.add_worksheet(SUMMARY_SHEET), info, bold, wrap, already)
        for severity, name in (
            ("error", ERROR_SHEET),
            ("warning", WARNING_SHEET),
            ("skipped", SKIPPED_SHEET),
        ):
            _issues(workbook.add_worksheet(name), iter_issues(store, import_id, severity), bold, wrap)
        _columns(workbook.add_worksheet(COLUMN_SHEET), info["layout"], bold)
    finally:
        workbook.close()
    return path


def _text(sheet: Any, row: int, col: int, value: object, style: Any = None) -> None:
    # write_string, never write(), and `inert`: a value like "=1+1" from a bad row (or a file named
    # so) must not become a formula, neither now nor when someone edits the cell or saves as CSV
    sheet.write_string(row, col, inert("" if value is None else str(value)), style)


def _stamp(value: Any) -> str:
    return shown(value, seconds=True, empty="")


def _summary(sheet: Any, info: dict[str, Any], bold: Any, wrap: Any, already: bool) -> None:
    sheet.set_column(0, 0, 36)
    sheet.set_column(1, 1, 90)
    status = {"imported": "已导入 imported", "importing": "导入中或已中断 importing / interrupted"}.get(
        info["status"], info["status"]
    )
    if already:
        status = "此前已导入，本次未导入任何行 already imported earlier; nothing imported this time"
    rows: list[tuple[str, object]] = [
        ("文件 file", info["file_name"]),
        ("文件指纹 SHA-256", info["fingerprint"]),
        ("导入类型 kind", info["kind"]),
        ("连接 connection", info["connection"]),
        ("运行 run", info["run_id"]),
        ("格式 format", info["file_format"]),
        ("编码 encoding", info["encoding"] or ""),
        ("列映射模板 column template", info["template"] or ""),
        ("状态 status", status),
        ("开始 started", _stamp(info["started_at"])),
        ("完成 finished", _stamp(info["finished_at"])),
        ("导入人 imported by", info["imported_by"]),
    ]
    _text(sheet, 0, 0, "项目 item", bold)
    _text(sheet, 0, 1, "内容 value", bold)
    line = 1
    for label, value in rows:
        _text(sheet, line, 0, label)
        _text(sheet, line, 1, value)
        line += 1
    line += 1
    _text(sheet, line, 0, "行数 rows", bold)
    _text(sheet, line, 1, "", bold)
    line += 1
    for key, label in COUNT_LABELS:
        _text(sheet, line, 0, label)
        sheet.write_number(line, 1, int(info["counts"].get(key, 0)))
        line += 1
    if info["notes"]:
        line += 1
        _text(sheet, line, 0, "说明 notes", bold)
        _text(sheet, line, 1, "", bold)
        line += 1
        for zh, en in info["notes"]:
            _text(sheet, line, 0, "")
            _text(sheet, line, 1, f"{zh}\n{en}", wrap)
            line += 1


def _issues(sheet: Any, issues: Iterator[FileImportIssue], bold: Any, wrap: Any) -> None:
    widths = (16, 8, 22, 16, 28, 60, 60)
    for col, (title, width) in enumerate(zip(ISSUE_HEADERS, widths, strict=True)):
        sheet.set_column(col, col, width)
        _text(sheet, 0, col, title, bold)
    sheet.freeze_panes(1, 0)
    line = 1
    left = 0
    for item in issues:
        if line >= EXCEL_ROWS - 1:
            left += 1
            continue
        _text(sheet, line, 0, item.sheet)
        sheet.write_number(line, 1, item.row_number)
        _text(sheet, line, 2, item.column)
        _text(sheet, line, 3, item.field)
        _text(sheet, line, 4, item.value)
        _text(sheet, line, 5, item.zh)
        _text(sheet, line, 6, item.en)
        line += 1
    if left:
        _text(
            sheet,
            line,
            0,
            f"另有 {left} 条未列出（超过 Excel 行数上限） / {left} more not listed (Excel row limit)",
        )
    sheet.autofilter(0, 0, max(line - 1, 1), len(ISSUE_HEADERS) - 1)


def _columns(sheet: Any, layout: dict[str, Any], bold: Any) -> None:
    titles = ("工作表 sheet", "表头行 header rows", "列 column", "表头 header", "字段 field")
    for col, title in enumerate(titles):
        sheet.set_column(col, col, 20)
        _text(sheet, 0, col, title, bold)
    line = 1
    for item in layout.get("sheets", []):
        rows = ", ".join(str(n) for n in item.get("header_rows", []))
        for column in item.get("columns", []):
            _text(sheet, line, 0, item.get("sheet"))
            _text(sheet, line, 1, rows)
            _text(sheet, line, 2, column.get("letter"))
            _text(sheet, line, 3, column.get("header"))
            _text(sheet, line, 4, column.get("field") or "（未导入 not imported）")
            line += 1

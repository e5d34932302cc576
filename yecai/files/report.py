"""The downloadable import report: an Excel workbook of what an import did with every row.

Sheets: 汇总 Summary (file, fingerprint, run, counts of imported / rejected / duplicate / held /
warnings, notes), 已导入 Imported (each row stored: file row, business key, document, new record or
new version), 重复 Duplicates (each row not stored because it repeats an earlier one: file row,
business key, how it matches and the earlier import, row and document it repeats, what differs),
错误 Rejected (sheet, row, column header, value, reason 中文 and English, one line per problem),
警告 Warnings (doubts about rows, e.g. a card number failing Luhn, a formula without its result),
跳过 Skipped (total and note rows left out) and 列对照 Columns (which header fed which field). Built
from the database, so it can be downloaded again at any time; written with XlsxWriter in
constant-memory mode, so a million rows fit. Every text goes through `inert`: nothing a file held
becomes a formula in the report.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
import xlsxwriter.exceptions
from sqlalchemy import or_, select

from yecai import jsonutil
from yecai.domain.documents import CATEGORY_NAMES_ZH, CostCategory
from yecai.domain.text import inert
from yecai.files.problems import FileProblem
from yecai.files.rows import RowIssue
from yecai.localtime import shown
from yecai.store.db import Store
from yecai.store.file_tables import FileImport, FileImportIssue
from yecai.store.tables import Document, Record

log = logging.getLogger(__name__)

EXCEL_ROWS = 1_048_576
SUMMARY_SHEET = "汇总 Summary"
IMPORTED_SHEET = "已导入 Imported"
DUPLICATE_SHEET = "重复 Duplicates"
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
    ("held", "待确认（近似重复，未导入）held near-duplicates (not imported)"),
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
        money = workbook.add_format({"num_format": "#,##0.00"})
        _imported(workbook.add_worksheet(IMPORTED_SHEET), store, import_id, info["run_id"], bold, money)
        _duplicates(workbook.add_worksheet(DUPLICATE_SHEET), store, import_id, bold, wrap, money)
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


def write_problem_report(
    path: Path,
    *,
    file_name: str,
    kind: str,
    connection: str,
    problem: FileProblem,
    run_id: int | None = None,
) -> Path:
    """The report of a file that could not be imported at all: what was tried and why it failed.

    Asked-for reports are always written, so that whoever collects them (a script, a colleague)
    finds the reason next to the other reports instead of a missing file.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        path = path.with_suffix(".xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    try:
        bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        sheet = workbook.add_worksheet(SUMMARY_SHEET)
        sheet.set_column(0, 0, 36)
        sheet.set_column(1, 1, 90)
        rows: list[tuple[str, object]] = [
            ("文件 file", file_name),
            ("导入类型 kind", kind),
            ("连接 connection", connection),
            ("运行 run", "" if run_id is None else run_id),
            ("状态 status", "未导入：文件无法读取 not imported: the file could not be read"),
            ("问题 problem", problem.code),
            ("原因", problem.zh),
            ("reason", problem.en),
            ("时间 time", _stamp(dt.datetime.now(dt.UTC))),
        ]
        _text(sheet, 0, 0, "项目 item", bold)
        _text(sheet, 0, 1, "内容 value", bold)
        for line, (label, value) in enumerate(rows, start=1):
            _text(sheet, line, 0, label)
            _text(sheet, line, 1, value, wrap)
    finally:
        workbook.close()
    return path


def problem_report(path: Path, **details: Any) -> Path | None:
    """`write_problem_report`, never raising: a report that cannot be written must not hide the problem."""
    try:
        return write_problem_report(path, **details)
    except (OSError, xlsxwriter.exceptions.XlsxWriterException):
        log.warning("could not write the import report %s", path, exc_info=True)
        return None


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


KEY_HEADERS = ("项目编码 project", "业务日期 date", "类别 category", "金额 amount", "单据键 source reference")
IMPORTED_HEADERS = ("工作表 sheet", "行号 row", *KEY_HEADERS, "单据 document", "结果 outcome")
DUPLICATE_HEADERS = (
    "工作表 sheet",
    "行号 row",
    *KEY_HEADERS,
    "判定 match",
    "重复的单据 duplicates document",
    "来自 earlier import",
    "不同之处 differences",
    "原因",
    "reason",
)
BATCH = 1000


def _heading(sheet: Any, titles: tuple[str, ...], widths: tuple[int, ...], bold: Any) -> None:
    for col, (title, width) in enumerate(zip(titles, widths, strict=True)):
        sheet.set_column(col, col, width)
        _text(sheet, 0, col, title, bold)
    sheet.freeze_panes(1, 0)


def _category(code: str | None) -> str:
    # the accountant's word first; the code after it, for integrators
    if not code:
        return ""
    try:
        return f"{CATEGORY_NAMES_ZH[CostCategory(code)]} {code}"
    except ValueError:
        return code


def _key_cells(
    sheet: Any, line: int, project: Any, date: Any, category: Any, amount: Any, key: str, money: Any
) -> None:
    _text(sheet, line, 2, project)
    _text(sheet, line, 3, date.isoformat() if isinstance(date, dt.date) else date)
    _text(sheet, line, 4, _category(category))
    if amount is None or amount == "":
        _text(sheet, line, 5, "")
    else:
        sheet.write_number(line, 5, float(Decimal(str(amount))), money)
    _text(sheet, line, 6, "" if key.startswith("row:") else key)


def _origin(payload: str) -> tuple[str, int]:
    origin = jsonutil.loads(payload).get("origin", {})
    return str(origin.get("sheet", "")), int(origin.get("row", 0))


def _imported(sheet: Any, store: Store, import_id: int, run_id: int | None, bold: Any, money: Any) -> None:
    """Each row this import stored as a document: where it is in the file and what it is."""
    _heading(sheet, IMPORTED_HEADERS, (16, 8, 14, 12, 16, 14, 22, 10, 30), bold)
    line = 1
    if run_id is None:
        return
    revived = {item.record_id for item in iter_issues(store, import_id, "revived")}
    with store.transaction() as session:
        query = (
            select(
                Record.id,
                Record.payload,
                Record.revision,
                Document.id,
                Document.source_key,
                Document.project_code,
                Document.business_date,
                Document.category,
                Document.amount,
            )
            .join(Document, Document.record_id == Record.id)
            .where(or_(Record.run_id == run_id, Record.id.in_(revived)), Record.status == "valid")
            .order_by(Record.id, Document.id)
        )
        for (
            record_id,
            payload,
            revision,
            document_id,
            key,
            project,
            date,
            category,
            amount,
        ) in session.execute(query.execution_options(yield_per=2000)):
            if line >= EXCEL_ROWS - 1:
                _text(
                    sheet,
                    line,
                    0,
                    "其余未列出（超过 Excel 行数上限） / the rest not listed (Excel row limit)",
                )
                return
            where, number = _origin(payload)
            _text(sheet, line, 0, where)
            sheet.write_number(line, 1, number)
            _key_cells(sheet, line, project, date, category, amount, key, money)
            sheet.write_number(line, 7, document_id)
            if record_id in revived:
                outcome = "已恢复（此前无效，现在有效）revived (invalid before, valid now)"
            elif revision > 1:
                outcome = f"新版本（第 {revision} 版）new version (revision {revision})"
            else:
                outcome = "新单据 new record"
            _text(sheet, line, 8, outcome)
            line += 1
    sheet.autofilter(0, 0, max(line - 1, 1), len(IMPORTED_HEADERS) - 1)


def _earlier(store: Store, record_ids: set[int]) -> dict[int, str]:
    """Record id → "file · run N · sheet!row": the earlier import a duplicate repeats."""
    out: dict[int, str] = {}
    ids = sorted(record_ids)
    with store.transaction() as session:
        for start in range(0, len(ids), BATCH):
            found = session.execute(
                select(Record.id, Record.run_id, Record.payload, FileImport.file_name)
                .outerjoin(FileImport, FileImport.run_id == Record.run_id)
                .where(Record.id.in_(ids[start : start + BATCH]))
            )
            for record_id, run_id, payload, file_name in found:
                where, number = _origin(payload)
                parts = [
                    file_name or "",
                    f"运行 run {run_id}" if run_id else "",
                    f"{where}!{number}" if number else "",
                ]
                out[record_id] = " · ".join(part for part in parts if part)
    return out


def _duplicates(sheet: Any, store: Store, import_id: int, bold: Any, wrap: Any, money: Any) -> None:
    """Each row not stored because it repeats an earlier one (or nearly does: held to confirm)."""
    _heading(sheet, DUPLICATE_HEADERS, (16, 8, 14, 12, 16, 14, 22, 30, 12, 40, 50, 60, 60), bold)
    line = 1
    batch: list[FileImportIssue] = []

    def flush() -> int:
        nonlocal line
        earlier = _earlier(store, {item.record_id for item in batch if item.record_id is not None})
        for item in batch:
            if line >= EXCEL_ROWS - 1:
                _text(
                    sheet,
                    line,
                    0,
                    "其余未列出（超过 Excel 行数上限） / the rest not listed (Excel row limit)",
                )
                return line
            value = jsonutil.loads(item.value) if item.value.startswith("{") else {}
            _text(sheet, line, 0, item.sheet)
            sheet.write_number(line, 1, item.row_number)
            _key_cells(
                sheet,
                line,
                value.get("project"),
                value.get("date"),
                value.get("category"),
                value.get("amount"),
                str(value.get("key") or ""),
                money,
            )
            _text(sheet, line, 7, item.column)
            if value.get("document") is not None:
                sheet.write_number(line, 8, int(value["document"]))
            else:
                _text(sheet, line, 8, "")
            if value.get("row") is not None and item.field == "in_file":
                source = f"本文件第 {value['row']} 行 row {value['row']} of this file"
            else:
                source = earlier.get(item.record_id or 0, "")
            _text(sheet, line, 9, source, wrap)
            differs = "\n".join(
                f"{d['header']}: {d['stored']} → {d['row']}" for d in value.get("differs", [])
            )
            _text(sheet, line, 10, differs, wrap)
            _text(sheet, line, 11, item.zh, wrap)
            _text(sheet, line, 12, item.en, wrap)
            line += 1
        batch.clear()
        return line

    for item in iter_issues(store, import_id, "duplicate"):
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    flush()
    sheet.autofilter(0, 0, max(line - 1, 1), len(DUPLICATE_HEADERS) - 1)


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

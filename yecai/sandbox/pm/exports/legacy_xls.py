"""Writing one export layout to a legacy .xls (BIFF8) sheet with xlwt, as older systems still do.

Same layout as the .xlsx: title row merged across, 导出时间 / 单位：元, the (two-row) header, the
data and the 合计 footer. BIFF8 holds 65,536 rows, so this variant is for one project's ledger.
xlwt is an optional (development) dependency; without it this variant is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from yecai.sandbox.pm.exports.layouts import Layout

MAX_ROWS = 65_536


def xlwt_available() -> bool:
    try:
        import xlwt  # noqa: F401
    except ImportError:
        return False
    return True


def write_xls(path: Path, layout: Layout, rows: Sequence[Any], title: str, exported_at: datetime) -> int:
    import xlwt

    header_rows = 2 if layout.grouped else 1
    if len(rows) + 3 + header_rows > MAX_ROWS:
        raise ValueError(f"{len(rows)} rows do not fit an .xls sheet (at most {MAX_ROWS} rows in all)")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet(layout.sheet)
    font = "font: name 宋体, height 200;"
    title_style = xlwt.easyxf("font: name 宋体, height 320, bold on; align: horiz center, vert center")
    info_style = xlwt.easyxf(font)
    unit_style = xlwt.easyxf(font + " align: horiz right")
    head_style = xlwt.easyxf(
        font
        + " font: bold on; align: horiz center, vert center, wrap on; borders: left thin, right thin, top thin, bottom thin"
    )
    text_style = xlwt.easyxf(font + " borders: left thin, right thin, top thin, bottom thin")
    styles = {
        "money": xlwt.easyxf(
            font + " borders: left thin, right thin, top thin, bottom thin", num_format_str="#,##0.00"
        ),
        "quantity": xlwt.easyxf(
            font + " borders: left thin, right thin, top thin, bottom thin", num_format_str="0.####"
        ),
        "rate": xlwt.easyxf(
            font + " borders: left thin, right thin, top thin, bottom thin", num_format_str="0%"
        ),
        "hours": xlwt.easyxf(
            font + " borders: left thin, right thin, top thin, bottom thin", num_format_str="0.#"
        ),
        "int": xlwt.easyxf(
            font + " borders: left thin, right thin, top thin, bottom thin", num_format_str="0"
        ),
        "date": xlwt.easyxf(
            font + " borders: left thin, right thin, top thin, bottom thin", num_format_str="yyyy-mm-dd"
        ),
    }
    bold = xlwt.easyxf(
        font + " font: bold on; borders: left thin, right thin, top thin, bottom thin",
        num_format_str="#,##0.00",
    )
    columns = layout.columns
    last = len(columns) - 1
    for index, column in enumerate(columns):
        sheet.col(index).width = 256 * column.width
    sheet.write_merge(0, 0, 0, last, title, title_style)
    split = max(1, last - 1)
    sheet.write_merge(1, 1, 0, split - 1, f"导出时间：{exported_at:%Y-%m-%d %H:%M:%S}", info_style)
    sheet.write_merge(1, 1, split, last, "单位：元", unit_style)
    row = 2
    if layout.grouped:
        index = 0
        while index <= last:
            group = columns[index].group
            end = index
            while group and end + 1 <= last and columns[end + 1].group == group:
                end += 1
            if group:
                sheet.write_merge(row, row, index, end, group, head_style)
                for sub in range(index, end + 1):
                    sheet.write(row + 1, sub, columns[sub].header, head_style)
            else:
                sheet.write_merge(row, row + 1, index, index, columns[index].header, head_style)
            index = end + 1
        row += 2
    else:
        for index, column in enumerate(columns):
            sheet.write(row, index, column.header, head_style)
        row += 1
    totals: dict[int, Decimal] = {i: Decimal(0) for i, column in enumerate(columns) if column.total}
    for number, record in enumerate(rows, start=1):
        for index, column in enumerate(columns):
            value = number if index == 0 else column.value(record)
            if index in totals:
                totals[index] += value
            if value is None or value == "":
                sheet.write(row, index, "", text_style)
            elif column.kind == "text":
                sheet.write(row, index, str(value), text_style)
            elif column.kind == "date" and isinstance(value, date):
                sheet.write(row, index, datetime(value.year, value.month, value.day), styles["date"])
            else:
                sheet.write(row, index, float(value), styles[column.kind])  # a BIFF cell is a double
        row += 1
    first_total = min(totals) if totals else last + 1
    if first_total > 1:
        sheet.write_merge(row, row, 0, first_total - 1, "合计", head_style)
    else:
        sheet.write(row, 0, "合计", head_style)
    for index in range(first_total, last + 1):
        sheet.write(row, index, float(totals[index]) if index in totals else "", bold)
    book.save(str(path))
    return len(rows)

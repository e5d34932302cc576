"""Writing one export layout to an .xlsx sheet with XlsxWriter, in bounded memory.

`constant_memory` mode flushes each row as the next begins, so rows go strictly top to bottom.
Layout: title merged across (row 1), 导出时间 and 单位：元 (row 2), a one- or two-row header,
the data, and the 合计 footer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from yecai.sandbox.pm.exports.layouts import Layout

_NUMBER_FORMATS = {
    "money": "#,##0.00",
    "quantity": "0.####",
    "rate": "0%",
    "hours": "0.#",
    "int": "0",
    "date": "yyyy-mm-dd",
}


def write_xlsx(path: Path, layout: Layout, rows: Iterable[Any], title: str, exported_at: datetime) -> int:
    """Write `rows` under `layout` to a new workbook at `path`; returns the number of data rows."""
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    try:
        return _write_sheet(workbook, layout, rows, title, exported_at)
    finally:
        workbook.close()


def _write_sheet(
    workbook: xlsxwriter.Workbook, layout: Layout, rows: Iterable[Any], title: str, exported_at: datetime
) -> int:
    sheet: Worksheet = workbook.add_worksheet(layout.sheet)
    font = {"font_name": "宋体", "font_size": 10}
    title_format = workbook.add_format(
        {**font, "bold": True, "font_size": 16, "align": "center", "valign": "vcenter"}
    )
    info_format = workbook.add_format(font)
    unit_format = workbook.add_format({**font, "align": "right"})
    head_format = workbook.add_format(
        {
            **font,
            "bold": True,
            "align": "center",
            "valign": "vcenter",
            "border": 1,
            "bg_color": "#DDEBF7",
            "text_wrap": True,
        }
    )
    text_format = workbook.add_format({**font, "border": 1, "num_format": "@"})
    cell_formats = {
        kind: workbook.add_format({**font, "border": 1, "num_format": fmt})
        for kind, fmt in _NUMBER_FORMATS.items()
    }
    total_label = workbook.add_format({**font, "bold": True, "border": 1, "align": "center"})
    total_money = workbook.add_format(
        {**font, "bold": True, "border": 1, "num_format": _NUMBER_FORMATS["money"]}
    )
    total_plain = workbook.add_format({**font, "bold": True, "border": 1, "num_format": "0.##"})

    columns = layout.columns
    last_col = len(columns) - 1
    for index, column in enumerate(columns):
        sheet.set_column(index, index, column.width)

    sheet.set_row(0, 30)
    sheet.merge_range(0, 0, 0, last_col, title, title_format)
    split = max(1, last_col - 1)
    sheet.merge_range(1, 0, 1, split - 1, f"导出时间：{exported_at:%Y-%m-%d %H:%M:%S}", info_format)
    sheet.merge_range(1, split, 1, last_col, "单位：元", unit_format)

    row = 2
    if layout.grouped:
        # group row: one merged cell per run of columns sharing a group; an ungrouped header
        # spans both header rows
        index = 0
        while index <= last_col:
            group = columns[index].group
            end = index
            while group and end + 1 <= last_col and columns[end + 1].group == group:
                end += 1
            if group and end > index:
                sheet.merge_range(row, index, row, end, group, head_format)
            elif group:
                sheet.write_string(row, index, group, head_format)
            else:
                _merge_down(sheet, row, index, columns[index].header, head_format)
            index = end + 1
        for index, column in enumerate(columns):
            if column.group:
                sheet.write_string(row + 1, index, column.header, head_format)
            else:
                sheet.write_blank(row + 1, index, None, head_format)
        row += 2
    else:
        for index, column in enumerate(columns):
            sheet.write_string(row, index, column.header, head_format)
        row += 1
    sheet.freeze_panes(row, 0)

    totals: dict[int, Decimal] = {i: Decimal(0) for i, column in enumerate(columns) if column.total}
    count = 0
    for record in rows:
        count += 1
        for index, column in enumerate(columns):
            value = count if index == 0 else column.value(record)
            if index in totals:
                totals[index] += value
            _write_cell(sheet, row, index, value, column.kind, text_format, cell_formats)
        row += 1

    if layout.footer == "count":
        sheet.merge_range(row, 0, row, last_col, f"合计：{count} 人", total_label)
    else:
        first_total = min(totals) if totals else last_col + 1
        label_end = max(0, first_total - 1)
        if label_end > 0:
            sheet.merge_range(row, 0, row, label_end, "合计", total_label)
        else:
            sheet.write_string(row, 0, "合计", total_label)
        for index in range(first_total, last_col + 1):
            if index in totals:
                fmt = total_money if columns[index].kind == "money" else total_plain
                sheet.write_number(row, index, float(totals[index]), fmt)
            else:
                sheet.write_blank(row, index, None, total_label)
    return count


def _merge_down(sheet: Worksheet, row: int, col: int, text: str, cell_format: Any) -> None:
    """Merge (row, col) with the cell below, writing only the top cell now.

    In constant_memory mode merge_range() writes the lower cell at once, which flushes the upper
    row, and then refuses every further range that starts on it. Merged ranges are only listed
    when the sheet is closed, so the range is recorded as merge_range() records it, and the lower
    cell is written (blank, same format) when its row comes.
    """
    sheet.write_string(row, col, text, cell_format)
    sheet.merge.append([row, col, row + 1, col])


def _write_cell(
    sheet: Worksheet, row: int, col: int, value: Any, kind: str, text_format: Any, formats: dict[str, Any]
) -> None:
    if value is None or value == "":
        sheet.write_blank(row, col, None, formats["int"] if kind != "text" else text_format)
    elif kind == "text":
        sheet.write_string(row, col, str(value), text_format)
    elif kind == "date" and isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats["date"])
    else:
        # The spreadsheet cell is a binary double, as in every xlsx; Decimals of up to 15 significant
        # digits survive the trip (the reader's shortest repr gives the same digits back).
        sheet.write_number(row, col, float(value), formats[kind])

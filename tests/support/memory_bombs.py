"""Workbooks that make a parser ask for absurd memory: tiny files declaring a huge sheet range.

python-calamine allocates the whole declared range of a sheet (32 bytes a cell) before the first
row comes out, so a 5 KB file with one cell far away asks for gigabytes: at XFD1048576 (the last
cell Excel allows) 512 GB, and the allocation failure aborts the process. The import worker is
what contains that (yecai.files.isolated).
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

COST_HEADER = ["单据编号", "项目编码", "成本类别", "业务日期", "金额"]


def far_cell_workbook(path: Path, row: int = 1048575, col: int = 16383) -> Path:
    """A cost-ledger header, one data row, and one number at (row, col), 0-based: XFD1048576 by default."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for number, title in enumerate(COST_HEADER):
        sheet.write(0, number, title)
    sheet.write_row(1, 0, ["CB-0001", "XM2026001", "人工费", "2026-10-05", 100])
    sheet.write(row, col, 1)
    workbook.close()
    return path


def wide_range_workbook(path: Path) -> Path:
    """A cell at row 20,000, column 1,000: a range calamine allocates as 640 MB — within Excel's limits."""
    return far_cell_workbook(path, row=19999, col=999)

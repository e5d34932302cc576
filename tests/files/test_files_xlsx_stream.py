"""The streaming xlsx reader gives the rows calamine gives, in memory that does not grow with the sheet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from tests.support.hostile_workbooks import streamed_peak
from tests.support.spreadsheets import FORMATS, GOOD, write_export, write_xlsx
from yecai.files import import_file, xlsx_stream
from yecai.files.xlsx_stream import StreamedWorkbook, is_date_format
from yecai.store.db import Store


def mixed_workbook(path: Path, constant_memory: bool) -> Path:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
    sheet = workbook.add_worksheet("成本")
    formats = [
        workbook.add_format({"num_format": code})
        for code in ("yyyy-mm-dd", 14, 'yyyy"年"m"月"d"日"', "hh:mm", '#,##0.00 "元"', "yyyy-mm-dd hh:mm:ss")
    ]
    sheet.merge_range(0, 0, 0, 5, "合肥建工集团 成本台账")
    sheet.write_row(2, 1, ["项目编码", 1.5, True, 0.1 + 0.2])
    day, clock = dt.datetime(2026, 10, 5), dt.datetime(1899, 12, 31, 7, 30)
    for col, value in enumerate((day, day, day, clock, 1234.5, dt.datetime(2026, 10, 5, 8, 30))):
        if isinstance(value, dt.datetime):
            sheet.write_datetime(3, col, value, formats[col])
        else:
            sheet.write_number(3, col, value, formats[col])
    sheet.write_formula(4, 1, '="x"&"y"', None, "xy")
    sheet.write_rich_string(4, 2, "红", workbook.add_format({"bold": True}), "字")
    sheet.write(6, 3, "末行")
    hidden = workbook.add_worksheet("隐藏")
    hidden.hide()
    hidden.write(0, 0, "x")
    workbook.close()
    return path


def calamine_rows(path: Path, sheet: str) -> list[list]:
    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet)
    offset = data.start[1] if data.start else 0
    out = []
    for row in data.iter_rows():
        cells = [None] * offset + [None if c == "" else c for c in row]
        while cells and cells[-1] is None:
            cells.pop()
        out.append(cells)
    return out


@pytest.mark.parametrize("constant_memory", [False, True], ids=["shared-strings", "inline-strings"])
def test_streamed_rows_equal_calamine_rows(tmp_path: Path, constant_memory: bool) -> None:
    path = mixed_workbook(tmp_path / "mixed.xlsx", constant_memory)
    book = StreamedWorkbook(str(path))
    streamed = [row.cells for row in book.rows("成本")]
    assert [row for row in streamed] == calamine_rows(path, "成本")
    assert book.merged("成本") == [((0, 0), (0, 5))]
    assert book.visible == ["成本"]
    assert streamed[3][5] == dt.datetime(2026, 10, 5, 8, 30)  # not 08:29:59.999999
    book.close()


def test_every_export_fixture_reads_the_same(tmp_path: Path) -> None:
    for kind in GOOD:
        path = write_export(tmp_path, kind, "xlsx")
        book = StreamedWorkbook(str(path))
        assert [r.cells for r in book.rows("导出")] == calamine_rows(path, "导出"), kind
        book.close()


def test_date_formats() -> None:
    for code in ("yyyy-mm-dd", "m/d/yy h:mm", 'yyyy"年"m"月"', "[$-804]aaaa", "hh:mm:ss", "[h]:mm"):
        assert is_date_format(code) or code == "[$-804]aaaa", code
    for code in ("0.00", '#,##0.00 "元"', "0%", "[Red]0.00", "General", '"合计"0'):
        assert not is_date_format(code), code


@pytest.mark.parametrize("kind", list(GOOD))
def test_imports_through_the_streaming_reader(
    store: Store, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_stream, "STREAM_BYTES", 0)  # every sheet counts as large
    _header, rows, _ = GOOD[kind]
    assert "xlsx" in FORMATS
    result = import_file(store, write_export(tmp_path, kind, "xlsx"), kind=kind)
    assert (result.counts.imported, result.counts.rejected, result.counts.skipped) == (len(rows), 0, 2)


def test_merged_two_row_headers_through_the_streaming_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.files.test_files_layout import MERGES, TWO_ROW, _check_two_row, layout_of

    monkeypatch.setattr(xlsx_stream, "STREAM_BYTES", 0)
    _check_two_row(layout_of(write_xlsx(tmp_path / "two.xlsx", TWO_ROW, merges=MERGES)))


def _peak(path: Path) -> int:
    count, peak = streamed_peak(path)
    assert count > 0
    return peak


@pytest.mark.slow
def test_memory_does_not_grow_with_the_sheet(tmp_path: Path) -> None:
    # inline strings (what streaming writers produce): nothing but the current row is held; a
    # shared-strings workbook also keeps its table of distinct strings, which Excel itself needs
    def ledger(rows: int) -> Path:
        path = tmp_path / f"{rows}.xlsx"
        workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = workbook.add_worksheet("导出")
        sheet.write_row(0, 0, ["单据编号", "项目编码", "成本类别", "日期", "金额"])
        for n in range(1, rows + 1):
            sheet.write_row(n, 0, [f"CB{n:07d}", "XM2026001", "人工费", "2026-10-05", n + 0.5])
        workbook.close()
        return path

    small, large = _peak(ledger(2_500)), _peak(ledger(20_000))
    assert large < small * 1.5 + 500_000  # eight times the rows, about the same memory

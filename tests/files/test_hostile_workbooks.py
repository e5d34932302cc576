"""Hostile and damaged workbooks: bounded before calamine sees them, read row by row when odd.

A 5 KB xlsx with one cell at XFD1048576 made python-calamine allocate 512 GB and abort the whole
process; an ods row repeated a million times, an xls DIMENSIONS record and a shared strings table
claiming four billion entries did the same. Those run in a child process limited to 1 GiB of address
space, so that before the fix the child dies (not pytest) and after it the real cells are imported.
Every malformation of sheet XML becomes one clear bad row beside the good rows; zip bombs and
oversized parts are refused whole, with a message naming the file.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.support.hostile_workbooks import (
    DATE_STYLE,
    MAIN,
    cell_xml,
    import_in_subprocess,
    lie_about_size,
    ods_cell,
    ods_row,
    row_xml,
    rows_xml,
    set_xls_dimensions,
    sheet_xml,
    write_ods,
    write_package,
    write_sheet,
)
from tests.support.spreadsheets import GOOD, sheet_rows, write_xls
from yecai import jsonutil
from yecai.files import FileProblem, import_file, preflight
from yecai.files.xlsx_stream import StreamedWorkbook
from yecai.store.db import Store
from yecai.store.tables import Record

HEADER, ROWS, _ = GOOD["cost"]
CONTENT = sheet_rows(HEADER, ROWS)  # title, export time, blank, header (row 4), data rows 5–7, footers
AMOUNT = HEADER.index("金额")


def good_xml(rows: list[list[Any]] | None = None) -> str:
    return rows_xml(sheet_rows(HEADER, rows if rows is not None else ROWS))


def imported_keys(store: Store) -> list[tuple[int, str]]:
    """(row, 单据编号) of every valid record, in file order."""
    with store.transaction() as session:
        payloads = session.scalars(select(Record.payload).where(Record.status == "valid").order_by(Record.id))
        out = []
        for text in payloads:
            payload = jsonutil.loads(text)
            out.append((payload["origin"]["row"], payload["cells"].get("单据编号")))
        return out


def issues_of(result: Any) -> list[tuple[int, str, str]]:
    return [(issue.row, issue.zh, issue.en) for issue in result.issues]


# -- bounds: what once aborted the process ----------------------------------------------------


def far_cell_workbook(path: Path, row: int, col: int) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("导出")
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for r, values in enumerate(CONTENT):
        for c, value in enumerate(values):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), day)
            elif value is not None:
                sheet.write(r, c, value)
    sheet.write(row, col, 1)
    workbook.close()
    return path


@pytest.mark.slow  # a capped subprocess apiece
@pytest.mark.parametrize(("ref", "row", "col"), [("XFD1048576", 1048575, 16383), ("ZZ1000000", 999999, 701)])
def test_one_far_cell_reads_only_the_real_cells(tmp_path: Path, ref: str, row: int, col: int) -> None:
    path = far_cell_workbook(tmp_path / f"{ref}.xlsx", row, col)
    assert path.stat().st_size < 10_000
    done = import_in_subprocess(path, "cost", memory_mb=1024)
    assert done["outcome"] == "imported", done
    # the three good rows land; the lone far cell is a row with nothing to import, listed as such
    assert (done["counts"]["imported"], done["counts"]["rejected"]) == (3, 1)
    assert [issue[0] for issue in done["issues"]] == [row + 1] * len(done["issues"])


@pytest.mark.slow  # a capped subprocess apiece
@pytest.mark.parametrize(
    ("label", "bad_row"),
    [
        ("column beyond XFD", row_xml(6, ROWS[1])[: -len("</row>")] + '<c r="ZZZZZZZ6"><v>1</v></c></row>'),
        ("row beyond 1048576", '<row r="99999999"><c r="A99999999"><v>1</v></c></row>'),
        ("cell beyond 1048576", '<row r="6"><c r="A6"><v>2</v></c><c r="B99999999"><v>1</v></c></row>'),
    ],
    ids=["ZZZZZZZ6", "row-99999999", "B99999999"],
)
def test_refs_beyond_the_excel_grid_are_bad_rows(tmp_path: Path, label: str, bad_row: str) -> None:
    rows = rows_xml(CONTENT[:5]) + bad_row + row_xml(7, ROWS[2]) + rows_xml(CONTENT[-2:], first=8)
    done = import_in_subprocess(write_sheet(tmp_path / "far.xlsx", rows), "cost", memory_mb=1024)
    assert done["outcome"] == "imported", (label, done)
    assert done["counts"]["imported"] == 2, (label, done)
    assert done["counts"]["rejected"] == 1, (label, done)
    [(_number, zh, en)] = [issue for issue in done["issues"]]
    assert "Excel" in zh, zh
    assert "Excel" in en, en


@pytest.mark.slow  # a capped subprocess apiece
def test_a_shared_strings_table_claiming_four_billion_entries(tmp_path: Path) -> None:
    strings = [str(v) for row in CONTENT for v in row if isinstance(v, str)]
    index = {text: i for i, text in enumerate(dict.fromkeys(strings))}
    items = "".join(f"<si><t>{text}</t></si>" for text in index)
    sst = f'<sst xmlns="{MAIN}" count="4000000000" uniqueCount="4000000000">{items}</sst>'
    data = ""
    for r, values in enumerate(CONTENT, start=1):
        cells = ""
        for c, value in enumerate(values):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, str):
                cells += f'<c r="{ref}" t="s"><v>{index[value]}</v></c>'
            else:
                cells += cell_xml(ref, value)
        data += f'<row r="{r}">{cells}</row>' if cells else ""
    path = write_sheet(tmp_path / "sst.xlsx", data, shared_strings=sst)
    done = import_in_subprocess(path, "cost", memory_mb=1024)
    assert done["outcome"] == "imported", done
    assert done["counts"]["imported"] == 3


@pytest.mark.slow  # a capped subprocess apiece
def test_an_ods_repeating_a_filled_cell_over_millions_of_cells_is_refused(tmp_path: Path) -> None:
    flood = ods_row(ods_cell(1, repeat=16000), repeat=6000)  # 96 M cells from 800 bytes
    path = write_ods(tmp_path / "flood.ods", ods_row("".join(ods_cell(h) for h in HEADER)) + flood)
    assert path.stat().st_size < 2000
    done = import_in_subprocess(path, "cost", memory_mb=1024)
    assert done["outcome"] == "problem", done
    assert done["code"] == "too_large"
    # the header row makes it 6,001 rows
    assert "flood.ods" in done["zh"], done
    assert "96,016,000" in done["en"], done


def test_an_ods_with_the_usual_empty_repeats_still_imports(store: Store, tmp_path: Path) -> None:
    # LibreOffice ends every table with a million empty rows of 1024 empty cells: nothing to fear
    rows = "".join(
        ods_row("".join(ods_cell(v if not isinstance(v, dt.date) else v.isoformat()) for v in row))
        for row in CONTENT
    )
    tail = ods_row(ods_cell(None, repeat=1024), repeat=1048560)
    result = import_file(store, write_ods(tmp_path / "lo.ods", rows + tail), kind="cost")
    assert result.counts.imported == 3


@pytest.mark.slow  # a capped subprocess apiece
def test_an_xls_whose_dimensions_record_is_beyond_the_format_is_refused(tmp_path: Path) -> None:
    path = set_xls_dimensions(write_xls(tmp_path / "dims.xls", CONTENT), 0xFFFFFFFF, 0xFFFF)
    done = import_in_subprocess(path, "cost", memory_mb=1024)
    assert done["outcome"] == "problem", done
    assert done["code"] == "corrupt"
    assert "dims.xls" in done["zh"], done
    assert "65,536" in done["en"], done


def test_an_xls_with_honest_dimensions_imports(store: Store, tmp_path: Path) -> None:
    result = import_file(store, write_xls(tmp_path / "ok.xls", CONTENT), kind="cost")
    assert result.counts.imported == 3


def test_the_preflight_sends_only_clean_bounded_sheets_to_calamine(tmp_path: Path) -> None:
    clean = write_sheet(tmp_path / "clean.xlsx", good_xml(), dimension="A1:L9")
    checked = preflight.inspect(clean, "zip")
    [scan] = checked.sheets.values()
    assert (scan.dimension, scan.max_row, scan.max_col, scan.cells, scan.odd) == ("A1:L9", 9, 12, 50, [])
    assert checked.calamine_may_read("xl/worksheets/sheet1.xml")
    far = preflight.inspect(far_cell_workbook(tmp_path / "far.xlsx", 1048575, 16383), "zip")
    [scan] = far.sheets.values()
    assert scan.clean
    assert scan.area == 1048576 * 16384
    assert not far.calamine_may_read("xl/worksheets/sheet1.xml")
    odd = write_sheet(tmp_path / "odd.xlsx", _with(row_xml(6, ROWS[1]), at=6, replace=False))
    checked = preflight.inspect(odd, "zip")
    [scan] = checked.sheets.values()
    assert scan.odd == [("行号重复或倒退", "a row number repeats or goes backwards")]
    assert not checked.calamine_may_read("xl/worksheets/sheet1.xml")


# -- zip containers ----------------------------------------------------------------------------


def test_more_uncompressed_bytes_than_allowed_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YECAI_IMPORT_MAX_UNCOMPRESSED_MB", "1")
    filler = "".join(row_xml(n, [f"填充 {n}", n]) for n in range(20, 30_000))
    path = write_sheet(tmp_path / "big.xlsx", good_xml() + filler)
    with pytest.raises(FileProblem) as caught:
        import_file(store, path, kind="cost")
    assert caught.value.code == "too_large"
    assert "big.xlsx" in caught.value.zh
    assert "1 MB" in caught.value.en


def test_a_member_that_inflates_a_thousandfold_is_refused(store: Store, tmp_path: Path) -> None:
    bomb = "<!--" + "0" * (4 << 20) + "-->"  # 4 MB of zeros deflate to 4 KB
    path = write_sheet(tmp_path / "bomb.xlsx", good_xml(), after=bomb)
    with pytest.raises(FileProblem) as caught:
        import_file(store, path, kind="cost")
    assert caught.value.code == "bomb"
    assert "bomb.xlsx" in caught.value.zh
    assert "xl/worksheets/sheet1.xml" in caught.value.en


def test_a_member_whose_header_hides_its_real_size_is_refused(store: Store, tmp_path: Path) -> None:
    path = write_sheet(tmp_path / "liar.xlsx", good_xml(), after="<!--" + "x" * 200_000 + "-->")
    lie_about_size(path, "xl/worksheets/sheet1.xml", 1000)
    with pytest.raises(FileProblem) as caught:
        import_file(store, path, kind="cost")
    assert caught.value.code == "bomb"
    assert "1,000" in caught.value.en


def test_too_many_members_are_refused(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YECAI_IMPORT_MAX_MEMBERS", "20")
    extra = {f"xl/media/image{n}.bin": b"x" for n in range(30)}
    path = write_sheet(tmp_path / "many.xlsx", good_xml(), extra=extra)
    with pytest.raises(FileProblem) as caught:
        import_file(store, path, kind="cost")
    assert caught.value.code == "too_large"
    assert "36" in caught.value.en
    assert "20" in caught.value.en


def test_a_document_type_declaration_is_refused(store: Store, tmp_path: Path) -> None:
    sheet = sheet_xml(good_xml()).replace("?>\n", '?>\n<!DOCTYPE worksheet [<!ENTITY a "aaaa">]>', 1)
    path = write_package(tmp_path / "dtd.xlsx", {"导出": sheet})
    with pytest.raises(FileProblem) as caught:
        import_file(store, path, kind="cost")
    assert caught.value.code == "unsafe_xml"
    assert "DOCTYPE" in caught.value.en


# -- malformed sheet XML: one bad row, the good rows land ----------------------------------------


def _with(bad: str, *, at: int = 7, replace: bool = True) -> str:
    """The export's rows with row `at` replaced by (or followed by) the XML `bad`."""
    before = rows_xml(CONTENT[: at - 1])
    own = row_xml(at, CONTENT[at - 1])
    after = rows_xml(CONTENT[at:], first=at + 1)
    return before + (bad if replace else own + bad) + after


MALFORMED = {
    "row r not a number": (_with('<row r="x"><c r="A7"><v>3</v></c></row>'), 7, 'r="x"'),
    "row r zero": (_with('<row r="0"><c r="A7"><v>3</v></c></row>'), 7, 'r="0"'),
    "cell s not a number": (_with(row_xml(7, ROWS[2]).replace('<c r="A7">', '<c r="A7" s="x">')), 7, 's="x"'),
    "cell t unknown": (_with(row_xml(7, ROWS[2]).replace('<c r="A7">', '<c r="A7" t="q">')), 7, 't="q"'),
    "cell r not a reference": (_with(row_xml(7, ROWS[2]).replace('<c r="A7">', '<c r="7A">')), 7, "7A"),
    "cell in another row": (_with(row_xml(7, ROWS[2]).replace('<c r="A7">', '<c r="A5">')), 7, "A5"),
    "shared string that does not exist": (
        _with(row_xml(7, ROWS[2]).replace('<c r="A7"><v>3</v>', '<c r="A7" t="s"><v>99</v>')),
        7,
        "99",
    ),
}


@pytest.mark.parametrize("label", list(MALFORMED))
def test_a_malformed_row_is_one_bad_row_beside_the_good_ones(
    sqlite_store: Store, tmp_path: Path, label: str
) -> None:
    data, number, quoted = MALFORMED[label]
    result = import_file(sqlite_store, write_sheet(tmp_path / "bad.xlsx", data), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (2, 1), label
    [(row, zh, en)] = issues_of(result)
    assert row == number
    assert f"第 {number} 行" in zh
    assert f"row {number}" in en
    assert quoted in zh
    assert quoted in en
    assert [key for _, key in imported_keys(sqlite_store)] == ["CB-0001", "CB-0002"]


@pytest.mark.parametrize("name", ["dup.xlsx", "dup.xls"])  # an xlsx named .xls is read the same way
def test_a_duplicated_row_never_replaces_the_first(sqlite_store: Store, tmp_path: Path, name: str) -> None:
    evil = list(ROWS[1])
    evil[1], evil[AMOUNT] = "CB-EVIL", 1
    data = _with(row_xml(6, evil), at=6, replace=False)
    result = import_file(sqlite_store, write_sheet(tmp_path / name, data), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 1)
    assert imported_keys(sqlite_store) == [(5, "CB-0001"), (6, "CB-0002"), (7, "CB-0003")]
    [(row, zh, en)] = issues_of(result)
    assert row == 6
    assert "重复" in zh
    assert "duplicate" in en


def test_a_refused_duplicate_never_becomes_a_revision_of_the_row_it_repeats(
    sqlite_store: Store, tmp_path: Path
) -> None:
    # without 单据编号 a cost row is keyed by its place in the file; the refused second row 6 must
    # keep a key of its own, or it would become the latest revision of the good row 6
    keep = [i for i, h in enumerate(HEADER) if h != "单据编号"]
    header = [HEADER[i] for i in keep]
    rows = [[row[i] for i in keep] for row in ROWS]
    content = sheet_rows(header, rows)
    evil = list(rows[1])
    evil[header.index("金额")] = 1
    data = rows_xml(content[:6]) + row_xml(6, evil) + rows_xml(content[6:], first=7)
    result = import_file(sqlite_store, write_sheet(tmp_path / "dup.xlsx", data), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 1)
    with sqlite_store.transaction() as session:
        versions = session.execute(select(Record.source_key, Record.revision, Record.status)).all()
    assert len({key for key, _, _ in versions}) == 4
    assert {revision for _, revision, _ in versions} == {1}


def test_a_row_going_backwards_is_a_bad_row(sqlite_store: Store, tmp_path: Path) -> None:
    data = rows_xml(CONTENT[:4]) + row_xml(5, ROWS[0]) + row_xml(7, ROWS[2]) + row_xml(6, ROWS[1])
    result = import_file(sqlite_store, write_sheet(tmp_path / "back.xlsx", data), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    [(row, zh, en)] = issues_of(result)
    assert row == 6
    assert "第 7 行之后" in zh
    assert "after row 7" in en


@pytest.mark.parametrize(
    "tail",
    [
        row_xml(7, ROWS[2])[:40],  # the file ends in the middle of row 7
        row_xml(7, ROWS[2]).replace("</v></c>", "</c>", 1)
        + "</sheetData></worksheet>",  # broken, then a proper end
    ],
    ids=["truncated", "mismatched-tags"],
)
def test_damage_mid_sheet_keeps_the_rows_before_it(sqlite_store: Store, tmp_path: Path, tail: str) -> None:
    head = sheet_xml(rows_xml(CONTENT[:6])).split("</sheetData>")[0]
    path = write_package(tmp_path / "damaged.xlsx", {"导出": head + tail})
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    [(row, zh, en)] = issues_of(result)
    assert row == 7
    assert "工作表 导出 在第 6 行之后损坏" in zh
    assert "sheet 导出 is damaged after row 6" in en


def test_rows_and_cells_without_references_still_read(sqlite_store: Store, tmp_path: Path) -> None:
    # some writers leave out r= (it is optional): rows follow each other, cells fill from column A
    data = "".join(
        "<row>" + "".join(cell_xml("X", v).replace(' r="X"', "") or "<c/>" for v in row) + "</row>"
        for row in CONTENT
    )
    result = import_file(sqlite_store, write_sheet(tmp_path / "norefs.xlsx", data), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 0)


# -- numbers that are not numbers ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "INF", "-INF", "1e999"])
def test_non_finite_numbers_in_xlsx_are_bad_rows(sqlite_store: Store, tmp_path: Path, text: str) -> None:
    data = _with(row_xml(6, ROWS[1]).replace("<v>9951</v>", f"<v>{text}</v>"), at=6)
    report = tmp_path / "report.xlsx"
    result = import_file(sqlite_store, write_sheet(tmp_path / "nan.xlsx", data), kind="cost", report=report)
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    [(row, zh, en)] = issues_of(result)
    assert row == 6
    assert "金额" in zh
    assert "不是有限数" in zh
    assert "not finite" in en
    assert report.exists()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_in_xls_are_bad_rows(sqlite_store: Store, tmp_path: Path, value: float) -> None:
    rows = [list(row) for row in ROWS]
    rows[1][AMOUNT] = value
    report = tmp_path / "report.xlsx"
    path = write_xls(tmp_path / "nan.xls", sheet_rows(HEADER, rows))
    result = import_file(sqlite_store, path, kind="cost", report=report)
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    [(row, zh, _en)] = issues_of(result)
    assert row == 6
    assert "金额" in zh
    assert "不是有限数" in zh
    assert report.exists()


@pytest.mark.parametrize("date1904", [False, True], ids=["1900", "1904"])
def test_a_date_serial_beyond_9999_is_handed_out_as_the_number(tmp_path: Path, date1904: bool) -> None:
    data = f'<row r="1"><c r="A1" s="{DATE_STYLE}"><v>2958465</v></c><c r="B1" s="{DATE_STYLE}"><v>1e300</v></c></row>'
    book = StreamedWorkbook(str(write_sheet(tmp_path / "serial.xlsx", data, date1904=date1904)))
    [row] = list(book.rows("导出"))
    book.close()
    first = row.cells[0]
    assert (first == 2958465.0) if date1904 else first == dt.date(9999, 12, 31)
    assert row.cells[1] == 1e300
    assert row.error is None


def test_a_date_beyond_9999_is_refused_by_validation(sqlite_store: Store, tmp_path: Path) -> None:
    # 业务日期 of row 6 is a date cell holding serial 3,000,000: the year 10117 in the 1904 system
    rows = [list(row) for row in ROWS]
    rows[0][4] = "2026-10-05"  # the other rows' dates as text: their serials would mean 1900-based days
    date_cell = f'<c r="E6" s="{DATE_STYLE}"><v>3000000</v></c>'
    data = good_xml(rows).replace('<c r="E6" t="inlineStr"><is><t>2026/10/5</t></is></c>', date_cell)
    assert date_cell in data
    result = import_file(sqlite_store, write_sheet(tmp_path / "y10k.xlsx", data, date1904=True), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    [(row, zh, _en)] = issues_of(result)
    assert row == 6
    assert "业务日期" in zh


# -- the streaming reader on its own -----------------------------------------------------------


def test_a_huge_token_ends_the_sheet_with_one_bad_row(tmp_path: Path) -> None:
    # expat re-scans a token that spans its feeds: a 70 MB comment took 150 s of CPU
    data = rows_xml(CONTENT[:6]) + "<!--" + "x" * (3 << 20) + "-->" + row_xml(7, ROWS[2])
    book = StreamedWorkbook(str(write_sheet(tmp_path / "token.xlsx", data)))
    rows = list(book.rows("导出"))
    book.close()
    assert [r.number for r in rows if r.error is None and r.cells][-1] == 6
    [broken] = [r for r in rows if r.error]
    assert broken.number == 7
    assert "在第 6 行之后损坏" in broken.error[0]


def test_a_long_comment_full_of_gt_signs_ends_the_sheet_too(tmp_path: Path) -> None:
    # a `>` every 100 KB hides the comment from the "no `>` for 1 MB" watch; expat still sees one
    # token, so the reader stops once 4 MB went in without an element ending
    comment = "<!--" + ("x" * 100_000 + ">") * 100 + "-->"
    data = rows_xml(CONTENT[:6]) + comment + row_xml(7, ROWS[2])
    book = StreamedWorkbook(str(write_sheet(tmp_path / "gt.xlsx", data)))
    rows = list(book.rows("导出"))
    book.close()
    [broken] = [r for r in rows if r.error]
    assert broken.number == 7
    assert "4 MB" in broken.error[1]


def test_merged_ranges_are_found_in_bounded_memory(tmp_path: Path) -> None:
    merges = '<mergeCells count="2"><mergeCell ref="A1:L1"/><mergeCell ref="B2:C3"/></mergeCells>'
    after = "<!--" + " " * (16 << 20) + "-->" + merges
    book = StreamedWorkbook(str(write_sheet(tmp_path / "merged.xlsx", good_xml(), after=after)))
    tracemalloc.start()
    found = book.merged("导出")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    book.close()
    assert found == [((0, 0), (0, 11)), ((1, 1), (2, 2))]
    assert peak < 8 << 20, peak  # the 16 MB comment is never held whole


def test_a_damaged_shared_strings_table_is_a_file_problem(tmp_path: Path) -> None:
    sst = f'<sst xmlns="{MAIN}"><si><t>a</t></si><si><t>b</'
    path = write_sheet(
        tmp_path / "sst.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=sst
    )
    book = StreamedWorkbook(str(path))
    with pytest.raises(FileProblem) as caught:
        list(book.rows("导出"))
    book.close()
    assert caught.value.code == "corrupt"
    assert "sst.xlsx" in caught.value.zh
    assert "xl/sharedStrings.xml" in caught.value.en


def test_the_shared_strings_table_is_bounded(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YECAI_IMPORT_MAX_SHARED_STRINGS", "3")
    sst = f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{n}</t></si>" for n in range(5)) + "</sst>"
    path = write_sheet(
        tmp_path / "sst.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=sst
    )
    with pytest.raises(FileProblem) as caught:
        import_file(sqlite_store, path, kind="cost")
    assert caught.value.code == "too_large"
    book = StreamedWorkbook(str(path))
    try:
        with pytest.raises(FileProblem) as streamed:
            book.rows("导出")
    finally:
        book.close()
    assert streamed.value.code == "too_large"


# -- property: whatever one row does wrong, the others come out with their numbers -------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)
_VALUE = st.one_of(_TEXT, st.integers(-(10**9), 10**9), st.floats(-1e9, 1e9, allow_nan=False))
_ROW = st.lists(_VALUE, min_size=1, max_size=5)
_MALFORMED = st.sampled_from(
    [
        "r-text",
        "r-zero",
        "r-negative",
        "r-beyond",
        "s-text",
        "t-unknown",
        "ref-beyond-xfd",
        "ref-garbage",
        "duplicate",
        "backwards",
    ]
)


def _expected_cells(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        out.append(float(value) if isinstance(value, int | float) else value)
    return out


def _malformed_row(kind: str, free: int, previous: int, values: list[Any]) -> str:
    good = row_xml(free, values)
    if kind == "r-text":
        return good.replace(f'<row r="{free}">', '<row r="x">')
    if kind == "r-zero":
        return good.replace(f'<row r="{free}">', '<row r="0">')
    if kind == "r-negative":
        return good.replace(f'<row r="{free}">', '<row r="-3">')
    if kind == "r-beyond":
        return good.replace(f'<row r="{free}">', '<row r="1048577">').replace(f'{free}"', '1048577"')
    if kind == "s-text":
        return good.replace(f'<c r="A{free}"', f'<c r="A{free}" s="bold"', 1)
    if kind == "t-unknown":
        first = re.search(rf'<c r="A{free}"( t="inlineStr")?', good)
        assert first is not None
        return good.replace(first[0], f'<c r="A{free}" t="zz"', 1)
    if kind == "ref-beyond-xfd":
        return good.replace(f'<c r="A{free}"', f'<c r="XFE{free}"', 1)
    if kind == "ref-garbage":
        return good.replace(f'<c r="A{free}"', '<c r="A1B2C3"', 1)
    if kind == "duplicate":
        return row_xml(previous, values)
    assert kind == "backwards"
    return row_xml(max(1, previous - 1), values)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(_ROW, min_size=1, max_size=8),
    gaps=st.lists(st.integers(2, 4), min_size=8, max_size=8),
    kind=_MALFORMED,
    position=st.integers(0, 8),
    injected=_ROW,
)
def test_one_malformed_row_among_good_ones(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[list[Any]],
    gaps: list[int],
    kind: str,
    position: int,
    injected: list[Any],
) -> None:
    numbers, number = [], 0
    for gap in gaps[: len(rows)]:
        number += gap
        numbers.append(number)
    position = min(position, len(rows))
    if kind in ("duplicate", "backwards") and position == 0:
        position = 1  # there must be a row before it to repeat or go back from
    previous = numbers[position - 1] if position else 0
    free = previous + 1  # gaps of at least 2: never the number of a good row
    parts = [row_xml(n, r) for n, r in zip(numbers, rows, strict=True)]
    parts.insert(position, _malformed_row(kind, free, previous, injected))
    path = write_sheet(tmp_path_factory.mktemp("prop") / "p.xlsx", "".join(parts))
    book = StreamedWorkbook(str(path))
    try:
        out = list(book.rows("导出"))
    finally:
        book.close()
    good = [(r.number, r.cells) for r in out if r.error is None and r.cells]
    assert good == [(n, _expected_cells(r)) for n, r in zip(numbers, rows, strict=True)]
    bad = [r for r in out if r.error is not None]
    assert len(bad) == 1, (kind, bad)
    assert bad[0].cells == []
    assert str(bad[0].number) in bad[0].error[0]
    assert str(bad[0].number) in bad[0].error[1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    serial=st.one_of(
        st.floats(2_957_000, 1e308), st.floats(-1e308, -1.0001), st.sampled_from([2958465.0, 2958465.5])
    ),
    date1904=st.booleans(),
)
def test_any_date_serial_reads_without_an_exception(
    tmp_path_factory: pytest.TempPathFactory, serial: float, date1904: bool
) -> None:
    data = f'<row r="1"><c r="A1" s="{DATE_STYLE}"><v>{serial!r}</v></c></row>'
    path = write_sheet(tmp_path_factory.mktemp("serial") / "s.xlsx", data, date1904=date1904)
    book = StreamedWorkbook(str(path))
    try:
        [row] = list(book.rows("导出"))
    finally:
        book.close()
    [cell] = row.cells
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    last = (dt.datetime(9999, 12, 31, 23, 59, 59) - epoch).total_seconds() / 86400
    if serial < 0 or serial > last + 1e-6:
        assert cell == serial  # not a date any calendar holds: the number, for validation to refuse
    else:
        assert isinstance(cell, dt.date)


@pytest.mark.parametrize(
    ("past", "count"),
    [('<row r="1048577"/>', 1), ("".join(f'<row r="{n}"/>' for n in range(1048577, 1248577)), 200_000)],
    ids=["one", "two-hundred-thousand"],
)
def test_rows_past_the_grid_are_one_bad_row_however_many(
    sqlite_store: Store, tmp_path: Path, past: str, count: int
) -> None:
    # two million `<row r="…"/>` past the grid from a small zip made two million rejections (an
    # import of over ten minutes holding the lock); a run of them is one bad row
    rows = rows_xml(CONTENT[:6]) + past + rows_xml(CONTENT[6:], first=7)
    result = import_file(sqlite_store, write_sheet(tmp_path / "past.xlsx", rows), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 1)
    [(_row, zh, en)] = issues_of(result)
    assert "1,048,576" in zh
    assert "1,048,576" in en
    assert (f"{count:,} 行" if count > 1 else "一行") in zh


def test_a_row_number_of_five_thousand_digits_is_one_bad_row(sqlite_store: Store, tmp_path: Path) -> None:
    # int() refuses strings of more than 4,300 digits: the reader must not ask it to
    rows = (
        rows_xml(CONTENT[:6])
        + f'<row r="{"9" * 5000}"><c r="A9"><v>1</v></c></row>'
        + rows_xml(CONTENT[6:], first=7)
    )
    result = import_file(sqlite_store, write_sheet(tmp_path / "digits.xlsx", rows), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 1)

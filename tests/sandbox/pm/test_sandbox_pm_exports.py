"""sandbox.pm exports read back with python-calamine in the documented layout.

Each .xlsx: merged title, 导出时间 / 单位：元, one- or two-row header, one row per record, a 合计
footer with the data's sums. CSV variants decode in their encodings (GBK, UTF-8 BOM, GB18030 with
a name GBK cannot hold); the .xls is one project's ledger; the big ledger has the rows asked for.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from charset_normalizer import from_bytes
from python_calamine import CalamineWorkbook

from yecai.sandbox.pm import Dataset, generate, write_big_cost_ledger, write_exports
from yecai.sandbox.pm.exports import KINDS, ExportFile
from yecai.sandbox.pm.exports.layouts import flat_headers, header_rows
from yecai.sandbox.pm.names import CONTRACTOR_NAME

pytestmark = pytest.mark.slow

CENT = Decimal("0.01")
TITLE_WORDS = {
    "cost": "成本台账",
    "attendance": "考勤明细",
    "invoice": "发票台账",
    "payment_request": "付款申请台账",
    "budget": "目标成本",
    "worker": "花名册",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, list[ExportFile]]:
    dataset = generate(projects=4, months=1, seed=42)
    return dataset, write_exports(dataset, tmp_path_factory.mktemp("exports"))


def sheet_rows(path: Path) -> tuple[list[list[Any]], list[Any]]:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    return sheet.to_python(), sheet.merged_cell_ranges


def money(value: Any) -> Decimal:
    """A spreadsheet number (a double) as the Decimal of its shortest repr, to the cent."""
    return Decimal(repr(value)).quantize(CENT)


def test_every_kind_is_exported_under_a_chinese_name(exported: tuple[Dataset, list[ExportFile]]) -> None:
    _, files = exported
    xlsx = {f.kind: f.path.name for f in files if f.format == "xlsx"}
    assert set(xlsx) == set(KINDS)
    assert xlsx["cost"] == "成本台账_2026-10.xlsx"
    assert xlsx["attendance"] == "考勤明细_2026-10.xlsx"
    encodings = {f.kind: f.encoding for f in files if f.format == "csv"}
    assert encodings == {
        "cost": "gbk",
        "attendance": "utf-8-sig",
        "invoice": "gbk",
        "payment_request": "gbk",
        "budget": "gbk",
        "worker": "gb18030",
    }
    assert [f.path.name for f in files if f.format == "xls"] == ["成本台账_XM2026001_2026-10.xls"]
    assert all(f.path.exists() and f.rows > 0 for f in files)


@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_layout_title_header_rows_and_footer(
    exported: tuple[Dataset, list[ExportFile]], kind: str
) -> None:
    dataset, files = exported
    file = next(f for f in files if f.kind == kind and f.format == "xlsx")
    layout = file.layout
    rows, merged = sheet_rows(file.path)
    width = len(layout.columns)
    assert CalamineWorkbook.from_path(str(file.path)).sheet_names == [layout.sheet]
    # title, merged across every column
    assert rows[0][0] == file.title
    assert TITLE_WORDS[kind] in rows[0][0]
    assert CONTRACTOR_NAME in rows[0][0]
    assert ((0, 0), (0, width - 1)) in merged
    # 导出时间 on the left, 单位：元 on the right
    assert rows[1][0].startswith("导出时间：2026-12-30")
    assert rows[1][-2] == "单位：元"
    # header: one row, or a group row over a column row with merged group cells
    header = header_rows(layout)
    for index, expected in enumerate(header):
        row = rows[2 + index]
        assert [cell for cell in row if cell != ""] == [
            cell for cell in _shown(expected, index, layout) if cell
        ]
    if layout.grouped:
        groups = [c.group for c in layout.columns]
        first = groups.index(next(g for g in groups if g))
        last = max(i for i, g in enumerate(groups) if g == groups[first])
        assert ((2, first), (2, last)) in merged
        assert ((2, 0), (3, 0)) in merged  # 序号 spans both header rows
    body = rows[2 + len(header) : -1]
    assert len(body) == file.rows
    assert [row[0] for row in body] == list(range(1, file.rows + 1))
    footer = rows[-1]
    assert str(footer[0]).startswith("合计")
    state = dataset.at(dataset.timeline_end)
    records = {
        "cost": state.all_cost_records,
        "attendance": state.attendance,
        "invoice": state.invoices,
        "payment_request": state.payment_requests,
        "budget": state.budget_lines,
        "worker": state.workers,
    }[kind]
    assert file.rows == len(records)
    if layout.footer == "count":
        assert footer[0] == f"合计：{len(records)} 人"
    for index, column in enumerate(layout.columns):
        if column.total:
            expected = sum((column.value(r) for r in records), Decimal(0))
            assert money(footer[index]) == expected.quantize(CENT), column.header


def _shown(header: list[str], index: int, layout: Any) -> list[str]:
    """What a header row shows once merged: a group's name once; the lower row only under groups."""
    if index == 0 and layout.grouped:
        out, previous = [], None
        for column in layout.columns:
            name = column.group or column.header
            out.append("" if column.group and column.group == previous else name)
            previous = column.group
        return out
    if index == 1:
        return [column.header if column.group else "" for column in layout.columns]
    return header


def test_cost_ledger_cells_carry_the_records_exactly(exported: tuple[Dataset, list[ExportFile]]) -> None:
    dataset, files = exported
    file = next(f for f in files if f.kind == "cost" and f.format == "xlsx")
    rows, _ = sheet_rows(file.path)
    headers = [c.header for c in file.layout.columns]
    records = {r.record_id: r for r in dataset.all_cost_records}
    body = rows[4:-1]
    assert {row[headers.index("单据编号")] for row in body} == set(records)
    for row in body:
        record = records[row[headers.index("单据编号")]]
        assert money(row[headers.index("不含税金额")]) == record.amount
        assert Decimal(repr(row[headers.index("数量")])) == record.quantity
        assert row[headers.index("业务日期")] == record.business_date
        assert row[headers.index("发票号码")] == (record.invoice_no or "")  # text: leading zeros kept
        assert row[headers.index("成本类别")] == record.category_name


def test_id_numbers_and_cards_stay_text(exported: tuple[Dataset, list[ExportFile]]) -> None:
    dataset, files = exported
    file = next(f for f in files if f.kind == "worker" and f.format == "xlsx")
    rows, _ = sheet_rows(file.path)
    headers = rows[2]
    ids = {row[headers.index("身份证号码")] for row in rows[3:-1]}
    cards = {row[headers.index("银行卡号")] for row in rows[3:-1]}
    assert ids == {w.id_number for w in dataset.workers}
    assert cards == {w.bank_card for w in dataset.workers}


def test_csv_variants_decode_in_their_encodings(exported: tuple[Dataset, list[ExportFile]]) -> None:
    dataset, files = exported
    for file in (f for f in files if f.format == "csv"):
        raw = file.path.read_bytes()
        text = raw.decode(file.encoding or "")
        lines = list(csv.reader(io.StringIO(text)))
        assert lines[0] == flat_headers(file.layout)
        assert len(lines) == file.rows + 2
        assert lines[-1][0].startswith("合计")
        if file.encoding == "utf-8-sig":
            assert raw.startswith(b"\xef\xbb\xbf")
        else:
            assert not raw.startswith(b"\xef\xbb\xbf")
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            detected = from_bytes(raw).best()
            assert detected is not None
            assert detected.encoding in {"gb18030", "gbk", "cp936", "gb2312"}
    cost = next(f for f in files if f.kind == "cost" and f.format == "csv")
    lines = list(csv.reader(io.StringIO(cost.path.read_bytes().decode("gbk"))))
    amounts = [Decimal(line[10]) for line in lines[1:-1]]
    assert sum(amounts) == Decimal(lines[-1][10]) == dataset.total_amount()  # plain numbers, exact


def test_the_gb18030_roster_keeps_a_name_gbk_cannot_hold(exported: tuple[Dataset, list[ExportFile]]) -> None:
    dataset, files = exported
    rare = [w.name for w in dataset.workers if not _gbk(w.name)]
    assert rare  # this data set has one: 朱子䶮
    raw = next(f for f in files if f.kind == "worker" and f.format == "csv").path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gbk")
    text = raw.decode("gb18030")
    assert all(name in text for name in rare)


def _gbk(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def test_the_xls_variant_is_one_projects_ledger(exported: tuple[Dataset, list[ExportFile]]) -> None:
    dataset, files = exported
    file = next(f for f in files if f.format == "xls")
    rows, merged = sheet_rows(file.path)
    project = dataset.project("XM2026001")
    assert rows[0][0].startswith(f"{project.project_name} 成本台账")
    assert ((0, 0), (0, len(file.layout.columns) - 1)) in merged
    body = rows[4:-1]
    own = [r for r in dataset.all_cost_records if r.project_code == "XM2026001"]
    assert len(body) == len(own) == file.rows
    assert money(rows[-1][10]) == sum((r.amount for r in own), Decimal(0))


def test_the_big_ledger_has_the_rows_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "成本台账_20000行.xlsx"
    assert write_big_cost_ledger(path, 20_000) == 20_000
    rows, merged = sheet_rows(path)
    assert rows[0][0] == f"{CONTRACTOR_NAME}成本台账（20,000 行）"
    assert ((0, 0), (0, 18)) in merged
    body = rows[4:-1]
    assert len(body) == 20_000
    assert len({row[3] for row in body}) == 20_000  # record ids unique
    total = sum((Decimal(repr(row[10])) for row in body), Decimal(0))
    assert money(rows[-1][10]) == total.quantize(CENT)
    small = tmp_path / "small.xlsx"
    write_big_cost_ledger(small, 300)
    assert [row[3] for row in sheet_rows(small)[0][4:-1]] == [row[3] for row in body[:300]]  # deterministic


def test_the_command_writes_the_exports(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "yecai.cli.main",
        "sandbox",
        "pm",
        "--projects",
        "2",
        "--export",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        f"{stem}_2026-10.xlsx"
        for stem in ("成本台账", "考勤明细", "发票台账", "付款申请", "目标成本", "花名册")
    } <= names
    big = subprocess.run(
        [*command[:5], "--export", str(tmp_path / "big"), "--big-ledger", "500"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert big.returncode == 0, big.stdout + big.stderr
    assert len(sheet_rows(tmp_path / "big" / "成本台账_500行.xlsx")[0]) == 500 + 5

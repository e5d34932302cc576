"""期初余额 import: one row per contract at go-live, keyed by 项目编码 + 合同编号.

The same contract twice in one file is refused (a conflict the person resolves), never two
histories for one contract; a bad figure is refused in Chinese and English while the good rows
beside it import; a later file that changes a contract's figures is a new version of the same
document, as for any changed document; the blank template round-trips.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook
from sqlalchemy import select

from tests.support.spreadsheets import GOOD, sheet_rows, write_xlsx
from yecai import jsonutil
from yecai.files import import_file, write_template
from yecai.files.columns import KINDS
from yecai.files.templates import header_text
from yecai.store.db import Store
from yecai.store.tables import Document

HEADER, ROWS, _ = GOOD["opening_balance"]


def _documents(store: Store) -> list[dict[str, Any]]:
    with store.transaction() as session:
        found = session.scalars(
            select(Document).where(Document.kind == "opening_balance").order_by(Document.id)
        ).all()
        return [{"version": d.version, "dated": d.business_date, **jsonutil.loads(d.data)} for d in found]


def test_rows_are_keyed_by_project_and_contract(sqlite_store: Store, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "qc.xlsx", sheet_rows(HEADER, ROWS, "opening_balance"))
    result = import_file(sqlite_store, path, kind="opening_balance")
    assert (result.counts.imported, result.counts.rejected) == (3, 0), result.issues
    docs = {d["contract_no"]: d for d in _documents(sqlite_store)}
    income = docs["XM2026001-SR-001"]
    assert income["source_key"] == "nk:XM2026001|XM2026001-SR-001"
    assert income["as_of"] == "2026-10-01"
    assert income["dated"] == dt.date(2026, 10, 1)  # placed in time by its go-live day
    assert Decimal(str(income["cost_to_date"])) == Decimal("41234567.89")
    assert Decimal(str(income["revenue_to_date"])) == Decimal("45678901.23")
    assert Decimal(str(income["prepaid_vat_carry"])) == Decimal("-150000")
    supplier = docs["XM2026001-FB-001"]
    assert Decimal(str(supplier["paid_to_date"])) == Decimal("3052000")
    assert supplier["estimated_total_cost"] is None


def test_the_same_contract_twice_in_one_file_is_refused(sqlite_store: Store, tmp_path: Path) -> None:
    again = list(ROWS[0])
    again[3] = 41000000  # another 累计实际成本 for the same contract
    path = write_xlsx(tmp_path / "twice.xlsx", sheet_rows(HEADER, [*ROWS, again], "opening_balance"))
    result = import_file(sqlite_store, path, kind="opening_balance", chunk_rows=2)  # across chunks too
    assert (result.counts.imported, result.counts.rejected) == (3, 1)
    conflict = next(i for i in result.issues if i.field == "source_key")
    assert conflict.row == 8
    assert conflict.column == "项目编码、合同编号"
    assert "第 5 行已出现且内容不同" in conflict.zh
    assert "row 5" in conflict.en
    costs = [d["cost_to_date"] for d in _documents(sqlite_store) if d["contract_no"] == "XM2026001-SR-001"]
    assert [Decimal(str(c)) for c in costs] == [Decimal("41234567.89")]  # the first row, once


def test_a_project_level_row_is_keyed_by_the_project_alone(sqlite_store: Store, tmp_path: Path) -> None:
    whole = ["XM2026009", None, "2026-10-01", 1000, 0, None, 0, 0, 0, 0, 0, 0]
    other = ["XM2026009", None, "2026-10-01", 2000, 0, None, 0, 0, 0, 0, 0, 0]
    path = write_xlsx(tmp_path / "project.xlsx", sheet_rows(HEADER, [whole, other], "opening_balance"))
    result = import_file(sqlite_store, path, kind="opening_balance")
    assert (result.counts.imported, result.counts.rejected) == (1, 1)
    (doc,) = _documents(sqlite_store)
    assert doc["source_key"] == "nk:XM2026009|"
    assert doc["contract_no"] is None


def test_bad_figures_are_refused_beside_good_rows(sqlite_store: Store, tmp_path: Path) -> None:
    negative = list(ROWS[1])
    negative[1], negative[10] = "XM2026001-CG-001", -5  # 累计付款 below zero
    retention = list(ROWS[2])
    retention[1], retention[6], retention[7] = "XM2026002-SR-002", 100, 100.01  # 质保金 > 计量
    carry = list(ROWS[2])
    carry[1], carry[11] = "XM2026002-SR-003", 10  # a positive carry was prepaid, not carried
    path = write_xlsx(
        tmp_path / "bad.xlsx", sheet_rows(HEADER, [*ROWS, negative, retention, carry], "opening_balance")
    )
    result = import_file(sqlite_store, path, kind="opening_balance")
    assert (result.counts.imported, result.counts.rejected) == (3, 3)
    by_field = {i.field: i for i in result.issues}
    assert set(by_field) == {"paid_to_date", "retention_to_date", "prepaid_vat_carry"}
    assert by_field["paid_to_date"].column == "累计付款"
    assert "不能为负数" in by_field["paid_to_date"].zh
    assert "must not be negative" in by_field["paid_to_date"].en
    assert "大于累计结算" in by_field["retention_to_date"].zh
    assert "≤ 0" in by_field["prepaid_vat_carry"].en


def test_a_changed_figure_in_a_later_file_is_a_new_version(sqlite_store: Store, tmp_path: Path) -> None:
    first = write_xlsx(tmp_path / "first.xlsx", sheet_rows(HEADER, ROWS, "opening_balance"))
    assert import_file(sqlite_store, first, kind="opening_balance").counts.imported == 3
    revised = [list(row) for row in ROWS]
    revised[0][4] = "45,700,000.00"  # the 累计确认收入 audited after go-live
    second = write_xlsx(tmp_path / "second.xlsx", sheet_rows(HEADER, revised, "opening_balance"))
    result = import_file(sqlite_store, second, kind="opening_balance")
    assert (result.counts.imported, result.counts.duplicate) == (1, 2)
    versions = [d for d in _documents(sqlite_store) if d["contract_no"] == "XM2026001-SR-001"]
    assert len(versions) == 2  # the first version kept, the change stored beside it
    assert versions[0]["version"] != versions[1]["version"]
    assert Decimal(str(versions[-1]["revenue_to_date"])) == Decimal("45700000")


def test_the_blank_template_names_every_figure_in_chinese(tmp_path: Path) -> None:
    path = write_template("opening_balance", tmp_path)
    assert path.name == "yecai-opening_balance-期初余额导入模板.xlsx"
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    spec = KINDS["opening_balance"]
    assert rows[2] == [header_text(item) for item in spec.fields]
    assert rows[2][:3] == ["项目编码*", "合同编号", "上线日期*"]
    assert "累计扣留质保金" in rows[2]
    assert "预缴增值税结转" in rows[2]

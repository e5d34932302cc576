"""Blank templates round-trip; saved column mappings are stored, reused and travel as YAML."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from tests.support.spreadsheets import GOOD, write_csv, write_xlsx
from yecai.files import (
    ColumnMapping,
    MappingError,
    delete_mapping,
    import_file,
    import_mappings_yaml,
    list_mappings,
    load_mapping,
    mappings_from_yaml,
    mappings_to_yaml,
    save_mapping,
    write_template,
)
from yecai.files.cells import header_key
from yecai.files.columns import KINDS, alias_index
from yecai.files.templates import header_text
from yecai.store.db import Store


def _by_field(kind: str) -> list[dict[str, Any]]:
    """The kind's good rows keyed by field, whatever headers GOOD uses."""
    header, rows, _ = GOOD[kind]
    index = alias_index(KINDS[kind])
    fields = [index.get(header_key(h)) for h in header]
    return [{f: v for f, v in zip(fields, row, strict=True) if f} for row in rows]


def test_blank_templates_explain_themselves(tmp_path: Path) -> None:
    path = write_template("invoice", tmp_path)
    assert path.parent == tmp_path
    assert path.name.endswith(".xlsx")
    book = CalamineWorkbook.from_path(str(path))
    rows = book.get_sheet_by_index(0).to_python()
    spec = KINDS["invoice"]
    assert rows[2] == [header_text(item) for item in spec.fields]
    assert rows[2][0] == "发票号码*"  # required columns are marked
    assert "说明" in rows[1][0]
    notes = book.get_sheet_by_name("填写说明 notes").to_python()
    assert notes[1][:4] == ["A", "发票号码*", "invoice_no", "是 yes"]
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
        comments = archive.read("xl/comments1.xml").decode("utf-8")
    assert '<dataValidation type="list"' in sheet
    assert "专票,普票" in sheet
    assert "进项,销项" in sheet
    assert "必填" in comments
    assert "required" in comments


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_template_filled_in_imports_back(kind: str, tmp_path: Path, template_store: Store) -> None:
    blank = write_template(kind, tmp_path)
    top = CalamineWorkbook.from_path(str(blank)).get_sheet_by_index(0).to_python()[:3]
    spec = KINDS[kind]
    data = [[row.get(item.name) for item in spec.fields] for row in _by_field(kind)]
    width = len(spec.fields)
    filled = write_xlsx(
        tmp_path / "filled.xlsx",
        [[c if c != "" else None for c in row] for row in top] + data,
        merges=[(0, 0, 0, width - 1, top[0][0]), (1, 0, 1, width - 1, top[1][0])],
    )
    result = import_file(template_store, filled, kind=kind)
    assert result.sheets[0]["header_rows"] == [3]
    assert result.counts.rejected == 0, result.issues
    assert result.counts.imported == len(data)


def test_column_mappings_are_saved_reused_and_exported(store: Store, tmp_path: Path) -> None:
    unusual = ColumnMapping(
        name="某系统进项发票",
        kind="invoice",
        columns={"票号": "invoice_no", "票面金额": "amount", "票面税额": "tax_amount", "合计": "total"},
        constants={"direction": "进项"},
        description="某某系统导出的进项发票清单",
    )
    save_mapping(store, unusual)
    assert load_mapping(store, "某系统进项发票") == unusual
    header = [
        "票号",
        "发票类型",
        "开票日期",
        "销售方名称",
        "购买方名称",
        "票面金额",
        "税率",
        "票面税额",
        "合计",
    ]
    rows = [["04512345", "专票", "2026-10-08", "马钢", "合肥建工", 10000, "13%", 1300, 11300]]
    path = write_csv(tmp_path / "进项.csv", [header, *rows], encoding="gbk")
    result = import_file(store, path, kind="invoice", mapping="某系统进项发票")
    assert result.counts.imported == 1
    text = mappings_to_yaml(list_mappings(store))
    assert "某系统进项发票" in text
    assert "票面金额: amount" in text
    assert delete_mapping(store, "某系统进项发票")
    assert list_mappings(store) == []
    assert import_mappings_yaml(store, text) == ["某系统进项发票"]
    assert load_mapping(store, "某系统进项发票") == unusual


def test_bad_mappings_are_refused_with_reasons(store: Store) -> None:
    with pytest.raises(MappingError) as caught:
        mappings_from_yaml("column_templates:\n  - name: x\n    kind: cost\n    columns: {金额: money}\n")
    assert "money" in caught.value.en
    with pytest.raises(MappingError):
        mappings_from_yaml("column_templates: [[")
    with pytest.raises(MappingError):
        mappings_from_yaml("column_templates:\n  - name: x\n    kind: salary\n")
    with pytest.raises(MappingError) as missing:
        load_mapping(store, "没有这个")
    assert "没有这个" in missing.value.zh


def test_a_mapping_names_where_the_header_is(tmp_path: Path, template_store: Store) -> None:
    # a header the aliases cannot find (one known column only) on row 2, chosen by the mapping
    rows = [["说明行"], ["工程", "项目编码", "发生额", "记账日"], ["人工费", "XM2026001", 100, "2026-10-05"]]
    mapping = ColumnMapping(
        name="t",
        kind="cost",
        columns={"工程": "category", "发生额": "amount", "记账日": "business_date"},
        header_row=2,
    )
    result = import_file(template_store, write_xlsx(tmp_path / "m.xlsx", rows), kind="cost", mapping=mapping)
    assert result.counts.imported == 1
    with pytest.raises(Exception, match="invoice"):
        import_file(template_store, tmp_path / "m.xlsx", kind="invoice", mapping=mapping)


@pytest.fixture
def template_store(tmp_path: Path):
    from yecai.store.db import open_store

    opened = open_store(f"sqlite:///{tmp_path / 't.sqlite'}")
    yield opened
    opened.close()

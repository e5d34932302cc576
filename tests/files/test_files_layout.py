"""Where the table is: titles, one- and two-row headers with merged group cells, footers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import islice
from pathlib import Path

from tests.support.spreadsheets import write_csv, write_xls, write_xlsx
from yecai.files.columns import KINDS, alias_index
from yecai.files.layout import Layout, column_letter, find_layout, is_footer, is_repeated_header
from yecai.files.raw import RawRow
from yecai.files.reader import open_file

COST = KINDS["cost"]


def layout_of(path: Path, kind: str = "cost") -> Layout | None:
    opened = open_file(path)
    sheet = opened.sheet(opened.sheet_names[0])
    head = list(islice(sheet.rows, 40))
    spec = KINDS[kind]
    found = find_layout(sheet.name, head, sheet.merged, sheet.col_offset, spec, alias_index(spec))
    opened.close()
    return found


TWO_ROW = [
    ["合肥建工集团 项目成本台账"],
    ["导出时间：2026年10月12日 08:30", None, None, None, "单位：元"],
    ["单据编号", "项目编码", "成本类别", "业务日期", "本期", None, None, "累计", None, "备注"],
    [None, None, None, None, "数量", "单价", "金额", "数量", "金额", None],
    ["CB-1", "XM2026001", "人工费", "2026-10-05", 10, 350, 3500, 10, 3500, None],
]
MERGES = [
    (0, 0, 0, 9, "合肥建工集团 项目成本台账"),
    (2, 0, 3, 0, "单据编号"),
    (2, 1, 3, 1, "项目编码"),
    (2, 2, 3, 2, "成本类别"),
    (2, 3, 3, 3, "业务日期"),
    (2, 4, 2, 6, "本期"),
    (2, 7, 2, 8, "累计"),
    (2, 9, 3, 9, "备注"),
]


def _fields(layout: Layout) -> dict[str, str | None]:
    return {c.header: c.field for c in layout.columns}


def _check_two_row(layout: Layout | None) -> None:
    assert layout is not None
    assert layout.header_rows == (3, 4)
    assert layout.data_start == 5
    fields = _fields(layout)
    assert fields["本期/数量"] == "quantity"
    assert fields["本期/单价"] == "unit_price"
    assert fields["本期/金额"] == "amount"
    # 累计 figures are not this period's: never taken for amount or quantity
    assert fields["累计/金额"] is None
    assert fields["累计/数量"] is None
    assert fields["单据编号"] == "source_key"
    assert fields["业务日期"] == "business_date"
    assert layout.titles[0] == "合肥建工集团 项目成本台账"
    assert layout.unit == "元"
    assert layout.exported_at == dt.datetime(2026, 10, 12, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_two_row_header_under_merged_group_cells_xlsx(tmp_path: Path) -> None:
    _check_two_row(layout_of(write_xlsx(tmp_path / "a.xlsx", TWO_ROW, merges=MERGES)))


def test_two_row_header_under_merged_group_cells_xls(tmp_path: Path) -> None:
    _check_two_row(layout_of(write_xls(tmp_path / "a.xls", TWO_ROW, merges=MERGES)))


def test_two_row_header_without_merge_information_csv(tmp_path: Path) -> None:
    _check_two_row(layout_of(write_csv(tmp_path / "a.csv", TWO_ROW, encoding="gbk")))


def test_the_title_is_never_the_header_nor_data(tmp_path: Path) -> None:
    rows = [
        ["项目编码：XM2026003 合肥第三中学新建工程 成本明细"],
        ["单位：万元"],
        [],
        ["序号", "成本类别", "日期", "摘要", "金额（万元）"],
        [1, "材料费", "2026-10-05", "钢筋", 1.5],
    ]
    layout = layout_of(write_xlsx(tmp_path / "t.xlsx", rows))
    assert layout is not None
    assert layout.header_rows == (4,)
    assert layout.title_project == "XM2026003"
    assert layout.unit == "万元"
    amount = layout.fields["amount"]
    assert amount.header == "金额（万元）"
    assert amount.scale == Decimal(10000)
    assert amount.letter == "E"


def test_no_header_is_none(tmp_path: Path) -> None:
    assert layout_of(write_csv(tmp_path / "x.csv", [["姓名", "年龄"], ["张三", 30]])) is None
    assert layout_of(write_csv(tmp_path / "y.csv", [["标题"], ["说明"]])) is None


def test_two_columns_for_one_field_keep_the_first_and_say_so() -> None:
    rows = [RawRow(1, ["项目编码", "金额", "不含税金额", "日期"]), RawRow(2, ["XM1", 1, 1, "2026-10-05"])]
    layout = find_layout("s", rows, [], 0, COST, alias_index(COST))
    assert layout is not None
    assert layout.fields["amount"].header == "金额"
    assert _fields(layout)["不含税金额"] is None
    assert any("不含税金额" in zh and "amount" in en for zh, en in layout.notes)


def test_a_column_template_decides_over_aliases() -> None:
    rows = [
        RawRow(1, ["工程", "费用", "发生额(含税)", "记账日"]),
        RawRow(2, ["XM1", "人工费", 100, "2026-10-05"]),
    ]
    extra = {"工程": "project_code", "费用": "category", "发生额(含税)": "amount", "记账日": "business_date"}
    assert find_layout("s", rows, [], 0, COST, alias_index(COST)) is None
    layout = find_layout("s", rows, [], 0, COST, alias_index(COST, extra))
    assert layout is not None
    assert set(layout.fields) == {
        "project_code",
        "category",
        "amount",
        "business_date",
    }


def test_footers_and_repeated_headers() -> None:
    rows = [RawRow(1, ["单据编号", "项目编码", "金额"]), RawRow(2, ["CB1", "XM1", 5])]
    layout = find_layout("s", rows, [], 0, COST, alias_index(COST))
    assert layout is not None
    for cells in (
        ["合计", None, 5],
        [None, "合 计", 5],
        ["小计："],
        ["备注：本表由系统生成"],
        ["制表人：张三", "审核：李四"],
    ):
        assert is_footer(RawRow(9, cells)), cells
    for cells in (["CB2", "XM1", 5], ["x", "合计"], [None, None, 5], ["审批费", "XM1", 5], ["注册费"]):
        assert not is_footer(RawRow(9, cells)), cells
    assert is_repeated_header(RawRow(30, ["单据编号", "项目编码", "金额"]), layout)
    assert not is_repeated_header(RawRow(30, ["单据编号", "XM1", 5]), layout)


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702)] == ["A", "Z", "AA", "AZ", "ZZ", "AAA"]


def test_rows_start_where_excel_says_and_columns_keep_their_letters(tmp_path: Path) -> None:
    rows = [
        [],
        [],
        [None, None, "项目编码", "成本类别", "日期", "金额"],
        [None, None, "XM1", "人工费", "2026-10-05", 1],
    ]
    layout = layout_of(write_xlsx(tmp_path / "offset.xlsx", rows))
    assert layout is not None
    assert layout.header_rows == (3,)
    assert layout.fields["project_code"].letter == "C"
    assert layout.fields["amount"].letter == "F"

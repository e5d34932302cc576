"""Mapping tables: policies for unmapped values, Excel round trip, the pre-posting checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter
from pydantic import ValidationError

from yecai.domain.documents import (
    AccountingStandard,
    Contract,
    ContractKind,
    CostCategory,
    CostRecord,
    PaymentRequest,
    ProgressReport,
    Project,
)
from yecai.errors import ConfigurationError
from yecai.mapping.checks import AccountUse, accounts_used, unmapped_values, validate_rule_set
from yecai.mapping.excel import export_mapping_xlsx, import_mapping_xlsx
from yecai.mapping.interface import PlannableDocument
from yecai.mapping.rules import (
    DEFAULT_FILES,
    MappingTable,
    RuleSet,
    UnmappedPolicy,
    default_mapping,
    default_rule_set,
    default_rule_sets,
)

D = Decimal


def test_project_rows_and_the_old_plain_form() -> None:
    table = MappingTable(
        projects={
            "XM1": "P-001",
            "XM2": {"org": "200", "department": "BM03", "accounting_standard": "small"},
        },
        project_default="none",
        organisation_default="100",
    )
    assert table.project_number("XM1") == "P-001"
    assert table.project_number("XM2") is None  # a row without a number follows project_default
    assert table.project_number("XM9") is None
    assert (table.organisation("XM1"), table.organisation("XM2")) == ("100", "200")
    assert (table.department("XM1"), table.department("XM2")) == (None, "BM03")
    assert table.standard_of("XM2") is AccountingStandard.SMALL
    assert table.standard_of("XM1", AccountingStandard.SMALL) is AccountingStandard.SMALL
    assert table.standard_of("XM1") is AccountingStandard.CAS
    same = MappingTable(projects={"XM2": {"org": "200"}})
    assert same.project_number("XM2") == "XM2"


def test_counterparty_policies() -> None:
    table = MappingTable(
        suppliers={"江苏恒固建材有限公司": "GYS0001"},
        supplier_default="default",
        supplier_fallback="GYS9999",
        customers={"区交通运输局": "KH0002"},
        workers={"11010519491231002x": "YG0001"},
        worker_default="same_code",
    )
    assert table.supplier_number(" 江苏恒固建材有限公司 ") == "GYS0001"
    assert table.supplier_number("零星供应商甲") == "GYS9999"
    assert table.customer_number("区交通运输局") == "KH0002"
    assert table.customer_number("别的客户") is None
    assert table.worker_number("11010519491231002X") == "YG0001"  # x and X are one ID number
    assert table.worker_number("110105194912310021") == "110105194912310021"


@pytest.mark.parametrize(
    "data",
    [
        {"supplier_default": "same_code"},  # a name is never a Kingdee number
        {"customer_default": "default"},  # needs customer_fallback
        {"worker_default": "default"},
        {"project_default": "maybe"},
    ],
)
def test_nonsensical_policies_are_refused(data: dict) -> None:
    with pytest.raises(ValidationError):
        MappingTable.model_validate(data)


def test_excel_round_trip(tmp_path: Path) -> None:
    original = default_mapping().model_copy(
        update={
            "projects": MappingTable(
                projects={
                    "XM1": {"number": "001", "org": "200", "department": "BM03", "cost_centre": "CC01"},
                    "XM9": {"accounting_standard": "small"},
                }
            ).projects,
            "workers": {"11010519491231002X": "YG0001"},
            "department_default": "BM01",
            "supplier_default": UnmappedPolicy.DEFAULT,
            "supplier_fallback": "GYS0004",
            "cost_item_fallback": "其他应付",
        }
    )
    path = export_mapping_xlsx(original, tmp_path / "映射表.xlsx")
    assert import_mapping_xlsx(path) == original


def test_excel_sheets_have_chinese_headers(tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    path = export_mapping_xlsx(default_mapping(), tmp_path / "m.xlsx")
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["设置", "项目", "成本科目", "费用明细", "供应商", "客户", "员工", "账簿"]
    items = book.get_sheet_by_name("费用明细").to_python()
    assert items[0] == ["费用明细", "贷方科目", "贷方核算维度", "关键词"]
    assert items[1] == ["项目管理人员薪酬", "2211.01", "", "管理人员薪酬、薪酬"]
    assert ["施工用电", "2202.05", "项目、供应商", "用电、电费"] in items
    assert book.get_sheet_by_name("账簿").to_python() == [
        ["组织编码", "账簿编号"],
        ["100", "001"],
        ["200", "002"],
    ]
    costs = book.get_sheet_by_name("成本科目").to_python()
    assert costs[0] == ["会计准则", "成本类别", "借方科目", "贷方科目"]
    assert costs[1] == ["小企业会计准则", "人工费", "4401.01.01", "2202.02"]
    suppliers = book.get_sheet_by_name("供应商").to_python()
    assert ["江苏恒固建材有限公司", "GYS0001"] in suppliers


def write_book(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    book.close()
    return path


def test_excel_typed_by_people(tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "m.xlsx",
        {
            "设置": [["设置项", "值"], ["项目未映射", "report"], ["默认组织", 100]],
            "项目": [
                ["项目编码", "金蝶项目编号", "组织编码", "部门编码", "成本中心", "会计准则", "备注"],
                [1001, 1001, "", "", "", "cas", "note"],
                [],
            ],
            "成本科目": [
                ["会计准则", "成本类别", "借方科目", "贷方科目"],
                ["企业会计准则", "labour", 5401.01, "2202.02"],
            ],
        },
    )
    table = import_mapping_xlsx(path)
    assert table.project_default == "report"
    assert table.organisation_default == "100"
    assert table.project_number("1001") == "1001"
    assert table.cost_account(AccountingStandard.CAS, CostCategory.LABOUR).debit == "5401.01"
    assert table.suppliers == {}


def test_excel_cost_items_typed_by_people_keep_their_order(tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "items.xlsx",
        {
            "费用明细": [
                ["费用明细", "贷方科目", "贷方核算维度", "关键词"],
                ["临时设施摊销", 1801.01, "项目", "临设，临时设施"],
                ["施工用电", "2202.05", "project,supplier", "电费"],
            ]
        },
    )
    table = import_mapping_xlsx(path)
    assert list(table.cost_items) == ["临时设施摊销", "施工用电"]
    assert table.cost_item(None, "3月临设摊销") == ("临时设施摊销", table.cost_items["临时设施摊销"])
    assert table.cost_items["临时设施摊销"].credit == "1801.01"
    assert table.cost_items["施工用电"].credit_dimensions == ("project", "supplier")


@pytest.mark.parametrize(
    ("sheets", "zh", "en"),
    [
        ({"项目": [["项目编码", "金蝶项目编号"]]}, "缺少列", "missing column"),
        (
            {"供应商": [["供应商名称", "金蝶供应商编码"], ["甲", "G1"], ["甲", "G2"]]},
            "第 3 行",
            "repeats row 2",
        ),
        (
            {
                "成本科目": [
                    ["会计准则", "成本类别", "借方科目", "贷方科目"],
                    ["企业会计准则", "伙食费", "1", "2"],
                ]
            },
            "成本类别",
            "unknown cost category",
        ),
        ({"设置": [["设置项", "值"], ["供应商未映射", "同编码"]]}, "有误", "supplier_default"),
        ({"设置": [["设置项", "值"], ["颜色", "红"]]}, "未知设置项", "unknown setting"),
        (
            {
                "费用明细": [
                    ["费用明细", "贷方科目", "贷方核算维度", "关键词"],
                    ["施工用电", "2202.05", "项目、银行", ""],
                ]
            },
            "核算维度「银行」无效",
            "unknown dimension",
        ),
        (
            {"设置": [["设置项", "值"], ["费用明细兜底", "不存在"]]},
            "有误",
            "cost_item_fallback",
        ),
    ],
)
def test_excel_problems_name_sheet_row_and_value(tmp_path: Path, sheets: dict, zh: str, en: str) -> None:
    path = write_book(tmp_path / "bad.xlsx", sheets)
    with pytest.raises(ConfigurationError) as caught:
        import_mapping_xlsx(path)
    assert zh in caught.value.zh
    assert en in caught.value.en


def test_excel_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="无法读取映射表文件"):
        import_mapping_xlsx(bad)


def test_unmapped_values_across_rule_sets_before_posting() -> None:
    docs = [
        PlannableDocument(
            1,
            "v1",
            CostRecord(
                source_key="CB-1",
                project_code="XM9",
                category=CostCategory.LABOUR,
                business_date=dt.date(2026, 3, 1),
                amount=D("1.00"),
                supplier_name="未登记供应商",
            ),
        ),
        PlannableDocument(
            2,
            "v2",
            PaymentRequest(
                request_no="FK-1",
                project_code="XM9",
                payee_name="未登记供应商",
                amount=D("5.00"),
                request_date=dt.date(2026, 3, 2),
                status="approved",
            ),
        ),
        PlannableDocument(
            3,
            "v3",
            ProgressReport(
                source_key="JL-1",
                project_code="XM1",
                period="2026-03",
                report_date=dt.date(2026, 3, 25),
                percent_complete=D("10"),
                valuation_amount=D("100.00"),
                approved=True,
            ),
        ),
        PlannableDocument(
            4,
            "v4",
            Contract(
                contract_no="HT-1",
                project_code="XM1",
                contract_kind=ContractKind.INCOME,
                name="施工合同",
                counterparty="未登记业主",
                amount=D("109.00"),
            ),
        ),
        PlannableDocument(5, "v5", Project(code="XM9", name="九号楼")),
    ]
    mapping = default_mapping().model_copy(update={"project_default": "report", "projects": {}})
    rule_sets = [default_rule_set(), default_rule_set("payment_request"), default_rule_set("valuation")]
    found = unmapped_values(docs, rule_sets, mapping)
    assert [(u.kind, u.value, u.document_ids) for u in found] == [
        ("customer", "未登记业主", (3,)),
        ("project", "XM1", (3,)),
        ("project", "XM9", (1,)),
        ("supplier", "未登记供应商", (1, 2)),  # the cost's payable and the request's payee
    ]


def test_accounts_used_lists_accounts_and_flex_keys() -> None:
    uses = accounts_used(default_rule_set("valuation"))
    assert (
        AccountUse(
            "valuation",
            "receivable",
            AccountingStandard.CAS,
            "1122",
            ("customer", "project"),
            ("FFLEX6", "FF100001"),
        )
        in uses
    )
    assert (
        AccountUse(
            "valuation",
            "settlement",
            AccountingStandard.SMALL,
            "4402",
            ("project", "customer"),
            ("FF100001", "FFLEX6"),
        )
        in uses
    )
    assert AccountUse("valuation", "output_vat", AccountingStandard.CAS, "2221.01.02", (), ()) in uses
    cost_uses = accounts_used(default_rule_set(), default_mapping())
    assert (
        AccountUse(
            "cost_actuals", "labour.debit", AccountingStandard.CAS, "5401.01", ("project",), ("FF100001",)
        )
        in cost_uses
    )
    assert (
        AccountUse(
            "cost_actuals",
            "labour.debit",
            AccountingStandard.SMALL,
            "4401.01.01",
            ("project",),
            ("FF100001",),
        )
        in cost_uses
    )
    assert (
        AccountUse(
            "cost_actuals",
            "labour.credit",
            AccountingStandard.CAS,
            "2202.02",
            ("project", "supplier"),
            ("FF100001", "FFLEX4"),
        )
        in cost_uses
    )
    # the 费用明细 table's credits are checked against the chart too
    assert (
        AccountUse("cost_actuals", "item:固定资产折旧.credit", AccountingStandard.CAS, "1602", (), ())
        in cost_uses
    )
    assert not [u for u in cost_uses if u.account == "2241" and u.role != "item:其他应付.credit"]


def test_every_default_rule_set_loads_and_validates() -> None:
    rule_sets = default_rule_sets()
    assert list(rule_sets) == list(DEFAULT_FILES)
    for rules in rule_sets.values():
        validate_rule_set(rules)
        assert rules.name in DEFAULT_FILES
    assert default_rule_set().name == "cost_actuals"
    with pytest.raises(ConfigurationError, match="没有名为"):
        default_rule_set("nope")


def test_validate_refuses_unknown_roles_and_options() -> None:
    rules = default_rule_set("valuation")
    typo = RuleSet.model_validate(
        {**rules.model_dump(), "accounts": {**rules.accounts, "recievable": "1122"}}
    )
    with pytest.raises(ConfigurationError, match="recievable"):
        validate_rule_set(typo)
    bad = RuleSet.model_validate({**rules.model_dump(), "options": {"output_vat": "later"}})
    with pytest.raises(ConfigurationError, match=r"options\.output_vat"):
        validate_rule_set(bad)
    cost = default_rule_set()
    with pytest.raises(ConfigurationError, match=r"options\.x"):
        validate_rule_set(RuleSet.model_validate({**cost.model_dump(), "options": {"x": 1}}))
    with pytest.raises(ConfigurationError, match="reads progress_report documents"):
        validate_rule_set(RuleSet.model_validate({**rules.model_dump(), "document": "invoice"}))
    with pytest.raises(ValidationError, match="unknown dimension"):
        RuleSet.model_validate({**rules.model_dump(), "dimensions": {"receivable": ["client"]}})

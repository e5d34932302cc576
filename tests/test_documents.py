"""Validation of canonical documents: good rows pass, bad rows name field and value in 中文 and English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yecai.domain.documents import CostCategory, CostRecord, Project, validate

GOOD = {
    "source_key": "CB-1",
    "project_code": "XM2026001",
    "category": "material",
    "business_date": "2026-10-05",
    "description": "钢筋 HRB400 Φ25",
    "quantity": "12.5",
    "unit": "吨",
    "unit_price": "3980.00",
    "amount": "49750.00",
    "tax_rate": "0.13",
    "supplier_name": "江苏恒固建材有限公司",
}


def test_good_cost_record() -> None:
    record, issues = validate(CostRecord, GOOD)
    assert issues == []
    assert record is not None
    assert record.amount == Decimal("49750.00")
    assert record.category is CostCategory.MATERIAL
    assert record.business_date == dt.date(2026, 10, 5)


@pytest.mark.parametrize(
    ("change", "field", "zh_part", "en_part"),
    [
        ({"amount": "100.005"}, "amount", "两位小数", "decimal places"),
        ({"amount": 49750.0}, "amount", "二进制浮点", "binary float"),
        ({"amount": "0"}, "amount", "金额为零", "zero"),
        ({"category": "labor"}, "category", "不在允许范围", "not allowed"),
        ({"business_date": "2026-02-30"}, "business_date", "不是有效日期", "not a valid date"),
        ({"tax_rate": "1.3"}, "tax_rate", "税率", "between 0 and 1"),
        ({"amount": "49751.00"}, "amount", "数量×单价", "quantity × unit price"),
        ({"quantity": "十二"}, "quantity", "不是有效数字", "not a valid number"),
    ],
)
def test_bad_values_are_named(change: dict, field: str, zh_part: str, en_part: str) -> None:
    record, issues = validate(CostRecord, {**GOOD, **change})
    assert record is None
    assert [i.field for i in issues] == [field]
    assert zh_part in issues[0].zh
    assert en_part in issues[0].en


def test_missing_fields_are_all_reported() -> None:
    data = dict(GOOD)
    del data["project_code"]
    del data["amount"]
    record, issues = validate(CostRecord, data)
    assert record is None
    assert {i.field for i in issues} == {"project_code", "amount"}
    assert all("缺少必填字段" in i.zh for i in issues)


def test_one_cent_rounding_tolerance_on_quantity_times_price() -> None:
    record, issues = validate(CostRecord, {**GOOD, "amount": "49750.01"})
    assert issues == []
    assert record is not None


def test_project_contract_value_is_decimal() -> None:
    project, issues = validate(Project, {"code": "XM1", "name": "测试工程", "contract_value": "123456789.12"})
    assert issues == []
    assert project is not None
    assert project.contract_value == Decimal("123456789.12")

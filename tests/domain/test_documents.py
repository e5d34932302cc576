"""Validation of canonical documents: good rows pass, bad rows name field and value in 中文 and English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yecai.domain.documents import (
    DOCUMENT_TYPES,
    Attendance,
    BoqItem,
    BudgetLine,
    Contract,
    CostCategory,
    CostRecord,
    Invoice,
    PaymentRequest,
    PaymentStatus,
    ProgressReport,
    Project,
    Receipt,
    ReceiptKind,
    Worker,
    validate,
)
from yecai.domain.identifiers import luhn_check_digit

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


# --- the rest of the canonical model ------------------------------------------------------------

WORKER = {
    "id_number": "11010519491231002X",
    "name": "张三",
    "project_code": "XM2026001",
    "team": "钢筋班",
    "bank_card": "6222 0200 0000 0000 001",
    "day_rate": "380.00",
}
INVOICE = {
    "invoice_no": "12345678",
    "direction": "in",
    "invoice_type": "special",
    "issue_date": "2026-10-08",
    "seller_name": "江苏恒固建材有限公司",
    "seller_tax_id": "91350100M000100Y43",
    "buyer_name": "业财演示建设集团有限公司",
    "amount": "10000.00",
    "tax_rate": "0.13",
    "tax_amount": "1300.00",
    "total": "11300.00",
}


def test_worker_card_failing_luhn_is_a_warning_not_an_error() -> None:
    worker, issues = validate(Worker, WORKER)
    assert issues == []
    assert worker is not None
    assert worker.bank_card == "6222020000000000001"
    warnings = worker.warnings()
    assert [w.field for w in warnings] == ["bank_card"]
    assert "Luhn" in warnings[0].zh
    good_card = "6222020000000000" + luhn_check_digit("6222020000000000")
    other, _ = validate(Worker, {**WORKER, "bank_card": good_card})
    assert other is not None
    assert other.warnings() == []


@pytest.mark.parametrize(
    ("change", "field", "zh_part"),
    [
        ({"id_number": "110105194912310021"}, "id_number", "身份证号码无效"),
        ({"bank_card": "62-22"}, "bank_card", "12 到 30 位数字"),
        ({"name": ""}, "name", "不能为空"),
        ({"entry_date": "2026-10-05", "exit_date": "2026-10-01"}, "exit_date", "早于"),
    ],
)
def test_bad_workers(change: dict, field: str, zh_part: str) -> None:
    worker, issues = validate(Worker, {**WORKER, **change})
    assert worker is None
    assert [i.field for i in issues] == [field]
    assert zh_part in issues[0].zh


def test_unregistered_worker_is_warned() -> None:
    worker, _ = validate(Worker, {**WORKER, "bank_card": None, "registered": False})
    assert worker is not None
    assert [w.field for w in worker.warnings()] == ["registered"]


def test_invoice_arithmetic_and_deductible_tax() -> None:
    invoice, issues = validate(Invoice, INVOICE)
    assert issues == []
    assert invoice is not None
    assert invoice.deductible_tax == Decimal("1300.00")
    ordinary, _ = validate(Invoice, {**INVOICE, "invoice_type": "ordinary"})
    assert ordinary is not None
    assert ordinary.deductible_tax == Decimal("0.00")
    issued, _ = validate(Invoice, {**INVOICE, "direction": "out"})
    assert issued is not None
    assert issued.deductible_tax == Decimal("0.00")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": "11300.01"}, "total"),
        ({"tax_amount": "1200.00", "total": "11200.00"}, "tax_amount"),
        ({"invoice_no": "1234"}, "invoice_no"),
        ({"seller_tax_id": "91350100M000100Y44"}, "seller_tax_id"),
        ({"invoice_type": "专票"}, "invoice_type"),
    ],
)
def test_bad_invoices(change: dict, field: str) -> None:
    invoice, issues = validate(Invoice, {**INVOICE, **change})
    assert invoice is None
    assert issues[0].field == field


def test_invoice_tax_tolerates_line_rounding() -> None:
    invoice, issues = validate(Invoice, {**INVOICE, "tax_amount": "1300.03", "total": "11300.03"})
    assert issues == []
    assert invoice is not None


def test_attendance_limits() -> None:
    base = {
        "source_key": "A1",
        "project_code": "XM1",
        "id_number": "11010519491231002X",
        "work_date": "2026-10-05",
    }
    ok, issues = validate(Attendance, {**base, "days": "0.5", "check_in": "07:30", "check_out": "17:30"})
    assert issues == []
    assert ok is not None
    for change, field in [
        ({"days": "1.5"}, "days"),
        ({"overtime_hours": "13"}, "overtime_hours"),
        ({"check_in": "18:00", "check_out": "07:00"}, "check_out"),
    ]:
        bad, issues = validate(Attendance, {**base, **change})
        assert bad is None
        assert issues[0].field == field


def test_payment_request_and_contract() -> None:
    request = {
        "request_no": "FK-1",
        "project_code": "XM1",
        "payee_name": "某劳务公司",
        "amount": "5000.00",
        "request_date": "2026-10-05",
    }
    ok, issues = validate(PaymentRequest, request)
    assert issues == []
    assert ok is not None
    assert ok.status is PaymentStatus.SUBMITTED
    bad, issues = validate(PaymentRequest, {**request, "amount": "-1.00"})
    assert bad is None
    assert issues[0].field == "amount"
    contract = {
        "contract_no": "HT-1",
        "project_code": "XM1",
        "contract_kind": "subcontract",
        "name": "劳务分包合同",
        "counterparty": "某劳务公司",
        "amount": "1000000.00",
        "retention_rate": "0.03",
    }
    ok_contract, issues = validate(Contract, contract)
    assert issues == []
    assert ok_contract is not None
    assert ok_contract.key == "HT-1"


RECEIPT = {
    "receipt_no": "SK-1",
    "project_code": "XM1",
    "contract_no": "HT-SR-1",
    "payer": "市城市建设投资集团有限公司",
    "receipt_date": "2026-11-20",
    "amount": "2326060.00",
}


def test_owner_receipt() -> None:
    ok, issues = validate(Receipt, RECEIPT)
    assert issues == []
    assert ok is not None
    assert (ok.key, ok.receipt_kind, ok.amount) == ("SK-1", ReceiptKind.PROGRESS, Decimal("2326060.00"))
    retention, issues = validate(Receipt, {**RECEIPT, "receipt_kind": "retention", "bank_account": ""})
    assert issues == []
    assert retention is not None
    assert retention.receipt_kind is ReceiptKind.RETENTION
    assert retention.bank_account is None


@pytest.mark.parametrize(
    ("change", "field", "zh_part"),
    [
        ({"amount": "0.00"}, "amount", "收款金额必须大于零"),
        ({"amount": "12.345"}, "amount", "超过两位小数"),
        ({"receipt_kind": "gift"}, "receipt_kind", "不在允许范围内"),
        ({"receipt_date": "2026-02-30"}, "receipt_date", "不是有效日期"),
        ({"payer": ""}, "payer", "不能为空"),
    ],
)
def test_bad_receipts(change: dict, field: str, zh_part: str) -> None:
    bad, issues = validate(Receipt, {**RECEIPT, **change})
    assert bad is None
    assert issues[0].field == field
    assert zh_part in issues[0].zh


def test_boq_progress_and_budget() -> None:
    boq = {
        "source_key": "B1",
        "project_code": "XM1",
        "code": "010101003001",
        "name": "挖基础土方",
        "unit": "m3",
        "quantity": "120.5",
        "unit_price": "35.20",
        "amount": "4241.60",
    }
    ok, issues = validate(BoqItem, boq)
    assert issues == []
    assert ok is not None
    bad, issues = validate(BoqItem, {**boq, "code": "0101"})
    assert bad is None
    assert "12 位数字" in issues[0].zh
    progress = {
        "source_key": "P1",
        "project_code": "XM1",
        "period": "2026-10",
        "report_date": "2026-10-31",
        "percent_complete": "25.5",
        "measured": [{"boq_code": "010101003001", "quantity": "10"}],
    }
    report, issues = validate(ProgressReport, progress)
    assert issues == []
    assert report is not None
    assert report.measured[0].quantity == Decimal("10")
    for change, field in [
        ({"period": "2026-13"}, "period"),
        ({"percent_complete": "101"}, "percent_complete"),
    ]:
        bad_report, issues = validate(ProgressReport, {**progress, **change})
        assert bad_report is None
        assert issues[0].field == field
    line, issues = validate(
        BudgetLine, {"source_key": "L1", "project_code": "XM1", "category": "subcontract", "amount": "1.00"}
    )
    assert issues == []
    assert line is not None


def test_every_document_type_is_registered_with_a_key() -> None:
    assert set(DOCUMENT_TYPES) == {
        "project",
        "boq_item",
        "budget_line",
        "contract",
        "cost_record",
        "progress_report",
        "payment_request",
        "invoice",
        "receipt",
        "opening_balance",
        "worker",
        "attendance",
    }


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | st.integers() | st.floats())
def test_any_amount_gets_an_answer_never_an_exception(value: object) -> None:
    record, issues = validate(CostRecord, {**GOOD, "amount": value, "quantity": None, "unit_price": None})
    assert (record is None) != (issues == [])


def test_absurd_amounts_are_named() -> None:
    record, issues = validate(CostRecord, {**GOOD, "amount": "1e26", "quantity": None})
    assert record is None
    assert "过大" in issues[0].zh

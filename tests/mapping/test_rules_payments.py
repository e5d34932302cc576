"""PAYMENT_REQUEST (→ CN_PAYAPPLY bill) and PAYMENT (entry 13) against hand-checked postings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import Contract, ContractKind, CostCategory, CostRecord, Invoice, PaymentRequest
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token, member_keys, posting_key
from yecai.mapping.rules import MappingTable, default_mapping, default_rule_set

D = Decimal
P = "FF100001"

PURCHASE = Contract(
    contract_no="HT-CG-1",
    project_code="XM1",
    contract_kind=ContractKind.PURCHASE,
    name="钢材采购",
    counterparty="江苏恒固建材有限公司",
    amount=D("1356000.00"),
    tax_rate=D("0.13"),
)


def request(
    doc_id: int,
    status: str = "approved",
    payee: str = "江苏恒固建材有限公司",
    contract: str | None = "HT-CG-1",
    paid: dt.date | None = None,
) -> PlannableDocument:
    model = PaymentRequest(
        request_no=f"FK-{doc_id:03d}",
        project_code="XM1",
        contract_no=contract,
        payee_name=payee,
        payee_account="6222020200012345678",
        payee_bank="工商银行南京分行",
        amount=D("1200.50"),
        purpose="材料款",
        request_date=dt.date(2026, 3, 10),
        expected_pay_date=dt.date(2026, 3, 20),
        paid_date=paid,
        status=status,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", model)


def ctx() -> PlanningContext:
    return PlanningContext(connection="kd", related={"contract": [PURCHASE]})


def test_approved_request_becomes_a_pay_apply_bill() -> None:
    doc = request(1)
    plan = registry.plan([doc], default_rule_set("payment_request"), default_mapping(), ctx())
    (bill,) = plan.bills
    key = posting_key("kd", "payment_request", "doc|FK-001", member_keys([doc]))
    assert bill.posting_key == key
    assert bill.bill_no == "YC" + key[:16].upper()
    assert bill.form_id == "CN_PAYAPPLY"
    assert (bill.date, bill.amount, bill.document_ids) == (dt.date(2026, 3, 10), D("1200.50"), (1,))
    model = bill.model()
    remark = model["FPAYAPPLYENTRY"][0].pop("FDescription")
    assert model == {
        "FBillNo": bill.bill_no,
        "FBillTypeID": {"FNumber": "FKSQLX01_SYS"},
        "FDATE": "2026-03-10",
        "FCONTACTUNITTYPE": "BD_Supplier",
        "FCONTACTUNIT": {"FNumber": "GYS0001"},
        "FRECTUNITTYPE": "BD_Supplier",
        "FRECTUNIT": {"FNumber": "GYS0001"},
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FPAYORGID": {"FNumber": "100"},
        "FSETTLEORGID": {"FNumber": "100"},
        "FAPPLYORGID": {"FNumber": "100"},
        "FPAYAPPLYENTRY": [
            {
                "FSETTLETYPEID": {"FNumber": "JSFS04_SYS"},
                "FPAYPURPOSEID": {"FNumber": "SFKYT01_SYS"},
                "FENDDATE": "2026-03-20",
                "FEXPECTPAYDATE": "2026-03-20",
                "FAPPLYAMOUNTFOR": D("1200.50"),
                "FEACHCCOUNTNAME": "江苏恒固建材有限公司",
                "FCOSTID": {"FNumber": "FYXM01"},
                "FEACHBANKACCOUNT": "6222020200012345678",
                "FEACHBANKNAME": "工商银行南京分行",
            }
        ],
    }
    assert remark == f"付款申请 FK-001 江苏恒固建材有限公司 HT-CG-1 {key_token(key)}"


def test_project_organisation_and_department_from_the_mapping() -> None:
    mapping = default_mapping().model_copy(
        update={"projects": MappingTable(projects={"XM1": {"org": "200", "department": "BM03"}}).projects}
    )
    rules = default_rule_set("payment_request")
    rules = rules.model_copy(update={"options": {**rules.options, "department": True}})
    model = registry.plan([request(1)], rules, mapping, ctx()).bills[0].model()
    assert (model["FPAYORGID"], model["FSETTLEORGID"], model["FAPPLYORGID"], model["FDEPARTMENT"]) == (
        {"FNumber": "200"},
        {"FNumber": "200"},
        {"FNumber": "200"},
        {"FNumber": "BM03"},
    )


def test_unapproved_held_rejected_skipped_unmapped_payee_reported() -> None:
    docs = [
        request(1, "submitted"),
        request(2, "rejected"),
        request(3, payee="不在表里的公司"),
        request(4, "draft"),
    ]
    plan = registry.plan(docs, default_rule_set("payment_request"), default_mapping(), ctx())
    assert plan.bills == []
    assert [h.document_ids for h in plan.held] == [(1,), (4,)]
    assert "尚未审批" in plan.held[0].zh
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [
        ("supplier", "不在表里的公司", (3,))
    ]


def test_unmapped_organisation_is_reported() -> None:
    mapping = MappingTable(suppliers={"江苏恒固建材有限公司": "GYS0001"})
    plan = registry.plan([request(1)], default_rule_set("payment_request"), mapping, ctx())
    assert [(u.kind, u.value) for u in plan.unmapped] == [("organisation", "XM1")]
    assert "组织" in plan.unmapped[0].zh


def test_paid_request_entry_13() -> None:
    plan = registry.plan(
        [request(1, "paid"), request(2, "approved")], default_rule_set("payment"), default_mapping(), ctx()
    )
    (voucher,) = plan.vouchers
    assert [(x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines] == [
        ("2202.01", D("1200.50"), D("0.00"), ((P, "XM1"), ("FFLEX4", "GYS0001"))),
        ("1002.01", D("0.00"), D("1200.50"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 20)  # no bank date known: the expected pay date
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)


def test_paid_request_without_contract_uses_the_default_category() -> None:
    rules = default_rule_set("payment")
    rules = rules.model_copy(update={"options": {**rules.options, "default_category": "subcontract"}})
    plan = registry.plan([request(1, "paid", contract=None)], rules, default_mapping(), ctx())
    assert plan.vouchers[0].lines[0].account == "2202.04"


# -- issue 13 -----------------------------------------------------------------------------------

LABOUR = Contract(
    contract_no="HT-LW-1",
    project_code="XM1",
    contract_kind=ContractKind.LABOUR,
    name="主体结构劳务分包",
    counterparty="上海宏达劳务分包有限公司",
    amount=D("515000.00"),
    tax_rate=D("0.03"),
)
LABOUR_CO = "上海宏达劳务分包有限公司"


def test_payment_is_dated_by_the_bank_date() -> None:
    plan = registry.plan(
        [request(1, "paid", paid=dt.date(2026, 3, 24))], default_rule_set("payment"), default_mapping(), ctx()
    )
    assert plan.vouchers[0].date == dt.date(2026, 3, 24)
    rules = default_rule_set("payment")
    rules = rules.model_copy(update={"options": {**rules.options, "date": "expected_pay_date"}})
    planned = registry.plan([request(1, "paid", paid=dt.date(2026, 3, 24))], rules, default_mapping(), ctx())
    assert planned.vouchers[0].date == dt.date(2026, 3, 20)


def test_labour_is_paid_from_the_migrant_wage_account_with_its_expense_item() -> None:
    context = PlanningContext(connection="kd", related={"contract": [PURCHASE, LABOUR]})
    paid = request(1, "paid", payee=LABOUR_CO, contract="HT-LW-1")
    plan = registry.plan([paid], default_rule_set("payment"), default_mapping(), context)
    assert [(x.account, x.debit, x.credit, x.dimensions) for x in plan.vouchers[0].lines] == [
        ("2202.02", D("1200.50"), D("0.00"), ((P, "XM1"), ("FFLEX4", "GYS0002"))),
        ("1002.02", D("0.00"), D("1200.50"), ()),
    ]
    bill = registry.plan([paid], default_rule_set("payment_request"), default_mapping(), context).bills[0]
    assert bill.model()["FPAYAPPLYENTRY"][0]["FCOSTID"] == {"FNumber": "FYXM02"}


def test_payment_to_an_unmapped_payee_is_reported_not_posted_without_a_supplier() -> None:
    plan = registry.plan(
        [request(3, "paid", payee="不在表里的公司")], default_rule_set("payment"), default_mapping(), ctx()
    )
    assert plan.vouchers == []
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [
        ("supplier", "不在表里的公司", (3,))
    ]


def test_labour_contract_cost_invoice_and_payment_net_to_zero_on_one_payable() -> None:
    # Issue 13, defect 1: one 劳务分包 contract's cost (ex-VAT), 3 % 专票 and payment of the 价税合计
    # must meet on one payable account per supplier and project, and leave it at zero.
    context = PlanningContext(connection="kd", related={"contract": [LABOUR]})
    cost = CostRecord(
        source_key="CB-1",
        project_code="XM1",
        category=CostCategory.LABOUR,
        business_date=dt.date(2026, 3, 5),
        amount=D("500000.00"),
        supplier_name=LABOUR_CO,
        contract_no="HT-LW-1",
    )
    bill = Invoice(
        invoice_no="00000003",
        direction="in",
        invoice_type="special",
        issue_date=dt.date(2026, 3, 12),
        project_code="XM1",
        seller_name=LABOUR_CO,
        buyer_name="业财演示建设集团有限公司",
        amount=D("500000.00"),
        tax_rate=D("0.03"),
        tax_amount=D("15000.00"),
        total=D("515000.00"),
        contract_no="HT-LW-1",
    )
    paid = PaymentRequest(
        request_no="FK-9",
        project_code="XM1",
        contract_no="HT-LW-1",
        payee_name=LABOUR_CO,
        amount=D("515000.00"),
        request_date=dt.date(2026, 3, 15),
        paid_date=dt.date(2026, 3, 25),
        status="paid",
    )
    vouchers = [
        *registry.plan(
            [PlannableDocument(1, "v", cost)], default_rule_set(), default_mapping(), context
        ).vouchers,
        *registry.plan(
            [PlannableDocument(2, "v", bill)],
            default_rule_set("purchase_invoice"),
            default_mapping(),
            context,
        ).vouchers,
        *registry.plan(
            [PlannableDocument(3, "v", paid)], default_rule_set("payment"), default_mapping(), context
        ).vouchers,
    ]
    assert len(vouchers) == 3
    payables: dict[tuple[str, tuple], Decimal] = {}
    for line in (x for v in vouchers for x in v.lines if x.account.startswith("2202")):
        slot = (line.account, line.dimensions)
        payables[slot] = payables.get(slot, D(0)) + line.credit - line.debit
    assert payables == {("2202.02", ((P, "XM1"), ("FFLEX4", "GYS0002"))): D("0.00")}

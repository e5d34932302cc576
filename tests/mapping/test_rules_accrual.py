"""ACCRUAL (暂估入账): supplier costs of the month that no received invoice covers, accrued at the
month's end and reversed in red ink on the next month's first day.

March 2026, XM1: steel from 江苏恒固建材 under HT-CG-1 (1,200,000 + 300,000, invoiced 1,200,000 net
in March → 300,000 accrued); 上海宏达劳务 under HT-LW-1 (500,000, no invoice → all accrued); own
wages without a supplier (never accrued); 力拓机械 (80,000) invoiced on 2 April (covered only with
`invoice_grace_days`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from yecai.domain.documents import Contract, ContractKind, CostCategory, CostRecord, Invoice
from yecai.domain.vouchers import Voucher
from yecai.mapping import registry
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import default_mapping, default_rule_set

D = Decimal
P, S = "FF100001", "FFLEX4"

CONTRACTS = [
    Contract(
        contract_no="HT-CG-1",
        project_code="XM1",
        contract_kind=ContractKind.PURCHASE,
        name="钢材采购",
        counterparty="江苏恒固建材有限公司",
        amount=D("2000000.00"),
    ),
    Contract(
        contract_no="HT-LW-1",
        project_code="XM1",
        contract_kind=ContractKind.LABOUR,
        name="主体劳务分包",
        counterparty="上海宏达劳务分包有限公司",
        amount=D("900000.00"),
    ),
]


def cost(
    doc_id: int, category: str, amount: str, contract: str | None, supplier: str | None, day: int = 10
) -> PlannableDocument:
    record = CostRecord(
        source_key=f"CB-{doc_id}",
        project_code="XM1",
        category=CostCategory(category),
        business_date=dt.date(2026, 3, day),
        amount=D(amount),
        contract_no=contract,
        supplier_name=supplier,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", record)


def invoice(number: str, seller: str, amount: str, tax: str, day: dt.date, contract: str | None) -> Invoice:
    return Invoice(
        invoice_no=number,
        direction="in",
        invoice_type="special",
        issue_date=day,
        project_code="XM1",
        seller_name=seller,
        buyer_name="业财演示建设集团有限公司",
        amount=D(amount),
        tax_amount=D(tax),
        total=D(amount) + D(tax),
        contract_no=contract,
    )


COSTS = [
    cost(1, "material", "1200000.00", "HT-CG-1", "江苏恒固建材有限公司", 5),
    cost(2, "material", "300000.00", "HT-CG-1", "江苏恒固建材有限公司", 28),
    cost(3, "labour", "500000.00", "HT-LW-1", None),
    cost(4, "labour", "60000.00", None, None),  # own wages: no payable to accrue
    cost(5, "machinery", "80000.00", None, "浙江力拓机械租赁有限公司"),
]
INVOICES = [
    invoice("00000101", "江苏恒固建材有限公司", "1200000.00", "156000.00", dt.date(2026, 3, 31), "HT-CG-1"),
    invoice("00000102", "浙江力拓机械租赁有限公司", "80000.00", "10400.00", dt.date(2026, 4, 2), None),
]


def plan(today: dt.date = dt.date(2026, 4, 3), **options: Any) -> Plan:
    rules = default_rule_set("accrual")
    rules = rules.model_copy(update={"options": {**rules.options, **options}})
    ctx = PlanningContext(connection="kd", related={"contract": CONTRACTS, "invoice": INVOICES}, today=today)
    return registry.plan(COSTS, rules, default_mapping(), ctx)


def lines(voucher: Voucher) -> list[tuple[str, Decimal, Decimal, tuple[tuple[str, str], ...]]]:
    return sorted((x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines)


def test_uncovered_supplier_costs_are_accrued_at_month_end_and_reversed_next_day() -> None:
    result = plan()
    assert result.unmapped == []
    assert result.held == []
    vouchers = {v.group_key: v for v in result.vouchers}
    accrued, back = vouchers["XM1|2026-03"], vouchers["XM1|2026-03|reverse"]
    assert accrued.date == dt.date(2026, 3, 31)
    assert back.date == dt.date(2026, 4, 1)
    xm1 = (P, "XM1")
    assert lines(accrued) == sorted(
        [
            ("2202.99", D("0"), D("300000.00"), (xm1, (S, "GYS0001"))),
            ("2202.99", D("0"), D("500000.00"), (xm1, (S, "GYS0002"))),
            ("2202.99", D("0"), D("80000.00"), (xm1, (S, "GYS0003"))),
            ("5401.01", D("500000.00"), D("0"), (xm1,)),
            ("5401.02", D("300000.00"), D("0"), (xm1,)),
            ("5401.03", D("80000.00"), D("0"), (xm1,)),
        ]
    )
    # red ink: the same sides, negative amounts
    assert lines(back) == sorted((a, -d, -c, dims) for a, d, c, dims in lines(accrued))
    assert "上海宏达劳务分包有限公司" in accrued.summary
    assert "冲回" in back.summary
    carried = {i for line in accrued.lines for i in line.document_ids}
    assert carried == {1, 2, 3, 5}  # own wages (4) are not a payable


def test_an_invoice_within_the_grace_days_covers_the_month() -> None:
    result = plan(invoice_grace_days=5)
    accrued = next(v for v in result.vouchers if v.group_key == "XM1|2026-03")
    assert "5401.03" not in {x.account for x in accrued.lines}
    assert accrued.debit_total == D("800000.00")


def test_an_open_month_is_held() -> None:
    result = plan(today=dt.date(2026, 3, 31))
    assert result.postings == []
    assert "尚未结束" in result.held[0].zh

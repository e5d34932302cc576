"""REVENUE and PREPAID_VAT rules: the §2.1 worked example as test vectors, and hand-checked vouchers.

Contract price 10,000,000 ex-VAT (10,900,000 at 9 %), budgeted cost 8,000,000. Period 1 cost
2,000,000 → progress 25 % → revenue 2,500,000.00, cost 2,000,000.00. Period 2 cost 3,000,000 with
the estimate revised to 8,200,000 → cumulative 6,097,560.98, period revenue 3,597,560.98.
Prepaid VAT on 2,326,060 received less 515,000 subcontract paid: 33,230.46 (2 %), 52,749.32 (3 %).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import BudgetLine, Contract, ContractKind, CostCategory, CostRecord, Invoice
from yecai.mapping import registry
from yecai.mapping.events.prepaid_vat import PrepaidVatOptions, VatMethod, prepaid_vat
from yecai.mapping.events.revenue import recognise
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import MappingTable, RuleSet, default_mapping, default_rule_set

D = Decimal
P = "FF100001"

INCOME = Contract(
    contract_no="HT-SR-1",
    project_code="XM1",
    contract_kind=ContractKind.INCOME,
    name="综合楼施工总承包",
    counterparty="市城市建设投资集团有限公司",
    amount=D("10900000.00"),
    tax_rate=D("0.09"),
    retention_rate=D("0.03"),
)
SUBCONTRACT = Contract(
    contract_no="HT-FB-1",
    project_code="XM1",
    contract_kind=ContractKind.SUBCONTRACT,
    name="劳务分包",
    counterparty="上海宏达劳务分包有限公司",
    amount=D("515000.00"),
    tax_rate=D("0.03"),
)
BUDGET = [
    BudgetLine(source_key=f"YS-{c.value}", project_code="XM1", category=c, amount=D(a))
    for c, a in (
        (CostCategory.LABOUR, "1600000.00"),
        (CostCategory.MATERIAL, "4800000.00"),
        (CostCategory.MACHINERY, "600000.00"),
        (CostCategory.SUBCONTRACT, "800000.00"),
        (CostCategory.OTHER_DIRECT, "120000.00"),
        (CostCategory.INDIRECT, "80000.00"),
    )
]  # 8,000,000.00 in all


def cost(doc_id: int, category: str, amount: str, day: dt.date, project: str = "XM1") -> PlannableDocument:
    record = CostRecord(
        source_key=f"CB-{doc_id}",
        project_code=project,
        category=CostCategory(category),
        business_date=day,
        amount=D(amount),
    )
    return PlannableDocument(doc_id, f"v{doc_id}", record)


MARCH, APRIL = dt.date(2026, 3, 20), dt.date(2026, 4, 20)
PERIOD_1 = [  # §2.1 period 1, by cost element
    cost(1, "material", "1200000.00", MARCH),
    cost(2, "labour", "500000.00", MARCH),  # 劳务分包 (人工费)
    cost(3, "labour", "100000.00", MARCH),  # own wages
    cost(4, "machinery", "150000.00", MARCH),
    cost(5, "other_direct", "30000.00", MARCH),
    cost(6, "indirect", "20000.00", MARCH),
]
PERIOD_2 = [cost(7, "material", "2000000.00", APRIL), cost(8, "subcontract", "1000000.00", APRIL)]


def lines(voucher) -> list[tuple[str, Decimal, Decimal, tuple]]:
    return [(x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines]


def ctx(**kwargs: object) -> PlanningContext:
    related = {"contract": [INCOME, SUBCONTRACT], "budget_line": BUDGET}
    return PlanningContext(connection="kd", related=related, **kwargs)


def with_options(name: str, **options: object) -> RuleSet:
    rules = default_rule_set(name)
    return rules.model_copy(update={"options": {**rules.options, **options}})


def test_worked_example_period_1() -> None:
    plan = registry.plan(PERIOD_1, default_rule_set("revenue"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("5402.02", D("2500000.00"), D("0.00"), ((P, "XM1"), ("FFLEX6", "KH0001"))),  # 合同结算 [项目][客户]
        ("6001", D("0.00"), D("2500000.00"), ((P, "XM1"),)),
        ("6401", D("2000000.00"), D("0.00"), ((P, "XM1"),)),
        ("5401.06", D("0.00"), D("20000.00"), ((P, "XM1"),)),
        ("5401.01", D("0.00"), D("600000.00"), ((P, "XM1"),)),
        ("5401.03", D("0.00"), D("150000.00"), ((P, "XM1"),)),
        ("5401.02", D("0.00"), D("1200000.00"), ((P, "XM1"),)),
        ("5401.05", D("0.00"), D("30000.00"), ((P, "XM1"),)),
    ]
    assert voucher.date == dt.date(2026, 3, 31)
    assert voucher.group_key == "XM1|2026-03"
    assert "25.00%" in voucher.summary
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)


def test_worked_example_period_2_estimate_revised() -> None:
    rules = with_options("revenue", estimated_total_cost={"XM1": "8200000.00"})
    history = {"revenue_to_date": {"XM1": {"cost": "2000000.00", "revenue": "2500000.00"}}}
    plan = registry.plan(PERIOD_2, rules, default_mapping(), ctx(history=history))
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("5402.02", D("3597560.98"), D("0.00"), ((P, "XM1"), ("FFLEX6", "KH0001"))),
        ("6001", D("0.00"), D("3597560.98"), ((P, "XM1"),)),
        ("6401", D("3000000.00"), D("0.00"), ((P, "XM1"),)),
        ("5401.02", D("0.00"), D("2000000.00"), ((P, "XM1"),)),
        ("5401.04", D("0.00"), D("1000000.00"), ((P, "XM1"),)),
    ]
    assert voucher.date == dt.date(2026, 4, 30)


def test_recognise_vectors() -> None:
    first = recognise(D("10000000.00"), D("2000000.00"), D("8000000.00"), D("0.00"))
    assert (first.progress, first.cumulative_revenue, first.period_revenue) == (
        D("0.25"),
        D("2500000.00"),
        D("2500000.00"),
    )
    second = recognise(D("10000000.00"), D("5000000.00"), D("8200000.00"), D("2500000.00"))
    assert (second.cumulative_revenue, second.period_revenue) == (D("6097560.98"), D("3597560.98"))
    # cost beyond the estimate: progress stops at 100 %
    over = recognise(D("100.00"), D("120.00"), D("100.00"), D("90.00"))
    assert (over.progress, over.cumulative_revenue, over.period_revenue) == (D(1), D("100.00"), D("10.00"))


def test_two_periods_in_one_plan_catch_up_in_order() -> None:
    # Same estimate (budget 8,000,000): period 2 cumulative 5,000,000/8,000,000 × 10,000,000 = 6,250,000.
    plan = registry.plan(PERIOD_1 + PERIOD_2, default_rule_set("revenue"), default_mapping(), ctx())
    assert [(v.group_key, v.lines[0].debit, v.lines[2].debit) for v in plan.vouchers] == [
        ("XM1|2026-03", D("2500000.00"), D("2000000.00")),
        ("XM1|2026-04", D("3750000.00"), D("3000000.00")),
    ]


def test_small_enterprise_revenue_goes_through_gross_margin() -> None:
    mapping = default_mapping().model_copy(
        update={"projects": MappingTable(projects={"XM1": {"accounting_standard": "small"}}).projects}
    )
    plan = registry.plan(PERIOD_1, default_rule_set("revenue"), mapping, ctx())
    assert lines(plan.vouchers[0]) == [
        ("5401", D("2000000.00"), D("0.00"), ((P, "XM1"),)),
        ("4401.03", D("500000.00"), D("0.00"), ((P, "XM1"),)),
        ("5001", D("0.00"), D("2500000.00"), ((P, "XM1"),)),
    ]


def test_revenue_without_estimate_or_price_is_held() -> None:
    docs = [
        cost(9, "labour", "10.00", MARCH, project="XM2"),
        cost(10, "labour", "10.00", MARCH, project="XM3"),
    ]
    rules = with_options("revenue", estimated_total_cost={"XM3": "100.00"})
    plan = registry.plan(docs, rules, default_mapping(), ctx())
    assert plan.vouchers == []
    reasons = {h.document_ids: h.en for h in plan.held}
    assert "no estimated total cost" in reasons[(9,)]
    assert "no income contract" in reasons[(10,)]


def test_revenue_with_several_budget_versions_needs_one_chosen() -> None:
    revised = BudgetLine(
        source_key="YS-R",
        project_code="XM1",
        category=CostCategory.MATERIAL,
        amount=D("1.00"),
        version="调整1",
    )
    context = PlanningContext(
        connection="kd", related={"contract": [INCOME], "budget_line": [*BUDGET, revised]}
    )
    plan = registry.plan(PERIOD_1, default_rule_set("revenue"), default_mapping(), context)
    assert plan.vouchers == []
    assert "budget_version" in plan.held[0].zh


def invoice(
    doc_id: int, direction: str, amount: str, tax: str, rate: str, contract: str | None, day: dt.date
) -> PlannableDocument:
    model = Invoice(
        invoice_no=f"{doc_id:08d}",
        direction=direction,
        invoice_type="special",
        issue_date=day,
        project_code="XM1" if direction == "out" else None,
        seller_name="业财演示建设集团有限公司" if direction == "out" else "上海宏达劳务分包有限公司",
        buyer_name="市城市建设投资集团有限公司" if direction == "out" else "业财演示建设集团有限公司",
        amount=D(amount),
        tax_rate=D(rate),
        tax_amount=D(tax),
        total=D(amount) + D(tax),
        contract_no=contract,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", model)


BILLED = invoice(21, "out", "2134000.00", "192060.00", "0.09", "HT-SR-1", MARCH)  # 2,326,060.00
SUB_PAID = invoice(22, "in", "500000.00", "15000.00", "0.03", "HT-FB-1", MARCH)  # 515,000.00


def test_prepaid_vat_general_method_vector() -> None:
    plan = registry.plan([BILLED, SUB_PAID], default_rule_set("prepaid_vat"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("2221.03", D("33230.46"), D("0.00"), ((P, "XM1"),)),
        ("1002.01", D("0.00"), D("33230.46"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 31)
    assert "一般计税" in voucher.summary


def test_prepaid_vat_simple_method_vector() -> None:
    rules = with_options("prepaid_vat", project_methods={"XM1": "simple"})
    plan = registry.plan([BILLED, SUB_PAID], rules, default_mapping(), ctx())
    assert lines(plan.vouchers[0]) == [
        ("2221.06", D("52749.32"), D("0.00"), ()),
        ("1002.01", D("0.00"), D("52749.32"), ()),
    ]


def test_prepaid_vat_negative_base_is_carried_forward() -> None:
    early = invoice(23, "in", "500000.00", "15000.00", "0.03", "HT-FB-1", dt.date(2026, 2, 10))
    billed_later = invoice(24, "out", "2134000.00", "192060.00", "0.09", "HT-SR-1", MARCH)
    # February: −515,000 → nothing; March: 2,326,060 − 515,000 → 33,230.46 carrying both invoices
    plan = registry.plan([early, billed_later], default_rule_set("prepaid_vat"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert voucher.group_key == "XM1|2026-03"
    assert voucher.lines[0].debit == D("33230.46")
    assert set(voucher.lines[0].document_ids) == {23, 24}
    alone = registry.plan([early], default_rule_set("prepaid_vat"), default_mapping(), ctx())
    assert alone.vouchers == []
    assert alone.zero_groups == ["XM1|2026-02"]


def test_prepaid_vat_carry_in_from_history() -> None:
    history = {"prepaid_vat_carry": {"XM1": "-515000.00"}}
    plan = registry.plan([BILLED], default_rule_set("prepaid_vat"), default_mapping(), ctx(history=history))
    assert plan.vouchers[0].lines[0].debit == D("33230.46")


def test_prepaid_vat_formula_vectors() -> None:
    options = PrepaidVatOptions()
    assert prepaid_vat(D("2326060.00"), D("515000.00"), VatMethod.GENERAL, options).tax == D("33230.46")
    assert prepaid_vat(D("2326060.00"), D("515000.00"), VatMethod.SIMPLE, options).tax == D("52749.32")
    nothing = prepaid_vat(D("100.00"), D("515000.00"), VatMethod.GENERAL, options)
    assert (nothing.base, nothing.tax) == (D("-514900.00"), D("0.00"))

"""REVENUE and PREPAID_VAT rules: the §2.1 worked example as test vectors, and hand-checked vouchers.

Contract price 10,000,000 ex-VAT (10,900,000 at 9 %), budgeted cost 8,000,000. Period 1 cost
2,000,000 → progress 25 % → revenue 2,500,000.00, cost 2,000,000.00. Period 2 cost 3,000,000 with
the estimate revised to 8,200,000 → cumulative 6,097,560.98, period revenue 3,597,560.98.
Prepaid VAT on 2,326,060 received less 515,000 subcontract paid: 33,230.46 (2 %), 52,749.32 (3 %).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import (
    BudgetLine,
    Contract,
    ContractKind,
    CostCategory,
    CostRecord,
    Invoice,
    OpeningBalance,
    Project,
)
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
    rules = default_rule_set("revenue")
    strict = rules.model_copy(update={"options": {**rules.options, "budget_version": None}})
    plan = registry.plan(PERIOD_1, strict, default_mapping(), context)
    assert plan.vouchers == []
    assert "budget_version" in plan.held[0].zh
    # by default the highest version of a line kept side by side is the estimate
    latest = registry.plan(PERIOD_1, rules, default_mapping(), context)
    assert latest.held == []
    assert latest.vouchers


def test_lines_revised_in_place_are_one_budget_whatever_their_versions() -> None:
    """sandbox.pm (like Glodon's 目标成本) revises a category's line in place: V2 for material and
    V1 for the rest is one budget, not two versions to choose from — even when told to be strict."""
    revised = [
        line.model_copy(update={"version": "V2" if line.category is CostCategory.MATERIAL else "V1"})
        for line in BUDGET
    ]
    context = PlanningContext(connection="kd", related={"contract": [INCOME], "budget_line": revised})
    rules = default_rule_set("revenue")
    strict = rules.model_copy(update={"options": {**rules.options, "budget_version": None}})
    plan = registry.plan(PERIOD_1, strict, default_mapping(), context)
    assert plan.held == []
    assert plan.vouchers


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


# XM1 works outside the county of the company's seat (跨县市): it prepays VAT at its location.
AWAY = Project(code="XM1", name="综合楼", cross_region=True)


def vat_ctx(*projects: Project, **kwargs: object) -> PlanningContext:
    related: dict[str, list[object]] = {
        "contract": [INCOME, SUBCONTRACT],
        "project": list(projects or (AWAY,)),
        "opening_balance": list(kwargs.pop("openings", ())),  # type: ignore[arg-type]
    }
    return PlanningContext(connection="kd", related=related, **kwargs)  # type: ignore[arg-type]


def test_prepaid_vat_general_method_vector() -> None:
    plan = registry.plan([BILLED, SUB_PAID], default_rule_set("prepaid_vat"), default_mapping(), vat_ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("2221.03", D("33230.46"), D("0.00"), ((P, "XM1"),)),
        ("1002.01", D("0.00"), D("33230.46"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 31)
    assert "一般计税" in voucher.summary


def test_prepaid_vat_simple_method_vector() -> None:
    rules = with_options("prepaid_vat", project_methods={"XM1": "simple"})
    plan = registry.plan([BILLED, SUB_PAID], rules, default_mapping(), vat_ctx())
    assert lines(plan.vouchers[0]) == [
        ("2221.06", D("52749.32"), D("0.00"), ()),
        ("1002.01", D("0.00"), D("52749.32"), ()),
    ]


def test_prepaid_vat_negative_base_is_carried_forward() -> None:
    early = invoice(23, "in", "500000.00", "15000.00", "0.03", "HT-FB-1", dt.date(2026, 2, 10))
    billed_later = invoice(24, "out", "2134000.00", "192060.00", "0.09", "HT-SR-1", MARCH)
    # February: −515,000 → nothing; March: 2,326,060 − 515,000 → 33,230.46 carrying both invoices
    plan = registry.plan([early, billed_later], default_rule_set("prepaid_vat"), default_mapping(), vat_ctx())
    (voucher,) = plan.vouchers
    assert voucher.group_key == "XM1|2026-03"
    assert voucher.lines[0].debit == D("33230.46")
    assert set(voucher.lines[0].document_ids) == {23, 24}
    alone = registry.plan([early], default_rule_set("prepaid_vat"), default_mapping(), vat_ctx())
    assert alone.vouchers == []
    assert alone.zero_groups == ["XM1|2026-02"]


def test_prepaid_vat_carry_in_from_history() -> None:
    history = {"prepaid_vat_carry": {"XM1": "-515000.00"}}
    plan = registry.plan(
        [BILLED], default_rule_set("prepaid_vat"), default_mapping(), vat_ctx(history=history)
    )
    assert plan.vouchers[0].lines[0].debit == D("33230.46")


def test_prepaid_vat_formula_vectors() -> None:
    options = PrepaidVatOptions()
    assert prepaid_vat(D("2326060.00"), D("515000.00"), VatMethod.GENERAL, options).tax == D("33230.46")
    assert prepaid_vat(D("2326060.00"), D("515000.00"), VatMethod.SIMPLE, options).tax == D("52749.32")
    nothing = prepaid_vat(D("100.00"), D("515000.00"), VatMethod.GENERAL, options)
    assert (nothing.base, nothing.tax) == (D("-514900.00"), D("0.00"))


# -- issue 13, defect 8: every cost in 合同履约成本 reaches 主营业务成本; progress starts at go-live ------


def fulfilment(*rows: tuple[str, str, str, bool]) -> dict[str, object]:
    """History of what other rule sets debited to XM1's 合同履约成本: (period, account, amount, carried)."""
    return {
        "fulfilment_cost": {
            "XM1": [{"period": p, "account": a, "amount": D(x), "carried": c} for p, a, x, c in rows]
        }
    }


def test_allocated_and_non_deductible_cost_is_carried_to_cost_of_sales() -> None:
    # §2.1 period 1 without its indirect cost record; instead the month-end allocation moved
    # 20,000 of pool cost onto XM1 (5401.06) and a 普票's 15,000 tax went into 5401.01: both sit in
    # 合同履约成本 and must leave it with the period's revenue voucher, and both count as cost incurred.
    docs = PERIOD_1[:5]
    history = fulfilment(("2026-03", "5401.06", "20000.00", False), ("2026-03", "5401.01", "15000.00", False))
    plan = registry.plan(docs, default_rule_set("revenue"), default_mapping(), ctx(history=history))
    (voucher,) = plan.vouchers
    credits = {x.account: x.credit for x in voucher.lines if x.credit}
    assert credits["5401.06"] == D("20000.00")
    assert credits["5401.01"] == D("615000.00")  # 600,000 labour + 15,000 tax of the 普票
    debits = {x.account: x.debit for x in voucher.lines if x.debit}
    assert debits["6401"] == D("2015000.00")
    # progress 2,015,000 / 8,000,000 = 25.1875 % → revenue 2,518,750.00
    assert debits["5402.02"] == D("2518750.00")
    assert "25.19%" in voucher.summary
    assert voucher.debit_total == voucher.credit_total


def test_fulfilment_cost_already_carried_counts_for_progress_but_is_not_carried_again() -> None:
    history = {
        "revenue_to_date": {"XM1": {"cost": "1980000.00", "revenue": "2475000.00"}},
        **fulfilment(("2026-03", "5401.06", "20000.00", True), ("2026-04", "5401.06", "5000.00", False)),
    }
    plan = registry.plan(PERIOD_2, default_rule_set("revenue"), default_mapping(), ctx(history=history))
    (voucher,) = plan.vouchers
    # cumulative 1,980,000 + 20,000 (carried in March) + 3,000,000 + 5,000 = 5,005,000 of 8,000,000
    assert voucher.lines[0].debit == D("6256250.00") - D("2475000.00")
    credits = {x.account: x.credit for x in voucher.lines if x.credit}
    assert credits["5401.06"] == D("5000.00")  # only April's allocation
    assert {x.account: x.debit for x in voucher.lines if x.debit}["6401"] == D("3005000.00")


def test_fulfilment_cost_of_a_later_period_waits_for_that_period() -> None:
    history = fulfilment(("2026-04", "5401.06", "5000.00", False))
    plan = registry.plan(PERIOD_1, default_rule_set("revenue"), default_mapping(), ctx(history=history))
    (voucher,) = plan.vouchers
    assert {x.account: x.credit for x in voucher.lines if x.credit}["5401.06"] == D("20000.00")


def test_opening_balance_starts_progress_at_go_live() -> None:
    # At go-live (2026-03-01) the contract had incurred 6,000,000 of an estimated 8,000,000 and
    # recognised 7,400,000. March adds 2,000,000 of cost … progress 8,000,000 / 8,000,000 = 100 %,
    # cumulative revenue 10,000,000, March revenue 2,600,000 (not 2,500,000 as if it were the first month).
    opening = OpeningBalance(
        source_key="QC-HT-SR-1",
        project_code="XM1",
        contract_no="HT-SR-1",
        as_of=dt.date(2026, 3, 1),
        cost_to_date=D("6000000.00"),
        revenue_to_date=D("7400000.00"),
        estimated_total_cost=D("8000000.00"),
    )
    supplier_side = OpeningBalance(  # a supplier contract's figures never count as the project's cost
        source_key="QC-HT-FB-1",
        project_code="XM1",
        contract_no="HT-FB-1",
        as_of=dt.date(2026, 3, 1),
        cost_to_date=D("515000.00"),
        invoiced_to_date=D("515000.00"),
    )
    context = PlanningContext(
        connection="kd",
        related={"contract": [INCOME, SUBCONTRACT], "opening_balance": [opening, supplier_side]},
    )
    plan = registry.plan(PERIOD_1, default_rule_set("revenue"), default_mapping(), context)
    (voucher,) = plan.vouchers
    assert voucher.lines[0].debit == D("2600000.00")
    assert voucher.lines[2].debit == D("2000000.00")  # March's own cost is what is carried
    assert "100.00%" in voucher.summary


def test_opening_balance_of_the_project_as_a_whole() -> None:
    opening = OpeningBalance(
        source_key="QC-XM1",
        project_code="XM1",
        as_of=dt.date(2026, 3, 1),
        cost_to_date=D("2000000.00"),
        revenue_to_date=D("2500000.00"),
    )
    related = {"contract": [INCOME, SUBCONTRACT], "budget_line": BUDGET, "opening_balance": [opening]}
    context = PlanningContext(connection="kd", related=related)
    plan = registry.plan(PERIOD_2, default_rule_set("revenue"), default_mapping(), context)
    # (2,000,000 + 3,000,000) / 8,000,000 × 10,000,000 = 6,250,000; less 2,500,000 before go-live
    assert plan.vouchers[0].lines[0].debit == D("3750000.00")
    assert "62.50%" in plan.vouchers[0].summary


def test_pool_project_costs_are_left_to_the_allocation() -> None:
    pool = cost(30, "indirect", "1000.00", MARCH, project="JJFY")
    plan = registry.plan([*PERIOD_1, pool], default_rule_set("revenue"), default_mapping(), ctx())
    assert [v.group_key for v in plan.vouchers] == ["XM1|2026-03"]
    assert plan.held == []
    assert all(30 not in x.document_ids for v in plan.vouchers for x in v.lines)


def test_every_profit_and_loss_line_carries_the_project() -> None:
    small = default_mapping().model_copy(
        update={"projects": MappingTable(projects={"XM1": {"accounting_standard": "small"}}).projects}
    )
    for mapping in (default_mapping(), small):
        plan = registry.plan(PERIOD_1, default_rule_set("revenue"), mapping, ctx())
        for line in plan.vouchers[0].lines:
            if line.account[0] in "56" and not line.account.startswith(
                "54"
            ):  # 损益类: 5001/5401(小企业), 6xxx
                assert (P, "XM1") in line.dimensions, line


# -- issue 13, defect 9 and 4: prepaid VAT only where the project is 跨县市; the go-live carry ------------


def test_a_local_project_prepays_nothing() -> None:
    home = Project(code="XM1", name="综合楼", cross_region=False)
    rules = default_rule_set("prepaid_vat")
    for context in (vat_ctx(home), PlanningContext(connection="kd", related={"contract": [INCOME]})):
        plan = registry.plan([BILLED, SUB_PAID], rules, default_mapping(), context)
        assert plan.vouchers == []
        assert plan.held == []
        assert plan.unmapped == []


def test_cross_region_and_method_may_come_from_the_mapping_table() -> None:
    mapping = default_mapping().model_copy(
        update={
            "projects": MappingTable(
                projects={"XM1": {"cross_region": True, "vat_method": "simple"}}
            ).projects
        }
    )
    context = PlanningContext(connection="kd", related={"contract": [INCOME, SUBCONTRACT]})
    plan = registry.plan([BILLED, SUB_PAID], default_rule_set("prepaid_vat"), mapping, context)
    assert lines(plan.vouchers[0]) == [
        ("2221.06", D("52749.32"), D("0.00"), ()),
        ("1002.01", D("0.00"), D("52749.32"), ()),
    ]
    assert "简易计税" in plan.vouchers[0].summary


def test_the_project_documents_simple_method_is_used() -> None:
    simple = Project(code="XM1", name="综合楼", cross_region=True, vat_method="simple")
    plan = registry.plan(
        [BILLED, SUB_PAID], default_rule_set("prepaid_vat"), default_mapping(), vat_ctx(simple)
    )
    assert plan.vouchers[0].lines[0].debit == D("52749.32")
    # the rule set's per-project election still wins
    rules = with_options("prepaid_vat", project_methods={"XM1": "general"})
    plan = registry.plan([BILLED, SUB_PAID], rules, default_mapping(), vat_ctx(simple))
    assert plan.vouchers[0].lines[0].debit == D("33230.46")


def test_labour_subcontract_invoices_are_deducted() -> None:
    labour = SUBCONTRACT.model_copy(update={"contract_no": "HT-LW-1", "contract_kind": ContractKind.LABOUR})
    paid = invoice(25, "in", "500000.00", "15000.00", "0.03", "HT-LW-1", MARCH)
    context = PlanningContext(connection="kd", related={"contract": [INCOME, labour], "project": [AWAY]})
    plan = registry.plan([BILLED, paid], default_rule_set("prepaid_vat"), default_mapping(), context)
    assert plan.vouchers[0].lines[0].debit == D("33230.46")
    assert set(plan.vouchers[0].lines[0].document_ids) == {21, 25}


def carry(amount: str) -> OpeningBalance:
    return OpeningBalance(
        source_key="QC-XM1",
        project_code="XM1",
        as_of=dt.date(2026, 3, 1),
        prepaid_vat_carry=D(amount),
    )


def test_the_carry_from_before_go_live_comes_from_the_opening_balance() -> None:
    rules = default_rule_set("prepaid_vat")
    plan = registry.plan([BILLED], rules, default_mapping(), vat_ctx(openings=[carry("-515000.00")]))
    assert plan.vouchers[0].lines[0].debit == D("33230.46")
    # once a prepayment was posted for the project the carry is used up: it never counts twice
    history = {"prepaid_vat_posted": ["XM1"]}
    again = registry.plan(
        [BILLED], rules, default_mapping(), vat_ctx(openings=[carry("-515000.00")], history=history)
    )
    assert again.vouchers[0].lines[0].debit == D("42680.00")  # 2,326,060 / 1.09 × 2 %

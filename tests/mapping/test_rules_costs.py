"""COST and INDIRECT_ALLOCATION rules against hand-checked vouchers (docs/rules.md entries 2–8b).

Every expected line — account, debit, credit, dimensions — is written out literally, computed by
hand from the reference's entries; nothing here is derived by calling the code under test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yecai.domain.documents import Contract, ContractKind, CostCategory, CostRecord
from yecai.errors import ConfigurationError
from yecai.mapping import registry
from yecai.mapping.events.allocation import largest_remainder
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import CategoryRule, MappingTable, RuleSet, default_mapping, default_rule_set

D = Decimal
P = "FF100001"


def cost(
    doc_id: int,
    project: str,
    category: str,
    amount: str,
    day: dt.date = dt.date(2026, 3, 5),
    supplier: str | None = None,
) -> PlannableDocument:
    record = CostRecord(
        source_key=f"CB-{doc_id}",
        project_code=project,
        category=CostCategory(category),
        business_date=day,
        amount=D(amount),
        supplier_name=supplier,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", record)


def lines(voucher) -> list[tuple[str, Decimal, Decimal, tuple]]:
    return [(x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines]


def ctx(**kwargs) -> PlanningContext:
    return PlanningContext(connection="kd", **kwargs)


def test_cost_cas_entry_2_material() -> None:
    plan = registry.plan(
        [cost(1, "XM1", "material", "1200000.00", supplier="江苏恒固建材有限公司")],
        default_rule_set(),
        default_mapping(),
        ctx(),
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("5401.02", D("1200000.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.01", D("0.00"), D("1200000.00"), ((P, "XM1"), ("FFLEX4", "GYS0001"))),
    ]
    assert voucher.date == dt.date(2026, 3, 5)
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)


def test_cost_entry_8_indirect_booked_per_project_and_to_the_pool() -> None:
    plan = registry.plan(
        [
            item_cost(1, "indirect", "20000.00", "项目管理人员薪酬 3月", subcategory="项目管理人员薪酬"),
            item_cost(2, "indirect", "5000.00", "项目部固定资产折旧 3月", project="JJFY"),
        ],
        default_rule_set(),
        default_mapping(),
        ctx(),
    )
    # 薪酬 are owed to staff (应付职工薪酬—工资), depreciation reduces the assets (累计折旧): entry 8.
    assert [lines(v) for v in plan.vouchers] == [
        [("5401.06", D("5000.00"), D("0.00"), ((P, "JJFY"),)), ("1602", D("0.00"), D("5000.00"), ())],
        [("5401.06", D("20000.00"), D("0.00"), ((P, "XM1"),)), ("2211.01", D("0.00"), D("20000.00"), ())],
    ]


def test_cost_small_enterprise_project_uses_its_own_accounts() -> None:
    # Same category, another standard: 小企业会计准则 books 工程施工—合同成本—人工费 (4401.01.01).
    mapping = default_mapping().model_copy(
        update={"projects": MappingTable(projects={"XM9": {"accounting_standard": "small"}}).projects}
    )
    plan = registry.plan(
        [
            cost(1, "XM9", "labour", "100.00", supplier="上海宏达劳务分包有限公司"),
            cost(2, "XM1", "labour", "100.00", supplier="上海宏达劳务分包有限公司"),
        ],
        default_rule_set(),
        mapping,
        ctx(),
    )
    labour = ("FFLEX4", "GYS0002")
    assert [lines(v) for v in plan.vouchers] == [
        [
            ("5401.01", D("100.00"), D("0.00"), ((P, "XM1"),)),
            ("2202.02", D("0.00"), D("100.00"), ((P, "XM1"), labour)),
        ],
        [
            ("4401.01.01", D("100.00"), D("0.00"), ((P, "XM9"),)),
            ("2202.02", D("0.00"), D("100.00"), ((P, "XM9"), labour)),
        ],
    ]


def test_cost_small_project_without_small_accounts_is_unmapped_not_posted_on_cas() -> None:
    mapping = MappingTable(projects={"XM9": {"accounting_standard": "small"}})
    plan = registry.plan([cost(1, "XM9", "labour", "100.00")], default_rule_set(), mapping, ctx())
    assert plan.vouchers == []
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [("category", "small/labour", (1,))]


def test_cost_supplier_dimension_on_the_payable() -> None:
    rules = default_rule_set()
    categories = dict(rules.categories)
    categories[CostCategory.LABOUR] = CategoryRule(
        debit="5401.01", credit="2202.02", credit_dimensions=("project", "supplier")
    )
    rules = rules.model_copy(update={"categories": categories})
    plan = registry.plan(
        [
            cost(1, "XM1", "labour", "300.00", supplier="上海宏达劳务分包有限公司"),
            cost(2, "XM1", "labour", "50.00", supplier="无名劳务队"),
        ],
        rules,
        default_mapping(),
        ctx(),
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("5401.01", D("300.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.02", D("0.00"), D("300.00"), ((P, "XM1"), ("FFLEX4", "GYS0002"))),
    ]
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [("supplier", "无名劳务队", (2,))]


def test_cost_every_unmapped_value_of_a_document_is_reported_at_once() -> None:
    rules = default_rule_set()
    without = {k: v for k, v in rules.categories.items() if k is not CostCategory.MACHINERY}
    plan = registry.plan(
        [cost(7, "XM9", "machinery", "1.00")],
        rules.model_copy(update={"categories": without}),
        MappingTable(project_default="report"),
        ctx(),
    )
    assert [(u.kind, u.value) for u in plan.unmapped] == [("category", "machinery"), ("project", "XM9")]


def test_allocation_entry_8b_by_direct_cost_with_largest_remainder() -> None:
    documents = [
        cost(1, "JJFY", "indirect", "1000.00"),
        cost(2, "XM1", "labour", "100.00"),
        cost(3, "XM1", "material", "200.00"),
        cost(4, "XM2", "material", "300.00"),
        cost(5, "XM3", "machinery", "300.00"),
        cost(6, "XM3", "indirect", "999.00"),  # a project's own indirect cost is not in the base
    ]
    plan = registry.plan(documents, default_rule_set("indirect_allocation"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    # 1000 × 300/900 = 333.333… each; the one cent left goes to the first of equal remainders.
    assert lines(voucher) == [
        ("5401.06", D("333.34"), D("0.00"), ((P, "XM1"),)),
        ("5401.06", D("333.33"), D("0.00"), ((P, "XM2"),)),
        ("5401.06", D("333.33"), D("0.00"), ((P, "XM3"),)),
        ("5401.06", D("0.00"), D("1000.00"), ((P, "JJFY"),)),
    ]
    assert voucher.date == dt.date(2026, 3, 31)
    assert voucher.group_key == "alloc|JJFY|2026-03"
    assert {i for x in voucher.lines for i in x.document_ids} == {1}  # only the pool is moved


def test_allocation_by_direct_labour_reads_posted_costs_from_related() -> None:
    rules = default_rule_set("indirect_allocation")
    rules = rules.model_copy(update={"options": {**rules.options, "base": "direct_labour"}})
    related = [
        cost(2, "XM1", "labour", "100.00").model,
        cost(3, "XM2", "labour", "300.00").model,
        cost(4, "XM3", "material", "900.00").model,  # not labour: no share
        cost(5, "XM1", "labour", "1.00", day=dt.date(2026, 4, 1)).model,  # another period
    ]
    plan = registry.plan(
        [cost(1, "JJFY", "indirect", "1000.00")],
        rules,
        default_mapping(),
        ctx(related={"cost_record": related}),
    )
    assert lines(plan.vouchers[0]) == [
        ("5401.06", D("250.00"), D("0.00"), ((P, "XM1"),)),
        ("5401.06", D("750.00"), D("0.00"), ((P, "XM2"),)),
        ("5401.06", D("0.00"), D("1000.00"), ((P, "JJFY"),)),
    ]


def test_allocation_without_a_base_is_held_with_a_reason() -> None:
    plan = registry.plan(
        [cost(1, "JJFY", "indirect", "10.00")],
        default_rule_set("indirect_allocation"),
        default_mapping(),
        ctx(),
    )
    assert plan.vouchers == []
    (held,) = plan.held
    assert held.document_ids == (1,)
    assert "分配基数为零" in held.zh
    assert "base is zero" in held.en


def test_largest_remainder_hand_cases() -> None:
    assert largest_remainder(D("100.00"), {"a": D(1), "b": D(1), "c": D(1)}) == {
        "a": D("33.34"),
        "b": D("33.33"),
        "c": D("33.33"),
    }
    # 0.05 over weights 1:2:2 → 0.01, 0.02, 0.02 exactly
    assert largest_remainder(D("0.05"), {"a": D(1), "b": D(2), "c": D(2)}) == {
        "a": D("0.01"),
        "b": D("0.02"),
        "c": D("0.02"),
    }
    # 10.00 over 1:1:1:… with a larger remainder winning: 10 × 2/3 = 6.666… → 6.67, 10 × 1/3 → 3.33
    assert largest_remainder(D("10.00"), {"x": D(2), "y": D(1)}) == {"x": D("6.67"), "y": D("3.33")}
    assert largest_remainder(D("-1.00"), {"a": D(1), "b": D(2)}) == {"a": D("-0.33"), "b": D("-0.67")}


def test_allocation_options_are_checked() -> None:
    rules = default_rule_set("indirect_allocation")
    bad = RuleSet.model_validate({**rules.model_dump(), "options": {"base": "headcount"}})
    with pytest.raises(ConfigurationError, match="options"):
        registry.plan([cost(1, "JJFY", "indirect", "1.00")], bad, default_mapping(), ctx())


# -- issue 13: payables by contract, credits by cost nature, aggregations, 摘要 -------------------

LABOUR_CONTRACT = Contract(
    contract_no="HT-LW-1",
    project_code="XM1",
    contract_kind=ContractKind.LABOUR,
    name="主体结构劳务分包",
    counterparty="上海宏达劳务分包有限公司",
    amount=D("515000.00"),
    tax_rate=D("0.03"),
)


def item_cost(
    doc_id: int,
    category: str,
    amount: str,
    description: str,
    subcategory: str | None = None,
    supplier: str | None = None,
    project: str = "XM1",
) -> PlannableDocument:
    record = CostRecord(
        source_key=f"FY-{doc_id}",
        project_code=project,
        category=CostCategory(category),
        business_date=dt.date(2026, 3, 31),
        amount=D(amount),
        description=description,
        subcategory=subcategory,
        supplier_name=supplier,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", record)


def test_labour_cost_under_a_labour_contract_credits_the_labour_payable_with_its_supplier() -> None:
    doc = PlannableDocument(
        1,
        "v1",
        CostRecord(
            source_key="CB-1",
            project_code="XM1",
            category=CostCategory.LABOUR,
            business_date=dt.date(2026, 3, 5),
            amount=D("500000.00"),
            supplier_name="上海宏达劳务分包有限公司",
            contract_no="HT-LW-1",
        ),
    )
    plan = registry.plan(
        [doc], default_rule_set(), default_mapping(), ctx(related={"contract": [LABOUR_CONTRACT]})
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("5401.01", D("500000.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.02", D("0.00"), D("500000.00"), ((P, "XM1"), ("FFLEX4", "GYS0002"))),
    ]


def test_material_cost_under_a_lease_contract_is_owed_on_the_lease_payable() -> None:
    # The contract decides the payable, not the cost's category: 周转材料 hired under a lease.
    lease = LABOUR_CONTRACT.model_copy(
        update={
            "contract_no": "HT-ZL-1",
            "contract_kind": ContractKind.LEASE,
            "counterparty": "浙江力拓机械租赁有限公司",
        }
    )
    record = CostRecord(
        source_key="CB-2",
        project_code="XM1",
        category=CostCategory.MATERIAL,
        business_date=dt.date(2026, 3, 5),
        amount=D("800.00"),
        supplier_name="浙江力拓机械租赁有限公司",
        contract_no="HT-ZL-1",
    )
    plan = registry.plan(
        [PlannableDocument(2, "v2", record)],
        default_rule_set(),
        default_mapping(),
        ctx(related={"contract": [lease]}),
    )
    assert lines(plan.vouchers[0]) == [
        ("5401.02", D("800.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.03", D("0.00"), D("800.00"), ((P, "XM1"), ("FFLEX4", "GYS0003"))),
    ]


def test_other_and_indirect_costs_credit_by_their_nature_not_2241() -> None:
    docs = [
        item_cost(1, "indirect", "66200.00", "项目管理人员薪酬 3月", subcategory="项目管理人员薪酬"),
        item_cost(2, "indirect", "7200.00", "项目部固定资产折旧 3月", subcategory="固定资产折旧"),
        item_cost(3, "other_direct", "14300.00", "临时设施摊销 3月", subcategory="临时设施摊销"),
        item_cost(
            4,
            "other_direct",
            "3210.00",
            "施工用电 3月",
            subcategory="施工用电",
            supplier="江苏恒固建材有限公司",
        ),
    ]
    plan = registry.plan(
        docs, default_rule_set().model_copy(update={"aggregation": "per_document"}), default_mapping(), ctx()
    )
    assert plan.unmapped == []
    assert [lines(v) for v in plan.vouchers] == [
        [("5401.06", D("66200.00"), D("0.00"), ((P, "XM1"),)), ("2211.01", D("0.00"), D("66200.00"), ())],
        [("5401.06", D("7200.00"), D("0.00"), ((P, "XM1"),)), ("1602", D("0.00"), D("7200.00"), ())],
        [
            ("5401.05", D("14300.00"), D("0.00"), ((P, "XM1"),)),
            ("1801.01", D("0.00"), D("14300.00"), ((P, "XM1"),)),
        ],
        [
            ("5401.05", D("3210.00"), D("0.00"), ((P, "XM1"),)),
            ("2202.05", D("0.00"), D("3210.00"), ((P, "XM1"), ("FFLEX4", "GYS0001"))),
        ],
    ]


def test_cost_item_by_keywords_when_no_subcategory_and_unmatched_ones_are_reported() -> None:
    docs = [
        item_cost(1, "indirect", "500.00", "项目部固定资产折旧 3月"),  # keyword 折旧
        item_cost(2, "other_direct", "99.00", "现场零星杂项"),  # nothing matches
        item_cost(3, "indirect", "10.00", "x", subcategory="业务招待费"),  # a 费用明细 the table lacks
    ]
    plan = registry.plan(docs, default_rule_set(), default_mapping(), ctx())
    assert [lines(v) for v in plan.vouchers] == [
        [("5401.06", D("500.00"), D("0.00"), ((P, "XM1"),)), ("1602", D("0.00"), D("500.00"), ())]
    ]
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [
        ("cost_item", "业务招待费", (3,)),
        ("cost_item", "现场零星杂项", (2,)),
    ]
    assert "费用明细" in plan.unmapped[0].zh


def test_cost_item_fallback_when_the_tenant_configured_one() -> None:
    mapping = default_mapping()
    mapping = (
        mapping.model_copy(update={"cost_item_fallback": "其他应付"})
        if "其他应付" in mapping.cost_items
        else None
    )
    assert mapping is not None  # the defaults offer 其他应付 (2241) as an opt-in fallback row
    plan = registry.plan(
        [item_cost(2, "other_direct", "99.00", "现场零星杂项")], default_rule_set(), mapping, ctx()
    )
    assert plan.unmapped == []
    assert lines(plan.vouchers[0])[1] == ("2241", D("0.00"), D("99.00"), ())


def test_payable_line_without_a_supplier_is_reported_not_posted() -> None:
    plan = registry.plan(
        [item_cost(4, "other_direct", "3210.00", "施工用电 3月", subcategory="施工用电")],
        default_rule_set(),
        default_mapping(),
        ctx(),
    )
    assert plan.vouchers == []
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [("supplier", "-", (4,))]


def test_project_day_is_one_voucher_per_project_and_day_across_categories() -> None:
    rules = default_rule_set().model_copy(update={"aggregation": "project_day"})
    docs = [
        cost(1, "XM1", "material", "100.00", supplier="江苏恒固建材有限公司"),
        cost(2, "XM1", "machinery", "50.00", supplier="浙江力拓机械租赁有限公司"),
        cost(3, "XM2", "material", "7.00", supplier="江苏恒固建材有限公司"),
    ]
    plan = registry.plan(docs, rules, default_mapping(), ctx())
    assert [v.group_key for v in plan.vouchers] == ["XM1|2026-03-05", "XM2|2026-03-05"]
    assert lines(plan.vouchers[0]) == [
        ("5401.02", D("100.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.01", D("0.00"), D("100.00"), ((P, "XM1"), ("FFLEX4", "GYS0001"))),
        ("5401.03", D("50.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.03", D("0.00"), D("50.00"), ((P, "XM1"), ("FFLEX4", "GYS0003"))),
    ]


def test_project_category_month_is_dated_the_month_end_and_keyed_deterministically() -> None:
    rules = default_rule_set().model_copy(update={"aggregation": "project_category_month"})
    docs = [
        cost(1, "XM1", "material", "100.00", day=dt.date(2026, 3, 2), supplier="江苏恒固建材有限公司"),
        cost(2, "XM1", "material", "40.00", day=dt.date(2026, 3, 30), supplier="江苏恒固建材有限公司"),
        cost(3, "XM1", "material", "1.00", day=dt.date(2026, 4, 1), supplier="江苏恒固建材有限公司"),
    ]
    plan = registry.plan(docs, rules, default_mapping(), ctx())
    assert [(v.group_key, v.date) for v in plan.vouchers] == [
        ("XM1|material|2026-03", dt.date(2026, 3, 31)),
        ("XM1|material|2026-04", dt.date(2026, 4, 30)),
    ]
    assert lines(plan.vouchers[0])[0] == ("5401.02", D("140.00"), D("0.00"), ((P, "XM1"),))
    again = registry.plan(list(reversed(docs)), rules, default_mapping(), ctx())
    assert [v.posting_key for v in again.vouchers] == [v.posting_key for v in plan.vouchers]


def test_cost_summary_names_the_project_and_each_payable_line_its_supplier() -> None:
    docs = [
        cost(1, "XM1", "material", "100.00", supplier="江苏恒固建材有限公司"),
        cost(2, "XM1", "material", "20.00", supplier="安徽诚建钢构工程有限公司"),
    ]
    plan = registry.plan(docs, default_rule_set(), default_mapping(), ctx(project_names={"XM1": "综合楼"}))
    (voucher,) = plan.vouchers
    assert "综合楼" in voucher.summary
    payables = [x for x in voucher.lines if x.account == "2202.01"]
    assert [x.explanation.split(" #YC:")[0].split()[-1] for x in payables] == [
        "江苏恒固建材有限公司",
        "安徽诚建钢构工程有限公司",
    ]

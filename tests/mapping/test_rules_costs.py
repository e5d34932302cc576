"""COST and INDIRECT_ALLOCATION rules against hand-checked vouchers (construction-finance.md entries 2–8b).

Every expected line — account, debit, credit, dimensions — is written out literally, computed by
hand from the reference's entries; nothing here is derived by calling the code under test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yecai.domain.documents import CostCategory, CostRecord
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
        [cost(1, "XM1", "material", "1200000.00")], default_rule_set(), default_mapping(), ctx()
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("5401.02", D("1200000.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.01", D("0.00"), D("1200000.00"), ((P, "XM1"),)),
    ]
    assert voucher.date == dt.date(2026, 3, 5)
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)


def test_cost_entry_8_indirect_booked_per_project_and_to_the_pool() -> None:
    plan = registry.plan(
        [cost(1, "XM1", "indirect", "20000.00"), cost(2, "JJFY", "indirect", "5000.00")],
        default_rule_set(),
        default_mapping(),
        ctx(),
    )
    assert [lines(v) for v in plan.vouchers] == [
        [("5401.06", D("5000.00"), D("0.00"), ((P, "JJFY"),)), ("2241", D("0.00"), D("5000.00"), ())],
        [("5401.06", D("20000.00"), D("0.00"), ((P, "XM1"),)), ("2241", D("0.00"), D("20000.00"), ())],
    ]


def test_cost_small_enterprise_project_uses_its_own_accounts() -> None:
    # Same category, another standard: 小企业会计准则 books 工程施工—合同成本—人工费 (4401.01.01).
    mapping = default_mapping().model_copy(
        update={"projects": MappingTable(projects={"XM9": {"accounting_standard": "small"}}).projects}
    )
    plan = registry.plan(
        [cost(1, "XM9", "labour", "100.00"), cost(2, "XM1", "labour", "100.00")],
        default_rule_set(),
        mapping,
        ctx(),
    )
    assert [lines(v) for v in plan.vouchers] == [
        [
            ("5401.01", D("100.00"), D("0.00"), ((P, "XM1"),)),
            ("2202.02", D("0.00"), D("100.00"), ((P, "XM1"),)),
        ],
        [
            ("4401.01.01", D("100.00"), D("0.00"), ((P, "XM9"),)),
            ("2202.02", D("0.00"), D("100.00"), ((P, "XM9"),)),
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

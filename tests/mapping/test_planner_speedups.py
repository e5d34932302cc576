"""What planning at speed must not change (issue 15): resolution remembered per key, group keys as
tuples, lines not validated twice, rounding constants built once, 摘要 filled by `format_map`.

The resolution cache is the dangerous one: a key missing a field the resolution reads would give
two documents one answer. So every field resolution reads gets a pair of costs that differ in that
field only, planned in one call (one cache), and each must come out as it does planned alone.
"""

from __future__ import annotations

import datetime as dt
import gc
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mapping.test_rules_costs import LABOUR_CONTRACT
from yecai import heap
from yecai.domain.documents import ContractKind, CostRecord
from yecai.domain.money import is_money, round_money
from yecai.domain.vouchers import VoucherLine
from yecai.mapping import registry
from yecai.mapping.events.common import (
    Entry,
    _explanation,
    pair_voucher,
    pairs_voucher,
    summaries,
    summary_of,
)
from yecai.mapping.interface import PlannableDocument, PlanningContext, posting_key, posting_keys
from yecai.mapping.rules import (
    Aggregation,
    MappingTable,
    ProjectMapping,
    SummaryValues,
    default_mapping,
    default_rule_set,
    format_summary,
)

D = Decimal
P = "FF100001"
BASE = {
    "project_code": "XM1",
    "category": "material",
    "business_date": dt.date(2026, 3, 5),
    "amount": D("100.00"),
    "supplier_name": "江苏恒固建材有限公司",
    "description": "",
}


LEASE_CONTRACT = LABOUR_CONTRACT.model_copy(
    update={
        "contract_no": "HT-ZL-1",
        "contract_kind": ContractKind.LEASE,
        "counterparty": "浙江力拓机械租赁有限公司",
    }
)


def doc(doc_id: int, **fields: object) -> PlannableDocument:
    record = CostRecord(source_key=f"CB-{doc_id}", **{**BASE, **fields})
    return PlannableDocument(doc_id, f"v{doc_id}", record)


def mapping() -> MappingTable:
    # XM2 keeps its books on the 小企业 standard: its accounts differ from XM1's by project alone.
    return default_mapping().model_copy(
        update={"projects": {"XM2": ProjectMapping(number="XM2", accounting_standard="small")}}
    )


def plan_of(docs: list[PlannableDocument]):
    rules = default_rule_set().model_copy(update={"aggregation": Aggregation.PER_DOCUMENT})
    context = PlanningContext(connection="kd", related={"contract": [LABOUR_CONTRACT, LEASE_CONTRACT]})
    return registry.plan(docs, rules, mapping(), context)


def shape(plan) -> list[tuple[object, ...]]:
    return [
        (line.account, line.debit, line.credit, line.dimensions, line.document_ids)
        for voucher in plan.vouchers
        for line in voucher.lines
    ]


def unmapped(plan) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(u.kind, u.value, u.document_ids) for u in plan.unmapped]


PAIRS = {
    "project": ({"project_code": "XM1"}, {"project_code": "XM2"}),
    "category": ({"category": "material"}, {"category": "machinery"}),
    "supplier": ({"supplier_name": "江苏恒固建材有限公司"}, {"supplier_name": "浙江力拓机械租赁有限公司"}),
    # material hired under a lease contract is owed on the lease payable, not the material one
    "contract": ({"contract_no": None}, {"contract_no": "HT-ZL-1"}),
    "subcategory": (
        {"category": "indirect", "subcategory": "项目管理人员薪酬"},
        {"category": "indirect", "subcategory": "固定资产折旧"},
    ),
    "description": (
        {"category": "indirect", "description": "项目部固定资产折旧"},
        {"category": "indirect", "description": "临时设施摊销"},
    ),
}


@pytest.mark.parametrize("field", sorted(PAIRS))
def test_two_costs_differing_in_one_field_resolve_differently(field: str) -> None:
    first, second = PAIRS[field]
    together = plan_of([doc(1, **first), doc(2, **second)])
    alone = shape(plan_of([doc(1, **first)])) + shape(plan_of([doc(2, **second)]))
    assert shape(together) == alone
    # the pair really differs in what it resolves to, so a shared cache entry would have shown
    one, two = (
        [(a, d) for a, _dr, _cr, d, _ids in shape(plan_of([doc(n, **f)]))]
        for n, f in ((1, first), (2, second))
    )
    assert one != two, field


def test_a_cached_miss_is_reported_for_every_document_that_shares_it() -> None:
    docs = [doc(n, supplier_name="无名建材商行") for n in (1, 2, 3)]
    plan = plan_of(docs)
    assert plan.vouchers == []
    assert unmapped(plan) == [("supplier", "无名建材商行", (1, 2, 3))]


def test_a_mixed_batch_plans_as_each_cost_alone() -> None:
    variants = [fields for pair in PAIRS.values() for fields in pair]
    variants += [
        {"supplier_name": "无名建材商行"},
        {"category": "other_direct", "description": "现场零星杂项"},
    ]
    docs = [doc(n, **fields) for n, fields in enumerate(variants * 3, start=1)]
    together = plan_of(docs)
    singles = [plan_of([d]) for d in docs]
    # vouchers come out in the order of their group texts (doc|CB-1, doc|CB-10, …): compare as sets
    assert sorted(shape(together), key=repr) == sorted((row for p in singles for row in shape(p)), key=repr)
    missed = sorted((kind, value, ids) for single in singles for kind, value, ids in unmapped(single))
    merged: dict[tuple[str, str], list[int]] = {}
    for kind, value, ids in missed:
        merged.setdefault((kind, value), []).extend(ids)
    assert unmapped(together) == [(kind, value, tuple(sorted(ids))) for (kind, value), ids in merged.items()]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        (Aggregation.PER_DOCUMENT, "doc|CB-1"),
        (Aggregation.PROJECT_CATEGORY_DAY, "XM1|material|2026-03-05"),
        (Aggregation.PROJECT_DAY, "XM1|2026-03-05"),
        (Aggregation.PROJECT_CATEGORY_MONTH, "XM1|material|2026-03"),
        (Aggregation.PROJECT_PERIOD, "XM1|material|2026-03"),
        (Aggregation.PERIOD, "*|material|2026-03"),
    ],
)
def test_group_keys_read_as_they_always_did(aggregation: Aggregation, expected: str) -> None:
    rules = default_rule_set().model_copy(update={"aggregation": aggregation})
    plan = registry.plan([doc(1)], rules, mapping(), PlanningContext(connection="kd"))
    assert [v.group_key for v in plan.vouchers] == [expected]


def test_groups_come_out_in_the_order_of_their_text() -> None:
    # "XM10" sorts before "XM1|…" as text (| > 0) but after "XM1" as a tuple: text order is kept.
    docs = [doc(1, project_code="XM1"), doc(2, project_code="XM10")]
    plan = registry.plan(docs, default_rule_set(), mapping(), PlanningContext(connection="kd"))
    assert [v.group_key for v in plan.vouchers] == ["XM10|material|2026-03-05", "XM1|material|2026-03-05"]


def test_a_line_built_by_the_planner_equals_one_checked_by_the_constructor() -> None:
    args = ("5401.02", D("1.20"), D("0.00"), "摘要", ((P, "XM1"),), (1, 2))
    assert VoucherLine.checked_by_caller(*args) == VoucherLine(*args)
    with pytest.raises(ValueError, match="not rounded to the cent"):
        VoucherLine("5401.02", D("1.205"), D("0.00"), "x")
    with pytest.raises(ValueError, match="exactly one of debit and credit"):
        VoucherLine("5401.02", D("1.00"), D("1.00"), "x")


def test_an_entry_still_refuses_a_line_rounded_to_nothing_and_merges_without_drift() -> None:
    entry = Entry()
    entry.dr("5401.02", D("0.004"))
    entry.cr("2202.01", D("0.004"))
    with pytest.raises(ValueError, match="exactly one of debit and credit"):
        entry.voucher("k", "g", dt.date(2026, 3, 5), "s")
    entry = Entry()
    entry.dr("5401.02", D("1.005"), doc_ids=(1,))
    entry.dr("5401.02", D("2.10"), doc_ids=(2, 1))
    entry.cr("2202.01", D("1.01"), doc_ids=(1,))
    entry.cr("2202.01", D("-1.01"), doc_ids=(3,))  # cancels the line above: no line is left
    entry.cr("2202.02", D("3.11"), doc_ids=(2,))
    voucher = entry.merged().voucher("k", "g", dt.date(2026, 3, 5), "s")
    assert voucher is not None
    assert [(x.account, x.debit, x.credit, x.document_ids) for x in voucher.lines] == [
        ("5401.02", D("3.11"), D("0.00"), (1, 2)),
        ("2202.02", D("0.00"), D("3.11"), (2,)),
    ]
    assert [str(x.debit) for x in voucher.lines] == ["3.11", "0.00"]


@pytest.mark.parametrize("places", range(11))
def test_rounding_constants_round_as_before(places: int) -> None:
    for text in ("0.5", "1.005", "-2.675", "123456789.123456789", "7"):
        value = D(text)
        expected = value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)
        assert round_money(value, places) == expected
        assert str(round_money(value, places)) == str(expected)
        assert is_money(value, places) == (value == value.quantize(D(1).scaleb(-places)))


def test_a_summary_fills_known_fields_and_refuses_unknown_ones() -> None:
    assert format_summary("{project_code} {count}笔 {counterparty}", project_code="XM1", count=2) == "XM1 2笔"
    assert format_summary("{project_code}", project_code="XM1", not_a_field="x") == "XM1"
    with pytest.raises(KeyError):
        format_summary("{not_a_field}", not_a_field="x")


def test_the_heap_is_frozen_for_the_block_and_given_back() -> None:
    assert gc.get_freeze_count() == 0
    with heap.frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with heap.frozen():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


@settings(max_examples=300, deadline=None)
@given(
    amount=st.decimals(min_value=-1000, max_value=1000, places=3),
    summary=st.sampled_from(["", "XM1 材料费 2026-03-05 成本归集 2笔"]),
    note=st.sampled_from(["", "江苏恒固建材有限公司"]),
    ids=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4).map(tuple),
    same_account=st.booleans(),
)
def test_a_pair_voucher_is_the_entry_of_one_dr_cr_pair(
    amount: Decimal, summary: str, note: str, ids: tuple[int, ...], same_account: bool
) -> None:
    debit = ("5401.02", ((P, "XM1"),))
    credit = ("5401.02" if same_account else "2202.01", ((P, "XM1"), ("FFLEX4", "GYS0001")), note)
    args = ("k" * 20, "XM1|material|2026-03-05", dt.date(2026, 3, 5), summary)
    entry = Entry()
    entry.dr(debit[0], amount, debit[1], ids)
    entry.cr(credit[0], amount, credit[1], ids, note=note)
    try:
        expected = entry.merged_voucher(*args)
    except ValueError as exc:
        expected = exc.args
    assert pair_voucher(*args, debit, credit, amount, ids) == expected
    if expected is not None:
        assert entry.merged().voucher(*args) == expected


PAIR = st.tuples(
    st.sampled_from(["5401.02", "5401.03"]),
    st.sampled_from([((P, "XM1"),), ((P, "XM2"),)]),
    st.sampled_from(["2202.01", "5401.02"]),
    st.sampled_from([((P, "XM1"),), ((P, "XM1"), ("FFLEX4", "GYS0001"))]),
    st.sampled_from(["", "江苏恒固建材有限公司", "浙江力拓机械租赁有限公司"]),
    st.one_of(st.decimals(min_value=-500, max_value=500, places=3), st.sampled_from([D("0"), D("0.004")])),
    st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=3).map(tuple),
)


@settings(max_examples=400, deadline=None)
@given(pairs=st.lists(PAIR, max_size=6), summary=st.sampled_from(["", "XM1 2026-03-05 成本归集 3笔"]))
def test_a_pairs_voucher_is_the_merged_entry_of_its_pairs(pairs: list, summary: str) -> None:
    args = ("k" * 20, "XM1|material|2026-03-05", dt.date(2026, 3, 5), summary)
    entry = Entry()
    for debit, debit_dims, credit, credit_dims, note, amount, ids in pairs:
        entry.dr(debit, amount, debit_dims, ids)
        entry.cr(credit, amount, credit_dims, ids, note=note)
    expected = entry.merged_voucher(*args)
    assert pairs_voucher(*args, pairs) == expected
    assert entry.merged().voucher(*args) == expected


# -- issue 15, the planner's per-plan helpers: each gives what the per-group function gives -------

TEXT = st.text(alphabet="XM12|@-\n材料 ", max_size=8)


@settings(max_examples=300, deadline=None)
@given(connection=TEXT, rule_set=TEXT, group=TEXT, members=st.lists(TEXT, max_size=4))
def test_posting_keys_give_what_posting_key_gives(
    connection: str, rule_set: str, group: str, members: list[str]
) -> None:
    expected = posting_key(connection, rule_set, group, list(members))
    assert posting_keys(connection, rule_set)(group, list(members)) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{project_name} {category_name} {date} 成本 {count}笔 {counterparty}",
        "{project_code} {period} {date} {description}",
        "{count:03d}|{project_name}|{amount}|{contract_no}",
        "",
        "{project_code}",
        "按 100% {count}笔 {{原样}} {count:} {count!r}",
        "按 100% {count}笔 {{原样}}",
        "固定摘要",
    ],
)
def test_summaries_give_what_summary_of_gives(template: str) -> None:
    rules = default_rule_set().model_copy(update={"summary": template})
    context = PlanningContext(connection="kd", project_names={"XM1": "综合楼"})
    summary = summaries(rules, context)
    for project, day in [
        ("XM1", dt.date(2026, 3, 5)),
        ("XM2", dt.date(2026, 3, 5)),
        ("XM1", dt.date(2026, 4, 1)),
    ]:
        values = {"category_name": "材料费", "count": 2, "counterparty": "", "description": "现场"}
        expected = summary_of(rules, context, project, day, **values)
        assert summary(project, day, SummaryValues(values)) == expected


@pytest.mark.parametrize(
    "parts", [(s, n, t) for s in ("", "摘要") for n in ("", "供应商") for t in ("", "#YC:k")]
)
def test_a_line_explanation_joins_the_parts_it_has(parts: tuple[str, str, str]) -> None:
    assert _explanation(*parts) == " ".join(part for part in parts if part)


def test_costs_whose_keys_differ_but_resolve_alike_make_one_pair() -> None:
    # no sub-category: each description is part of its key, and both choose 固定资产折旧 by keyword
    docs = [
        doc(1, category="indirect", supplier_name=None, description="项目部固定资产折旧"),
        doc(2, category="indirect", supplier_name=None, description="办公设备折旧", amount=D("20.50")),
    ]
    plan = registry.plan(docs, default_rule_set(), mapping(), PlanningContext(connection="kd"))
    (voucher,) = plan.vouchers
    assert [(x.account, x.debit, x.credit, x.dimensions, x.document_ids) for x in voucher.lines] == [
        ("5401.06", D("120.50"), D("0.00"), ((P, "XM1"),), (1, 2)),
        ("1602", D("0.00"), D("120.50"), (), (1, 2)),
    ]


def test_a_day_of_several_categories_names_them_in_the_order_of_their_costs() -> None:
    rules = default_rule_set().model_copy(update={"aggregation": Aggregation.PROJECT_DAY})
    docs = [
        doc(2, category="material"),
        doc(1, category="machinery", supplier_name="浙江力拓机械租赁有限公司"),
        doc(3, category="material"),
    ]
    plan = registry.plan(docs, rules, mapping(), PlanningContext(connection="kd"))
    (voucher,) = plan.vouchers
    # CB-1 sorts first: machinery, then material; two suppliers, each named on its own payable line
    assert voucher.summary == "XM1 机械使用费、材料费 2026-03-05 成本 3笔"
    assert [x.document_ids for x in voucher.lines] == [(2, 3), (2, 3), (1,), (1,)]

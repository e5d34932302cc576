"""Mapping and planning: aggregation, balanced vouchers, deterministic keys, unmapped values held."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from yecai.domain.documents import DOCUMENT_TYPES, CostCategory, CostRecord
from yecai.domain.vouchers import UnbalancedVoucherError, Voucher, VoucherLine
from yecai.errors import ConfigurationError
from yecai.kingdee.vouchers import VoucherTarget, voucher_model
from yecai.mapping import registry
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import (
    Event,
    MappingTable,
    RuleSet,
    default_mapping,
    default_rule_set,
    default_rule_sets,
    load_rule_set,
)
from yecai.mapping.rules import MappingTable as _Mapping


def cost(
    doc_id: int, project: str, category: str, day: int, amount: str, key: str | None = None
) -> PlannableDocument:
    record = CostRecord(
        source_key=key or f"CB-{doc_id}",
        project_code=project,
        category=CostCategory(category),
        business_date=dt.date(2026, 10, day),
        amount=Decimal(amount),
        # a payable carries its supplier (供应商 on every 应付 line); one mapped party will do here
        supplier_name="上海宏达劳务分包有限公司",
    )
    return PlannableDocument(doc_id, f"v{doc_id}", record)


def plan_cost_vouchers(
    costs: list[PlannableDocument],
    rules: RuleSet,
    mapping: _Mapping,
    *,
    connection: str,
    kingdee_projects: set[str] | None = None,
) -> Plan:
    return registry.plan(
        costs, rules, mapping, PlanningContext(connection=connection, kingdee_projects=kingdee_projects)
    )


def test_aggregates_by_project_category_day() -> None:
    costs = [
        cost(1, "XM1", "labour", 5, "100.10"),
        cost(2, "XM1", "labour", 5, "200.20"),
        cost(3, "XM1", "material", 5, "50.00"),
        cost(4, "XM1", "labour", 6, "1.00"),
        cost(5, "XM2", "labour", 5, "9.99"),
    ]
    plan = plan_cost_vouchers(costs, default_rule_set(), default_mapping(), connection="kd")
    assert plan.unmapped == []
    by_group = {v.group_key: v for v in plan.vouchers}
    assert set(by_group) == {
        "XM1|labour|2026-10-05",
        "XM1|material|2026-10-05",
        "XM1|labour|2026-10-06",
        "XM2|labour|2026-10-05",
    }
    labour = by_group["XM1|labour|2026-10-05"]
    assert labour.debit_total == labour.credit_total == Decimal("300.30")
    debit, credit = labour.lines
    assert (debit.account, credit.account) == ("5401.01", "2202.02")
    assert debit.dimensions == (("FF100001", "XM1"),)
    assert set(debit.document_ids) == {1, 2}
    assert key_token(labour.posting_key) in debit.explanation
    assert "2笔" in labour.summary


def test_posting_key_is_deterministic_and_content_sensitive() -> None:
    rules, mapping = default_rule_set(), default_mapping()
    a = plan_cost_vouchers(
        [cost(1, "XM1", "labour", 5, "1.00"), cost(2, "XM1", "labour", 5, "2.00")],
        rules,
        mapping,
        connection="kd",
    )
    b = plan_cost_vouchers(
        [cost(2, "XM1", "labour", 5, "2.00"), cost(1, "XM1", "labour", 5, "1.00")],
        rules,
        mapping,
        connection="kd",
    )
    assert a.vouchers[0].posting_key == b.vouchers[0].posting_key
    late = plan_cost_vouchers([cost(3, "XM1", "labour", 5, "5.00")], rules, mapping, connection="kd")
    assert late.vouchers[0].group_key == a.vouchers[0].group_key
    assert late.vouchers[0].posting_key != a.vouchers[0].posting_key
    other_target = plan_cost_vouchers(
        [cost(1, "XM1", "labour", 5, "1.00"), cost(2, "XM1", "labour", 5, "2.00")],
        rules,
        mapping,
        connection="kd2",
    )
    assert other_target.vouchers[0].posting_key != a.vouchers[0].posting_key


def test_unmapped_projects_and_categories_are_held_back() -> None:
    mapping = MappingTable(projects={"XM1": "P-001"}, project_default="none")
    costs = [
        cost(1, "XM1", "labour", 5, "1.00"),
        cost(2, "XM9", "labour", 5, "2.00"),
        cost(3, "XM1", "subcontract", 5, "3.00"),
    ]
    rules = default_rule_set()
    without_subcontract = {k: v for k, v in rules.categories.items() if k is not CostCategory.SUBCONTRACT}
    plan = plan_cost_vouchers(
        costs, rules.model_copy(update={"categories": without_subcontract}), mapping, connection="kd"
    )
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [
        ("category", "subcontract", (3,)),
        ("project", "XM9", (2,)),
        ("supplier", "上海宏达劳务分包有限公司", (1, 2)),  # this bare table maps no supplier
    ]
    assert "没有映射" in plan.unmapped[0].zh
    assert plan.vouchers == []


def test_projects_missing_in_kingdee_are_reported() -> None:
    costs = [cost(1, "XM1", "labour", 5, "1.00"), cost(2, "XM2", "labour", 5, "1.00")]
    plan = plan_cost_vouchers(
        costs, default_rule_set(), default_mapping(), connection="kd", kingdee_projects={"XM1"}
    )
    assert [u.value for u in plan.unmapped] == ["XM2"]
    assert len(plan.vouchers) == 1


def test_cancelling_group_makes_no_voucher() -> None:
    costs = [cost(1, "XM1", "labour", 5, "10.00"), cost(2, "XM1", "labour", 5, "-10.00")]
    plan = plan_cost_vouchers(costs, default_rule_set(), default_mapping(), connection="kd")
    assert plan.vouchers == []
    assert plan.zero_groups == ["XM1|labour|2026-10-05"]


def test_negative_total_is_red_ink_on_the_same_sides() -> None:
    plan = plan_cost_vouchers(
        [cost(1, "XM1", "labour", 5, "-10.00")], default_rule_set(), default_mapping(), connection="kd"
    )
    debit, credit = plan.vouchers[0].lines
    assert (debit.debit, credit.credit) == (Decimal("-10.00"), Decimal("-10.00"))


def test_voucher_refuses_to_be_unbalanced() -> None:
    with pytest.raises(UnbalancedVoucherError, match="借贷不平"):
        Voucher(
            "k",
            "g",
            dt.date(2026, 10, 5),
            "s",
            (
                VoucherLine("5401.01", Decimal("1.00"), Decimal("0.00"), "x"),
                VoucherLine("2202.02", Decimal("0.00"), Decimal("0.99"), "x"),
            ),
        )


def test_voucher_model_matches_kingdee_template() -> None:
    plan = plan_cost_vouchers(
        [cost(1, "XM1", "machinery", 7, "88.80")], default_rule_set(), default_mapping(), connection="kd"
    )
    model = voucher_model(plan.vouchers[0], VoucherTarget("001", "PRE001"))
    assert model["FAccountBookID"] == {"FNumber": "001"}
    assert model["FVOUCHERGROUPID"] == {"FNumber": "PRE001"}
    assert model["FDate"] == "2026-10-07"
    first, second = model["FEntity"]
    assert first["FACCOUNTID"] == {"FNumber": "5401.03"}
    assert first["FDetailID"] == {"FDETAILID__FF100001": {"FNumber": "XM1"}}
    assert (first["FDEBIT"], first["FCREDIT"], second["FDEBIT"], second["FCREDIT"]) == (
        Decimal("88.80"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("88.80"),
    )
    assert first["FCURRENCYID"] == {"FNumber": "PRE001"}


def test_rule_set_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "name: x\nkingdee: {account_book: '001', voucher_group: PRE001}\ncategories: {labor: {debit: '1', credit: '2'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_rule_set(bad)
    assert "配置文件" in caught.value.zh
    assert "categories.labor" in caught.value.en
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="无法读取"):
        load_rule_set(bad)
    bad.write_text(
        "name: x\nsummary: '{nope}'\nkingdee: {account_book: '001', voucher_group: PRE001}\ncategories: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="unknown field"):
        load_rule_set(bad)


def test_every_event_is_declared_once_by_its_module() -> None:
    assert set(registry.SPECS) == set(Event)
    for event, spec in registry.SPECS.items():
        assert spec.event is event
        assert registry.spec_of(event) is spec
        assert spec.document in DOCUMENT_TYPES, event
        assert set(spec.related) <= set(DOCUMENT_TYPES), event
    # each default rule set reads the document its event's spec declares, with the roles it knows
    for name, rules in default_rule_sets().items():
        spec = registry.spec_of(rules.event)
        assert rules.document == spec.document, name
        assert set(rules.accounts) <= set(spec.roles), name

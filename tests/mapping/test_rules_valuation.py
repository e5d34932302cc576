"""VALUATION and RETENTION rules against hand-checked vouchers (construction-finance.md entries 10, 10b, 14, 14b).

§2.1's owner valuation: 2,200,000 ex-VAT; retention 3 % = 66,000 kept back; billed 2,134,000;
output VAT 9 % = 192,060.00; Dr 应收账款 2,326,060.00. The retention's own VAT is 66,000 × 9 % = 5,940.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import Contract, ContractKind, ProgressReport
from yecai.mapping import registry
from yecai.mapping.events.valuation import split_valuation
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set

D = Decimal
P, C = "FF100001", "FFLEX6"
OWNER = "市城市建设投资集团有限公司"

INCOME = Contract(
    contract_no="HT-SR-1",
    project_code="XM1",
    contract_kind=ContractKind.INCOME,
    name="综合楼施工总承包",
    counterparty=OWNER,
    amount=D("10900000.00"),
    tax_rate=D("0.09"),
    retention_rate=D("0.03"),
    end_date=dt.date(2026, 6, 30),
)


def report(
    doc_id: int, amount: str | None = "2200000.00", approved: bool = True, project: str = "XM1"
) -> PlannableDocument:
    model = ProgressReport(
        source_key=f"JL-{doc_id}",
        project_code=project,
        period="2026-03",
        report_date=dt.date(2026, 3, 25),
        percent_complete=D("25"),
        valuation_amount=D(amount) if amount else None,
        approved=approved,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", model)


def lines(voucher) -> list[tuple[str, Decimal, Decimal, tuple]]:
    return [(x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines]


def opts(name: str, **options: object) -> RuleSet:
    rules = default_rule_set(name)
    return rules.model_copy(update={"options": {**rules.options, **options}})


def ctx(**kwargs: object) -> PlanningContext:
    related = {"contract": [INCOME], "progress_report": [report(1).model]}
    return PlanningContext(connection="kd", related=related, **kwargs)


def test_valuation_entry_10_with_retention_kept_back() -> None:
    plan = registry.plan([report(1)], default_rule_set("valuation"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1122", D("2326060.00"), D("0.00"), ((C, "KH0001"),)),
        ("5402.01", D("0.00"), D("2134000.00"), ((P, "XM1"),)),
        ("2221.01.02", D("0.00"), D("192060.00"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 25)
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)


def test_valuation_entry_10b_vat_not_yet_due() -> None:
    plan = registry.plan([report(1)], opts("valuation", output_vat="deferred"), default_mapping(), ctx())
    assert lines(plan.vouchers[0]) == [
        ("1122", D("2326060.00"), D("0.00"), ((C, "KH0001"),)),
        ("5402.01", D("0.00"), D("2134000.00"), ((P, "XM1"),)),
        ("2221.05", D("0.00"), D("192060.00"), ()),
    ]


def test_valuation_retention_as_contract_asset() -> None:
    plan = registry.plan([report(1)], opts("valuation", retention="contract_asset"), default_mapping(), ctx())
    assert lines(plan.vouchers[0]) == [
        ("1122", D("2326060.00"), D("0.00"), ((C, "KH0001"),)),
        ("1481", D("66000.00"), D("0.00"), ((P, "XM1"),)),
        ("5402.01", D("0.00"), D("2200000.00"), ((P, "XM1"),)),
        ("2221.01.02", D("0.00"), D("192060.00"), ()),
    ]


def test_unapproved_valuation_is_held_with_a_bilingual_reason() -> None:
    plan = registry.plan(
        [report(1, approved=False), report(2, amount=None)],
        default_rule_set("valuation"),
        default_mapping(),
        ctx(),
    )
    assert plan.vouchers == []
    (held,) = plan.held
    assert held.document_ids == (1,)
    assert "尚未经业主/监理确认" in held.zh
    assert "not approved" in held.en


def test_valuation_unmapped_customer_and_no_contract() -> None:
    other = Contract(
        contract_no="HT-SR-2",
        project_code="XM2",
        contract_kind=ContractKind.INCOME,
        name="道路工程",
        counterparty="某某开发有限公司",
        amount=D("1090.00"),
        tax_rate=D("0.09"),
    )
    context = PlanningContext(connection="kd", related={"contract": [INCOME, other]})
    plan = registry.plan(
        [report(3, project="XM2"), report(4, project="XM3")],
        default_rule_set("valuation"),
        default_mapping(),
        context,
    )
    assert plan.vouchers == []
    # XM3 has neither an income contract nor a Project naming its customer
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [
        ("customer", "-", (4,)),
        ("customer", "某某开发有限公司", (3,)),
    ]


def test_split_valuation_hand_case() -> None:
    split = split_valuation(D("2200000.00"), D("0.03"), D("0.09"))
    assert (split.retention, split.billed, split.vat, split.receivable) == (
        D("66000.00"),
        D("2134000.00"),
        D("192060.00"),
        D("2326060.00"),
    )


def contract_doc() -> PlannableDocument:
    return PlannableDocument(10, "c1", INCOME)


def test_retention_due_entry_14() -> None:
    plan = registry.plan(
        [contract_doc()], default_rule_set("retention_due"), default_mapping(), ctx(today=dt.date(2027, 7, 1))
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1122", D("71940.00"), D("0.00"), ((C, "KH0001"),)),
        ("5402.01", D("0.00"), D("66000.00"), ((P, "XM1"),)),
        ("2221.05", D("0.00"), D("5940.00"), ()),
    ]
    assert voucher.date == dt.date(2027, 6, 30)  # end date 2026-06-30 + 12 months


def test_retention_not_yet_due_is_held() -> None:
    plan = registry.plan(
        [contract_doc()],
        default_rule_set("retention_due"),
        default_mapping(),
        ctx(today=dt.date(2027, 6, 29)),
    )
    assert plan.vouchers == []
    assert "尚未到期" in plan.held[0].zh
    assert "2027-06-30" in plan.held[0].en


def test_retention_due_date_per_contract_and_contract_asset_practice() -> None:
    rules = opts("retention_due", due_dates={"HT-SR-1": "2026-09-30"}, retention="contract_asset")
    plan = registry.plan([contract_doc()], rules, default_mapping(), ctx(today=dt.date(2026, 10, 8)))
    assert lines(plan.vouchers[0]) == [
        ("1122", D("71940.00"), D("0.00"), ((C, "KH0001"),)),
        ("1481", D("0.00"), D("66000.00"), ((P, "XM1"),)),
        ("2221.05", D("0.00"), D("5940.00"), ()),
    ]


def test_retention_received_entry_14b() -> None:
    history = {"retention_received": {"HT-SR-1": {"date": "2027-08-15", "amount": "71940.00"}}}
    plan = registry.plan(
        [contract_doc()], default_rule_set("retention_received"), default_mapping(), ctx(history=history)
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1002.01", D("71940.00"), D("0.00"), ()),
        ("1122", D("0.00"), D("71940.00"), ((C, "KH0001"),)),
        ("2221.05", D("5940.00"), D("0.00"), ()),
        ("2221.01.02", D("0.00"), D("5940.00"), ()),
    ]
    assert voucher.date == dt.date(2027, 8, 15)


def test_retention_part_received_carries_its_own_vat_share() -> None:
    # 10,900.00 received of 71,940.00: VAT = 10,900 / 1.09 × 0.09 = 900.00
    history = {"retention_received": {"HT-SR-1": {"date": "2027-08-15", "amount": "10900.00"}}}
    plan = registry.plan(
        [contract_doc()], default_rule_set("retention_received"), default_mapping(), ctx(history=history)
    )
    assert lines(plan.vouchers[0]) == [
        ("1002.01", D("10900.00"), D("0.00"), ()),
        ("1122", D("0.00"), D("10900.00"), ((C, "KH0001"),)),
        ("2221.05", D("900.00"), D("0.00"), ()),
        ("2221.01.02", D("0.00"), D("900.00"), ()),
    ]


def test_retention_not_received_is_held() -> None:
    plan = registry.plan([contract_doc()], default_rule_set("retention_received"), default_mapping(), ctx())
    assert plan.vouchers == []
    assert "尚未收到" in plan.held[0].zh

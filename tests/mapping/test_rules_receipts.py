"""RECEIPT rules (owner cash, entries 11, 11b, 14b) against hand-checked vouchers.

The §2.1 valuation billed 2,326,060.00 (2,134,000 + 192,060 VAT) and kept 66,000 back, whose VAT
of 5,940.00 sits in 待转销项税额 until the retention is received (公告2016年第69号).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.mapping.test_rules_valuation import (
    INCOME,
    OWNER,
    RECEIVABLE_DIMS,
    SUPPLEMENT,
    lines,
    opts,
    report,
    simple_mapping,
)
from yecai.domain.documents import Receipt, VatMethod
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import ProjectMapping, default_mapping, default_rule_set

D = Decimal
P = "FF100001"


def receipt(doc_id: int, amount: str, kind: str = "progress", **extra: object) -> PlannableDocument:
    model = Receipt(
        receipt_no=f"SK-{doc_id}",
        project_code="XM1",
        contract_no="HT-SR-1",
        payer=extra.pop("payer", OWNER),
        receipt_date=dt.date(2026, 5, 20),
        amount=D(amount),
        receipt_kind=kind,
        **extra,
    )
    return PlannableDocument(doc_id, f"r{doc_id}", model)


def ctx() -> PlanningContext:
    return PlanningContext(
        connection="kd",
        related={"contract": [INCOME, SUPPLEMENT], "progress_report": [report(1).model]},
    )


def test_progress_receipt_entry_11() -> None:
    plan = registry.plan([receipt(1, "2326060.00")], default_rule_set("receipt"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1002.01", D("2326060.00"), D("0.00"), ()),
        ("1122", D("0.00"), D("2326060.00"), RECEIVABLE_DIMS),
    ]
    assert voucher.date == dt.date(2026, 5, 20)
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)
    assert OWNER in voucher.summary


def test_the_receivable_is_the_contracts_customer_whoever_pays() -> None:
    # paid through the owner's finance bureau: the receivable is still the contract's customer's
    paid = receipt(1, "1000.00", payer="市财政局国库支付中心")
    plan = registry.plan([paid], default_rule_set("receipt"), default_mapping(), ctx())
    assert lines(plan.vouchers[0])[1] == ("1122", D("0.00"), D("1000.00"), RECEIVABLE_DIMS)


def test_advance_receipt_entry_11b_is_a_contract_liability() -> None:
    plan = registry.plan(
        [receipt(2, "500000.00", "advance")], default_rule_set("receipt"), default_mapping(), ctx()
    )
    assert lines(plan.vouchers[0]) == [
        ("1002.01", D("500000.00"), D("0.00"), ()),
        ("2204", D("0.00"), D("500000.00"), ((P, "XM1"),)),
    ]


def test_retention_receipts_are_not_the_progress_rules_and_the_bank_account_can_be_chosen() -> None:
    rules = opts("receipt", bank_accounts={"6222000011112222": "1002.02"})
    docs = [receipt(3, "71940.00", "retention"), receipt(4, "100.00", bank_account="6222000011112222")]
    plan = registry.plan(docs, rules, default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher)[0] == ("1002.02", D("100.00"), D("0.00"), ())


def test_retention_received_entry_14b_fires_from_a_receipt() -> None:
    """Defect 4: the retention received posts from the owner's receipt (no hand-fed history)."""
    plan = registry.plan(
        [receipt(3, "71940.00", "retention")],
        default_rule_set("retention_received"),
        default_mapping(),
        ctx(),
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1002.01", D("71940.00"), D("0.00"), ()),
        ("1122", D("0.00"), D("71940.00"), RECEIVABLE_DIMS),
        ("2221.05", D("5940.00"), D("0.00"), ()),
        ("2221.01.02", D("0.00"), D("5940.00"), ()),
    ]


def test_retention_received_in_parts_posts_each_part_with_its_vat_share() -> None:
    # 10,900.00 of 71,940.00: VAT = 10,900 / 1.09 × 0.09 = 900.00; the rest 61,040.00 → 5,040.00
    parts = [receipt(5, "10900.00", "retention"), receipt(6, "61040.00", "retention")]
    plan = registry.plan(parts, default_rule_set("retention_received"), default_mapping(), ctx())
    assert [lines(v)[2] for v in plan.vouchers] == [
        ("2221.05", D("900.00"), D("0.00"), ()),
        ("2221.05", D("5040.00"), D("0.00"), ()),
    ]


def test_simple_method_retention_received_moves_vat_to_jianyi_jishui() -> None:
    # 66,000 × 3 % = 1,980.00
    plan = registry.plan(
        [receipt(3, "67980.00", "retention")], default_rule_set("retention_received"), simple_mapping(), ctx()
    )
    assert lines(plan.vouchers[0])[2:] == [
        ("2221.05", D("1980.00"), D("0.00"), ()),
        ("2221.06", D("0.00"), D("1980.00"), ()),
    ]


def test_unmapped_customer_holds_the_receipt() -> None:
    mapping = default_mapping().model_copy(update={"customers": {}})
    plan = registry.plan([receipt(1, "1.00")], default_rule_set("receipt"), mapping, ctx())
    assert plan.vouchers == []
    assert [(u.kind, u.value) for u in plan.unmapped] == [("customer", OWNER)]


def test_project_mapping_sets_the_method() -> None:
    mapping = default_mapping().model_copy(
        update={"projects": {"XM1": ProjectMapping(vat_method=VatMethod.GENERAL)}}
    )
    plan = registry.plan(
        [receipt(3, "71940.00", "retention")], default_rule_set("retention_received"), mapping, ctx()
    )
    assert lines(plan.vouchers[0])[3][0] == "2221.01.02"

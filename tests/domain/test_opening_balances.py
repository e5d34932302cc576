"""Opening balances (期初): where a contract stood at go-live, validated like any document.

Every cumulative amount is money (two decimals, never float) and not negative, except the
prepaid-VAT carry, which is a negative base carried forward (≤ 0). Retention is withheld out of
what was billed, so it cannot exceed it. Messages name the field in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yecai.domain.documents import OpeningBalance, validate

GOOD: dict[str, Any] = {
    "source_key": "QC-XM2026001-SR-001",
    "project_code": "XM2026001",
    "contract_no": "XM2026001-SR-001",
    "as_of": "2026-10-01",
    "cost_to_date": "41234567.89",
    "revenue_to_date": "45678901.23",
    "estimated_total_cost": "98765432.10",
    "billed_to_date": "40000000.00",
    "retention_to_date": "1200000.00",
    "received_to_date": "34880000.00",
    "prepaid_vat_carry": "-150000.00",
}

NON_NEGATIVE = (
    "cost_to_date",
    "revenue_to_date",
    "estimated_total_cost",
    "billed_to_date",
    "retention_to_date",
    "received_to_date",
    "invoiced_to_date",
    "paid_to_date",
)


def test_a_good_opening_balance_validates_with_exact_amounts() -> None:
    document, issues = validate(OpeningBalance, GOOD)
    assert issues == []
    assert document is not None
    assert document.as_of == dt.date(2026, 10, 1)
    assert document.billed_to_date == Decimal("40000000.00")
    assert document.prepaid_vat_carry == Decimal("-150000.00")
    assert document.invoiced_to_date == Decimal("0.00")  # an income contract has no supplier invoices


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_a_figure_left_blank_is_zero(blank: object) -> None:
    # A REST source sends null and a template leaves the cell empty where a figure does not apply
    # (an income contract has no 累计付款): zero, not "not a number" refusing the whole row.
    zeroes = {name: blank for name in NON_NEGATIVE if name != "estimated_total_cost"}
    document, issues = validate(OpeningBalance, {**GOOD, **zeroes, "prepaid_vat_carry": blank})
    assert issues == []
    assert document is not None
    assert (
        document.paid_to_date == document.retention_to_date == document.prepaid_vat_carry == Decimal("0.00")
    )


def test_a_project_level_row_needs_no_contract() -> None:
    data = {k: v for k, v in GOOD.items() if k != "contract_no"}
    document, issues = validate(OpeningBalance, {**data, "contract_no": ""})
    assert issues == []
    assert document is not None
    assert document.contract_no is None


@pytest.mark.parametrize("name", NON_NEGATIVE)
def test_a_negative_cumulative_amount_is_refused_in_both_languages(name: str) -> None:
    data = {**GOOD, "retention_to_date": "0", name: "-0.01"}
    document, issues = validate(OpeningBalance, data)
    assert document is None
    assert [issue.field for issue in issues] == [name]
    assert "不能为负数" in issues[0].zh
    assert "must not be negative" in issues[0].en
    assert "-0.01" in issues[0].zh


def test_a_positive_prepaid_vat_carry_is_refused() -> None:
    document, issues = validate(OpeningBalance, {**GOOD, "prepaid_vat_carry": "0.01"})
    assert document is None
    assert [issue.field for issue in issues] == ["prepaid_vat_carry"]
    assert "预缴增值税" in issues[0].zh
    assert "≤ 0" in issues[0].en


def test_retention_above_what_was_billed_is_refused() -> None:
    document, issues = validate(
        OpeningBalance, {**GOOD, "billed_to_date": "1000.00", "retention_to_date": "1000.01"}
    )
    assert document is None
    assert [issue.field for issue in issues] == ["retention_to_date"]
    assert "累计扣留质保金 1000.01 大于累计结算 1000.00" in issues[0].zh
    assert "exceeds billed_to_date 1000.00" in issues[0].en


def test_retention_equal_to_billing_is_accepted() -> None:
    document, issues = validate(
        OpeningBalance, {**GOOD, "billed_to_date": "1000.00", "retention_to_date": "1000.00"}
    )
    assert issues == []
    assert document is not None


def test_the_go_live_date_is_a_business_date_in_the_window() -> None:
    document, issues = validate(OpeningBalance, {**GOOD, "as_of": "1999-12-31"})
    assert document is None
    assert [issue.field for issue in issues] == ["as_of"]


def test_float_amounts_are_refused_not_rounded() -> None:
    document, issues = validate(OpeningBalance, {**GOOD, "cost_to_date": 0.1})
    assert document is None
    assert issues[0].field == "cost_to_date"


# --- parsing of amounts, as files and JSON send them ----------------------------------------------

cents = st.integers(min_value=0, max_value=10**14)


def _written(amount: Decimal, grouped: bool, padded: bool) -> str:
    text = f"{amount:,.2f}" if grouped else f"{amount:.2f}"
    return f"  {text} " if padded else text


@given(cost=cents, billed=cents, share=st.integers(0, 100), grouped=st.booleans(), padded=st.booleans())
def test_amounts_written_as_exports_write_them_parse_exactly(
    cost: int, billed: int, share: int, grouped: bool, padded: bool
) -> None:
    cost_amount = Decimal(cost).scaleb(-2)
    billed_amount = Decimal(billed).scaleb(-2)
    retention = (billed_amount * share / 100).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    data = {
        **GOOD,
        "cost_to_date": _written(cost_amount, grouped, padded),
        "billed_to_date": _written(billed_amount, grouped, padded),
        "retention_to_date": _written(retention, grouped, padded),
    }
    document, issues = validate(OpeningBalance, data)
    assert issues == []
    assert document is not None
    assert document.cost_to_date == cost_amount
    assert document.billed_to_date == billed_amount
    assert document.retention_to_date == retention


@given(amount=st.integers(min_value=1, max_value=10**14), name=st.sampled_from(NON_NEGATIVE))
def test_any_negative_amount_is_refused_and_named(amount: int, name: str) -> None:
    document, issues = validate(OpeningBalance, {**GOOD, name: str(Decimal(-amount).scaleb(-2))})
    assert document is None
    assert name in {issue.field for issue in issues}


@given(carry=st.integers(min_value=-(10**14), max_value=10**14))
def test_the_carry_is_accepted_exactly_when_not_positive(carry: int) -> None:
    amount = Decimal(carry).scaleb(-2)
    document, issues = validate(OpeningBalance, {**GOOD, "prepaid_vat_carry": str(amount)})
    assert (document is not None) == (amount <= 0)
    if document is not None:
        assert document.prepaid_vat_carry == amount
    else:
        assert [issue.field for issue in issues] == ["prepaid_vat_carry"]


@given(mills=st.integers(min_value=1, max_value=10**9).filter(lambda n: n % 10))
def test_more_than_two_decimals_is_refused(mills: int) -> None:
    document, issues = validate(OpeningBalance, {**GOOD, "received_to_date": str(Decimal(mills).scaleb(-3))})
    assert document is None
    assert [issue.field for issue in issues] == ["received_to_date"]

"""Money: strict parsing, half-up rounding, exact sums, tax splits that add back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yecai.domain.money import MoneyError, is_money, money_sum, parse_decimal, round_money, split_tax

amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False)
rates = st.sampled_from([Decimal(r) for r in ("0", "0.03", "0.05", "0.06", "0.09", "0.13")])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.30", Decimal("12.30")),
        (" 1,234.50 ", Decimal("1234.50")),
        ("1，000", Decimal("1000")),
        (7, Decimal(7)),
        (Decimal("0.1"), Decimal("0.1")),
        ("-3.5", Decimal("-3.5")),
    ],
)
def test_parse_accepts_decimal_text_and_ints(raw: object, expected: Decimal) -> None:
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", [0.1, True, None, "", "abc", "NaN", "Infinity", [1], "1.2.3"])
def test_parse_refuses_floats_and_garbage_with_bilingual_message(raw: object) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_decimal(raw, field="amount")
    assert "amount" in caught.value.zh
    assert "amount" in caught.value.en


def test_round_half_up_not_bankers() -> None:
    assert round_money(Decimal("2.675")) == Decimal("2.68")
    assert round_money(Decimal("2.665")) == Decimal("2.67")
    assert round_money(Decimal("-2.675")) == Decimal("-2.68")
    assert round_money(Decimal("0.005")) == Decimal("0.01")


def test_empty_sum_is_money() -> None:
    assert str(money_sum([])) == "0.00"


@given(st.lists(amounts, max_size=50))
def test_money_sum_is_exact(values: list[Decimal]) -> None:
    assert money_sum(values) == sum(values, Decimal(0))


@given(amounts, rates)
def test_tax_split_adds_back_to_gross(gross: Decimal, rate: Decimal) -> None:
    net, tax = split_tax(gross, rate)
    assert net + tax == round_money(gross)
    assert is_money(net)
    assert is_money(tax)
    # the tax is the rounded exact tax, so it is never more than half a cent off
    exact = gross / (1 + rate) * rate
    assert abs(tax - exact) <= Decimal("0.005")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9))
def test_parse_round_trips_decimal_text(value: Decimal) -> None:
    assert parse_decimal(str(value)) == value

"""Money as `Decimal`: parsing, rounding to the currency's precision, and exact sums.

Every amount in yecai passes through here. Binary floats are refused (they cannot hold 0.1),
rounding is ROUND_HALF_UP as Chinese accounting expects, and a tax split always adds back to the
gross amount it came from (invariant 3 in docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Beyond any construction ledger, and within the store's NUMERIC(18, 2) and Decimal's default
# 28-digit context, so rounding a parsed value can never overflow.
LIMIT = Decimal("1e15")


class MoneyError(ValueError):
    """A value that is not a valid amount; carries a Chinese and an English message."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


def parse_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Strictly turn a JSON or spreadsheet value into a finite Decimal.

    Accepts Decimal, int and numeric strings (thousands separators and surrounding blanks are
    tolerated because exports carry them). Refuses float, bool, empty and non-numeric values.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"字段 {field} 不是数字：{value!r}", f"field {field} is not a number: {value!r}")
    if isinstance(value, float):
        raise MoneyError(
            f"字段 {field} 是二进制浮点数 {value!r}，金额必须以十进制传递",
            f"field {field} is a binary float {value!r}; amounts must be decimal",
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "")
        if not text:
            raise MoneyError(f"字段 {field} 为空", f"field {field} is empty")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MoneyError(
                f"字段 {field} 不是有效数字：{value!r}", f"field {field} is not a valid number: {value!r}"
            ) from None
    else:
        raise MoneyError(
            f"字段 {field} 的类型 {type(value).__name__} 不能作为数字",
            f"field {field} of type {type(value).__name__} cannot be a number",
        )
    if not result.is_finite():
        raise MoneyError(f"字段 {field} 不是有限数：{value!r}", f"field {field} is not finite: {value!r}")
    if abs(result) >= LIMIT:
        raise MoneyError(
            f"字段 {field} 的数值 {value!r} 过大（上限 {LIMIT:,.0f}）",
            f"field {field} value {value!r} is too large (limit {LIMIT:,.0f})",
        )
    return result


# The quantum of each precision, built once: planning rounds every line, and rebuilding the
# constant per call was a measurable share of it (issue 15).
_QUANTA: dict[int, Decimal] = {places: Decimal(1).scaleb(-places) for places in range(0, 9)}


def _quantum(places: int) -> Decimal:
    found = _QUANTA.get(places)
    return found if found is not None else Decimal(1).scaleb(-places)


def round_money(amount: Decimal, places: int = 2) -> Decimal:
    """Round half up to the currency's precision (2 places for 人民币)."""
    # (rounding passed by position: Decimal.quantize takes keywords far slower, and planning
    # rounds every line; issue 15)
    return amount.quantize(_QUANTA[2] if places == 2 else _quantum(places), ROUND_HALF_UP)


def money_sum(amounts: Iterable[Decimal]) -> Decimal:
    """Exact sum, starting from 0.00 so an empty sum still prints as money."""
    total = ZERO
    for amount in amounts:
        total += amount
    return total


def split_tax(gross: Decimal, rate: Decimal, places: int = 2) -> tuple[Decimal, Decimal]:
    """Split a tax-inclusive amount into (net, tax) that add back exactly to the rounded gross.

    Tax is computed as gross / (1 + rate) × rate and rounded; net is the remainder, so rounding
    never creates or loses a cent.
    """
    gross = round_money(gross, places)
    if rate < 0:
        raise MoneyError(f"税率不能为负：{rate}", f"tax rate cannot be negative: {rate}")
    tax = round_money(gross / (1 + rate) * rate, places)
    return gross - tax, tax


def is_money(amount: Decimal, places: int = 2) -> bool:
    """True when `amount` has no more decimal places than the currency allows."""
    return amount == amount.quantize(_QUANTA[2] if places == 2 else _quantum(places))

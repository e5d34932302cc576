"""Canonical JSON keeps decimals exact and hashes equal content equally."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yecai import jsonutil

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_round_trip_is_exact(value: object) -> None:
    text = jsonutil.dumps(value)
    json.loads(text)  # always valid JSON for any other reader
    assert jsonutil.dumps(jsonutil.loads(text)) == text


def test_money_never_becomes_binary_float() -> None:
    parsed = jsonutil.loads('{"amount": 0.10, "qty": 3, "price": 1234567890.12}')
    assert parsed == {"amount": Decimal("0.10"), "qty": 3, "price": Decimal("1234567890.12")}
    assert jsonutil.dumps(parsed) == '{"amount":0.10,"qty":3,"price":1234567890.12}'


def test_chinese_is_written_as_is() -> None:
    assert jsonutil.dumps({"名称": "人工费"}) == '{"名称":"人工费"}'


@given(st.dictionaries(st.text(max_size=6), st.integers(), max_size=6))
def test_hash_ignores_key_order(mapping: dict[str, int]) -> None:
    reversed_mapping = dict(reversed(list(mapping.items())))
    assert jsonutil.content_hash(mapping) == jsonutil.content_hash(reversed_mapping)


def test_hash_sees_a_changed_amount() -> None:
    assert jsonutil.content_hash({"a": Decimal("1.00")}) != jsonutil.content_hash({"a": Decimal("1.01")})


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12))
def test_decimals_come_back_with_their_digits(value: Decimal) -> None:
    parsed = json.loads(jsonutil.dumps({"amount": value}), parse_float=Decimal, parse_int=Decimal)["amount"]
    assert parsed == value
    assert parsed.as_tuple().exponent == value.as_tuple().exponent  # 12345.60 stays 12345.60


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30))
def test_any_finite_decimal_is_valid_json(value: Decimal) -> None:
    assert json.loads(jsonutil.dumps([value]), parse_float=Decimal, parse_int=Decimal)[0] == value


def test_scale_is_kept_and_no_exponent_is_written() -> None:
    text = jsonutil.dumps(
        [Decimal("12345.60"), Decimal("0.0900"), Decimal("1E+3"), Decimal("-0.01"), Decimal("-0.00")]
    )
    assert text == "[12345.60,0.0900,1000,-0.01,0.00]"
    assert jsonutil.decimal_text(Decimal("3672.5664")) == "3672.5664"


@given(st.text())
def test_text_survives(text: str) -> None:
    assert json.loads(jsonutil.dumps({text: [text]})) == {text: [text]}


def test_enums_dates_and_dataclasses() -> None:
    class Category(StrEnum):
        LABOUR = "labour"

    @dataclass
    class Line:
        b: int
        a: Decimal
        c: bool | None

    china = dt.timezone(dt.timedelta(hours=8))
    value = {
        "category": Category.LABOUR,
        "d": dt.date(2026, 10, 8),
        "t": dt.datetime(2026, 10, 8, 9, 30, 5, tzinfo=china),
    }
    assert jsonutil.dumps(value) == '{"category":"labour","d":"2026-10-08","t":"2026-10-08T09:30:05+08:00"}'
    assert jsonutil.dumps(Line(1, Decimal("2.50"), None)) == '{"b":1,"a":2.50,"c":null}'
    assert jsonutil.dumps(Line(1, Decimal("2.50"), None), canonical=True) == '{"a":2.50,"b":1,"c":null}'
    assert jsonutil.dumps((True, False)) == "[true,false]"


@pytest.mark.parametrize("value", [1.5, Decimal("NaN"), Decimal("Infinity"), object()])
def test_floats_and_non_numbers_are_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        jsonutil.dumps({"x": value})


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_json_constants_are_refused_on_read(text: str) -> None:
    with pytest.raises(ValueError, match="invalid JSON constant"):
        jsonutil.loads(text)


json_trees = st.recursive(
    st.none() | st.integers() | st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(json_trees)
def test_nesting_depth_counts_structure_not_brackets_in_strings(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert jsonutil.nesting_depth(text) == _depth(value)
    assert jsonutil.loads_untrusted(text.encode("utf-8"), max_depth=max(_depth(value), 1)) == value


def test_untrusted_json_is_bounded_before_it_is_parsed() -> None:
    with pytest.raises(jsonutil.UntrustedJSONError, match=r"嵌套过深.*100000 层"):
        jsonutil.loads_untrusted("[" * 100_000, max_depth=64)
    assert jsonutil.nesting_depth('["\\"[[[", "\\\\", [{}]]') == 3  # escaped quotes end no string
    with pytest.raises(jsonutil.UntrustedJSONError, match="surrogate"):
        jsonutil.loads_untrusted(b'{"a": "\\ud800"}', max_depth=64)
    with pytest.raises(jsonutil.UntrustedJSONError, match="surrogate"):  # raw, not escaped, in UTF-16
        jsonutil.loads_untrusted('["\ud800"]'.encode("utf-16-le", "surrogatepass"), max_depth=64)
    assert jsonutil.loads_untrusted('{"a": "\\ud83d\\ude00"}'.encode("utf-16"), max_depth=64) == {"a": "😀"}
    assert jsonutil.loads_untrusted(b'{"m": 1.10}', max_depth=1) == {"m": Decimal("1.10")}
    with pytest.raises(ValueError, match="Expecting"):
        jsonutil.loads_untrusted(b"[1,", max_depth=64)

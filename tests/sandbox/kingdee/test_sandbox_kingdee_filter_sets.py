"""`IN (…)` over text literals is a set lookup: it answers exactly as the item-by-item evaluation.

The emulator used to coerce the row's value against every item (a 200-number `FBillNo IN` per row
was its own bottleneck, issue 15). The reference here is that evaluation, item by item through
`compare_values`, kept in the test: values of every kind (text in other cases and with blanks,
numbers, dates, booleans, NULL) and lists with NULL items, negated or not, must agree — errors too.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.sandbox.kingdee.filters import (
    FieldRef,
    FilterValueError,
    In,
    Literal,
    compare_values,
    evaluate,
    parse_filter,
)


def item_by_item(node: In, value: Any) -> bool | None:
    """The evaluation before the set lookup: each item compared in turn, SQL's three values."""
    unknown = False
    for item in node.items:
        assert isinstance(item, Literal)
        order = compare_values(value, item.value)
        if order == 0:
            return not node.negated
        if order is None:
            unknown = True
    return None if unknown else node.negated


def outcome(run: Any) -> tuple[str, Any]:
    try:
        return ("value", run())
    except FilterValueError:
        return ("error", None)


TEXTS = st.text(alphabet="aAbBß SS1 0项目é", max_size=6)
ITEMS = st.lists(st.one_of(TEXTS, st.none()), max_size=8)
VALUES = st.one_of(
    TEXTS,
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=12),
    st.decimals(min_value=-5, max_value=15, places=2),
    st.sampled_from([datetime(2026, 10, 1), datetime(2026, 10, 1, 8, 30)]),
)


@settings(max_examples=400, deadline=None)
@given(items=ITEMS, value=VALUES, negated=st.booleans())
def test_a_text_list_answers_as_the_item_by_item_evaluation(
    items: list[str | None], value: Any, negated: bool
) -> None:
    node = In(FieldRef("FBillNo"), tuple(Literal(item) for item in items), negated)
    assert node.texts is not None
    assert outcome(lambda: evaluate(node, lambda _name: value)) == outcome(lambda: item_by_item(node, value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ab001", True),  # case-insensitive
        ("AB001  ", True),  # trailing blanks ignored
        ("  AB001", None),  # leading blanks are not: a miss, UNKNOWN beside the NULL item
        ("strasse", True),  # ß folds to ss
        ("AB002", None),  # a miss beside a NULL item is UNKNOWN
        (None, None),
    ],
)
def test_text_coercion_edges(value: Any, expected: bool | None) -> None:
    node = parse_filter("FBillNo IN ('AB001', 'STRAßE', NULL)")
    assert isinstance(node, In)
    assert evaluate(node, lambda _name: value) is expected
    assert item_by_item(node, value) is expected


def test_a_number_value_against_text_items_still_converts_item_by_item() -> None:
    # Not text against text: the set is not used, and SQL Server's conversion (and its error) stays.
    node = parse_filter("FQty IN ('1', '2.0')")
    assert isinstance(node, In)
    assert evaluate(node, lambda _name: Decimal("2")) is True
    broken = parse_filter("FQty IN ('x', '1')")
    with pytest.raises(FilterValueError):
        evaluate(broken, lambda _name: 1)


def test_lists_of_numbers_or_fields_are_not_text_sets() -> None:
    numbers = parse_filter("FID IN (1, 2, 3)")
    fields = parse_filter("FBillNo IN ('A', FNumber)")
    assert isinstance(numbers, In)
    assert isinstance(fields, In)
    assert numbers.texts is None
    assert fields.texts is None
    assert evaluate(numbers, lambda _name: "2") is True
    assert evaluate(fields, lambda name: {"FBillNo": "b", "FNumber": "B"}[name]) is True


def test_two_hundred_bill_numbers() -> None:
    numbers = [f"YC{n:06d}" for n in range(200)]
    node = parse_filter("FBillNo IN (" + ",".join(f"'{n}'" for n in numbers) + ")")
    assert isinstance(node, In)
    for probe in ["YC000000", "yc000199", "YC000200", "YC00019"]:
        assert evaluate(node, lambda _name, p=probe: p) is item_by_item(node, probe)

"""Property tests of the FilterString parser/evaluator against a small reference evaluator."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yecai.kingdee.keys import key_token, repr_sql
from yecai.sandbox.kingdee.filters import (
    FilterSyntaxError,
    FilterValueError,
    evaluate,
    field_names,
    like_matches,
    parse_filter,
    parse_filter_array,
)

# --- a test-side model of conditions ---------------------------------------------------------------

TEXT_ALPHABET = "aAbB 'é项目%_"


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class LikeP:
    field: str
    pattern: str
    negated: bool


@dataclass(frozen=True)
class InP:
    field: str
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class NullP:
    field: str
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    left: Any
    right: Any


@dataclass(frozen=True)
class NotP:
    inner: Any


FIELDS = {
    "FQty": st.integers(-50, 50),
    "FAmount": st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
    "FName": st.text(alphabet=TEXT_ALPHABET, max_size=5),
    "FDate": st.dates(min_value=datetime(2024, 1, 1).date(), max_value=datetime(2026, 12, 31).date()).map(
        lambda d: datetime(d.year, d.month, d.day)
    ),
}


def literal_for(name: str) -> st.SearchStrategy[Any]:
    return FIELDS[name]


@st.composite
def predicates(draw: st.DrawFn) -> Any:
    name = draw(st.sampled_from(sorted(FIELDS)))
    kind = draw(
        st.sampled_from(
            ["cmp", "cmp", "in", "null", "like"] if name == "FName" else ["cmp", "cmp", "in", "null"]
        )
    )
    if kind == "cmp":
        return Cmp(
            name, draw(st.sampled_from(["=", "<>", "!=", "<", "<=", ">", ">="])), draw(literal_for(name))
        )
    if kind == "in":
        values = tuple(draw(st.lists(literal_for(name), min_size=1, max_size=3)))
        return InP(name, values, draw(st.booleans()))
    if kind == "null":
        return NullP(name, draw(st.booleans()))
    return LikeP(name, draw(st.text(alphabet="aAb 'é%_", max_size=5)), draw(st.booleans()))


conditions = st.recursive(
    predicates(),
    lambda inner: st.one_of(
        st.builds(BoolOp, st.sampled_from(["and", "or"]), inner, inner),
        st.builds(NotP, inner),
    ),
    max_leaves=8,
)

rows = st.fixed_dictionaries({name: st.none() | strategy for name, strategy in FIELDS.items()})


# --- rendering to FilterString text ----------------------------------------------------------------


def render_literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value:%Y-%m-%d}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render(node: Any, draw: st.DrawFn) -> str:
    def kw(word: str) -> str:
        return draw(st.sampled_from([word.upper(), word.lower(), word.title()]))

    space = draw(st.sampled_from([" ", "  ", "\t", "\n "]))
    if isinstance(node, Cmp):
        text = f"{node.field}{draw(st.sampled_from(['', ' ']))}{node.op}{space}{render_literal(node.value)}"
    elif isinstance(node, InP):
        items = ", ".join(render_literal(v) for v in node.values)
        text = f"{node.field} {kw('not') + ' ' if node.negated else ''}{kw('in')} ({items})"
    elif isinstance(node, NullP):
        text = f"{node.field} {kw('is')} {kw('not') + ' ' if node.negated else ''}{kw('null')}"
    elif isinstance(node, LikeP):
        text = f"{node.field} {kw('not') + ' ' if node.negated else ''}{kw('like')} {render_literal(node.pattern)}"
    elif isinstance(node, NotP):
        return f"{kw('not')} ({render(node.inner, draw)})"
    else:
        text = f"({render(node.left, draw)}){space}{kw(node.op)}{space}({render(node.right, draw)})"
    return f"({text})" if draw(st.booleans()) else text


# --- the reference evaluator (SQL three-valued logic) --------------------------------------------


def like_match(pattern: str, text: str) -> bool:
    pattern, text = pattern.casefold(), text.casefold()
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(pattern):
            result = j == len(text)
        elif pattern[i] == "%":
            result = match(i + 1, j) or (j < len(text) and match(i, j + 1))
        elif j < len(text) and (pattern[i] == "_" or pattern[i] == text[j]):
            result = match(i + 1, j + 1)
        else:
            result = False
        memo[(i, j)] = result
        return result

    return match(0, 0)


def sql_compare(left: Any, right: Any) -> int | None:
    if left is None or right is None:
        return None
    if isinstance(left, str):
        left, right = left.rstrip(" ").casefold(), right.rstrip(" ").casefold()
    return (left > right) - (left < right)


def reference(node: Any, row: dict[str, Any]) -> bool | None:
    if isinstance(node, Cmp):
        order = sql_compare(row[node.field], node.value)
        if order is None:
            return None
        op = "<>" if node.op == "!=" else node.op
        return {
            "=": order == 0,
            "<>": order != 0,
            "<": order < 0,
            "<=": order <= 0,
            ">": order > 0,
            ">=": order >= 0,
        }[op]
    if isinstance(node, InP):
        results = [sql_compare(row[node.field], v) for v in node.values]
        if 0 in results:
            return not node.negated
        return None if None in results else node.negated
    if isinstance(node, NullP):
        return (row[node.field] is None) != node.negated
    if isinstance(node, LikeP):
        if row[node.field] is None:
            return None
        return like_match(node.pattern, row[node.field]) != node.negated
    if isinstance(node, NotP):
        inner = reference(node.inner, row)
        return None if inner is None else not inner
    left, right = reference(node.left, row), reference(node.right, row)
    if node.op == "and":
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), condition=conditions, row=rows)
def test_parsed_filters_evaluate_like_the_reference(
    data: st.DataObject, condition: Any, row: dict[str, Any]
) -> None:
    text = render(condition, data.draw)
    tree = parse_filter(text)
    assert evaluate(tree, lambda name: row[name]) == reference(condition, row), text


GARBAGE_ALPHABET = st.sampled_from(
    [
        "FQty",
        "FName",
        "a.b",
        ".",
        "'",
        "''",
        "N'",
        "(",
        ")",
        ",",
        "=",
        "<>",
        "!=",
        "<",
        ">=",
        "-",
        "+",
        "1",
        "2.5",
        ".5",
        "and",
        "OR",
        "not",
        "like",
        "in",
        "is",
        "null",
        " ",
        "%",
        ";",
        "--",
        '"',
        "[",
        "*",
        "@",
        "é",
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(GARBAGE_ALPHABET, max_size=25).map("".join)))
def test_garbage_only_ever_raises_the_parsers_own_error(text: str) -> None:
    with contextlib.suppress(FilterSyntaxError):
        parse_filter(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["Left", "FieldName", "Compare", "Value", "Right", "Logic", "Other"]),
            st.one_of(
                st.text(max_size=6),
                st.integers(),
                st.none(),
                st.sampled_from(["(", ")", "67", "105", "FNumber"]),
            ),
        )
        | st.text(max_size=3),
        max_size=5,
    )
)
def test_garbage_array_filters_only_raise_the_parsers_own_error(items: list[Any]) -> None:
    with contextlib.suppress(FilterSyntaxError):
        parse_filter_array(items)


@pytest.mark.parametrize(
    "text",
    [
        "FQty = ",
        "= 1",
        "FQty 1",
        "(FQty = 1",
        "FQty = 1)",
        "FQty = 'x",
        "FQty in ()",
        "FQty is 1",
        "not",
        "FQty = 1 and",
        "FQty = 1; delete",
        "FQty == 1",
        "FQty = 1 -- comment",
        'FQty = "x"',
        "FQty = 1x",
        "FA.B. = 1",
    ],
)
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter(text)


def test_precedence_not_and_or() -> None:
    tree = parse_filter("FQty = 1 or FQty = 2 and not FQty = 2")
    assert evaluate(tree, lambda _: 2) is False
    assert evaluate(tree, lambda _: 1) is True


def test_dates_and_numbers_convert_like_sql_server() -> None:
    when = datetime(2025, 3, 31)
    assert evaluate(parse_filter("FDate >= '2025-03-01' and FDate < '2025-04-01 00:00:00'"), lambda _: when)
    assert evaluate(parse_filter("FQty = '12.0'"), lambda _: 12)
    assert evaluate(parse_filter("FName = 'abc  '"), lambda _: "ABC")
    assert evaluate(parse_filter("FName like 'a[bc]%'"), lambda _: "acx")


def test_a_like_pattern_sql_server_rejects_is_a_value_error() -> None:
    with pytest.raises(FilterValueError):
        evaluate(parse_filter("FName like '[z-a]'"), lambda _: "b")


# --- hostile input (issue 12) ---------------------------------------------------------------------

LIKE_ALPHABET = "aAbé%_[]^-"


def like_by_regex(pattern: str, text: str) -> bool:
    """The naive expectation: the LIKE pattern translated into a regex, tried with re.fullmatch."""
    parts: list[str] = []
    i, pattern = 0, pattern.casefold()
    while i < len(pattern):
        ch = pattern[i]
        end = pattern.find("]", i + 2 if pattern.startswith("[]", i) else i + 1) if ch == "[" else -1
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        elif end != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("^") and len(body) > 1
            body = body[1:] if negate else body
            members = "".join(
                re.escape(c) if c != "-" or j in (0, len(body) - 1) else "-" for j, c in enumerate(body)
            )
            parts.append(f"[{'^' if negate else ''}{members}]")
            i = end
        else:
            parts.append(re.escape(ch))
        i += 1
    try:
        compiled = re.compile("".join(parts), re.DOTALL)
    except re.error as exc:
        raise FilterValueError(str(exc)) from exc
    return compiled.fullmatch(text.casefold()) is not None


@settings(max_examples=600, deadline=None)
@given(st.text(LIKE_ALPHABET, max_size=8), st.text(LIKE_ALPHABET.replace("%", ""), max_size=10))
def test_the_like_matcher_agrees_with_the_regex_translation(pattern: str, text: str) -> None:
    try:
        expected: bool | type[FilterValueError] = like_by_regex(pattern, text)
    except FilterValueError:
        expected = FilterValueError
    try:
        actual: bool | type[FilterValueError] = like_matches(pattern, text)
    except FilterValueError:
        actual = FilterValueError
    assert actual == expected, (pattern, text)


def test_thirty_wildcards_against_a_long_text_answer() -> None:
    # '%_%_…#' used to pin a core for ever: the backtracking grew about 8x per wildcard.
    pattern = "%_" * 30 + "#"
    long_text = "a" * 2_000
    assert like_matches(pattern, long_text) is like_by_regex("%_" * 3 + "#", "a" * 50) is False
    assert like_matches(pattern, long_text + "#") is True
    assert like_matches(pattern, "a" * 29 + "#") is False  # 30 characters needed before the '#'
    tree = parse_filter(f"FName like '{pattern}' or FName like '%[#]'")
    assert evaluate(tree, lambda _: long_text) is False
    assert evaluate(tree, lambda _: long_text + "#") is True


def test_a_three_thousand_term_or_and_and_work() -> None:
    either = parse_filter(" or ".join(f"FQty = {n}" for n in range(3_000)))
    assert evaluate(either, lambda _: 2_999) is True
    assert evaluate(either, lambda _: 3_000) is False
    assert evaluate(either, lambda _: None) is None
    assert len(field_names(either)) == 3_000
    both = parse_filter(" and ".join(f"FQty <> {n}" for n in range(3_000)))
    assert evaluate(both, lambda _: 3_000) is True
    assert evaluate(both, lambda _: 17) is False
    array = parse_filter_array(
        [{"FieldName": "FNumber", "Compare": "67", "Value": str(n), "Logic": "1"} for n in range(3_000)]
    )
    assert evaluate(array, lambda _: "2999") is True


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5_000 + "FQty = 1" + ")" * 5_000,
        "not " * 5_000 + "FQty = 1",
        "(not " * 3_000 + "FQty = 1" + ")" * 3_000,
        "(" * 5_000,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(FilterSyntaxError, match="nest"):
        parse_filter(text)


def test_deep_nesting_in_the_array_form_is_a_syntax_error() -> None:
    items = [
        {"Left": "(" * 5_000, "FieldName": "FNumber", "Compare": "67", "Value": "1", "Right": ")" * 5_000}
    ]
    with pytest.raises(FilterSyntaxError, match="nest"):
        parse_filter_array(items)


def test_nesting_within_the_limit_still_evaluates() -> None:
    tree = parse_filter("(" * 50 + "not (FQty = 1 or FQty = 2) and FQty > 0" + ")" * 50)
    assert evaluate(tree, lambda _: 3) is True
    assert evaluate(tree, lambda _: 2) is False


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=12), st.text(max_size=5))
def test_the_clients_literals_and_key_searches_agree_with_the_sandbox(value: str, around: str) -> None:
    # yecai.kingdee.keys writes literals with repr_sql and finds postings by LIKE '%<key token>%'.
    assert evaluate(parse_filter(f"FName = {repr_sql(value)}"), lambda _: value) is True
    token = key_token("P-20250201-0007")
    tree = parse_filter(f"FEXPLANATION like '%{token}%'")
    assert evaluate(tree, lambda _: around + token + value) is True
    assert evaluate(tree, lambda _: around + token[:-1] + "8" + value) is (
        token in around + token[:-1] + "8" + value
    )

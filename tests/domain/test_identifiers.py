"""Check digits: resident ID numbers, unified social credit codes, Luhn card numbers, BOQ codes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yecai.domain.identifiers import (
    birth_date,
    boq_code_valid,
    id_number_check_digit,
    id_number_problem,
    luhn_check_digit,
    luhn_valid,
    uscc_check_character,
    uscc_problem,
)

births = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2005, 12, 31))


def make_id(region: str, born: dt.date, sequence: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_number_check_digit(first17)


def test_known_valid_examples() -> None:
    assert id_number_problem("11010519491231002X") is None  # the standard's own example
    assert id_number_problem("11010519491231002x".upper()) is None
    assert uscc_problem("91350100M000100Y43") is None


@given(st.from_regex(r"\d{6}", fullmatch=True), births, st.integers(0, 999))
def test_generated_id_numbers_validate_and_carry_their_birth_date(
    region: str, born: dt.date, sequence: int
) -> None:
    number = make_id(region, born, sequence)
    assert id_number_problem(number) is None
    assert birth_date(number) == born


@given(
    st.from_regex(r"\d{6}", fullmatch=True),
    births,
    st.integers(0, 999),
    st.integers(0, 16),
    st.integers(1, 9),
)
def test_any_single_digit_change_is_caught(
    region: str, born: dt.date, sequence: int, position: int, delta: int
) -> None:
    number = make_id(region, born, sequence)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert id_number_problem(changed) is not None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1101051949123100", "18 characters"),
        ("11010519491231002Y", "digit or X"),
        ("110105194913310028", "not a date"),
        ("110105180001010028", "not plausible"),
        ("110105194912310021", "check digit"),
    ],
)
def test_bad_id_numbers_say_why(value: str, problem: str) -> None:
    found = id_number_problem(value)
    assert found is not None
    assert problem in found


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17))
def test_uscc_round_trip(first17: str) -> None:
    assert uscc_problem(first17 + uscc_check_character(first17)) is None


def test_uscc_rejects_letters_outside_the_alphabet() -> None:
    problem = uscc_problem("91350100M000100I43")
    assert problem is not None
    assert "alphabet" in problem


@given(st.from_regex(r"\d{15,18}", fullmatch=True))
def test_luhn_completion_and_single_errors(partial: str) -> None:
    number = partial + luhn_check_digit(partial)
    assert luhn_valid(number)
    last = int(number[-1])
    assert not luhn_valid(number[:-1] + str((last + 1) % 10))


def test_luhn_examples() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert not luhn_valid("12345")
    assert not luhn_valid("6222abc")


@pytest.mark.parametrize(
    ("code", "ok"), [("010101003001", True), ("01B001", True), ("0101010030", False), ("01010100300A", False)]
)
def test_boq_codes(code: str, ok: bool) -> None:
    assert boq_code_valid(code) is ok

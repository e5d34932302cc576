"""Check digits of the identifiers Chinese construction documents carry.

居民身份证号码 (GB 11643-1999, 18 characters, ISO 7064 MOD 11-2 check digit, X for 10),
统一社会信用代码 (GB 32100-2015, 18 characters, MOD 31 check character), bank card numbers (Luhn,
which UnionPay cards pass but passbooks and corporate accounts may not — a warning, never a
refusal) and 工程量清单 item codes (GB 50500: 12 digits, or a supplementary code like 01B001).
"""

from __future__ import annotations

import datetime as dt
import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_BOQ = re.compile(r"^(\d{12}|\d{2}B\d{3})$")


def id_number_problem(value: str) -> str | None:
    """None when `value` is a valid 18-character resident ID number, else what is wrong (English)."""
    if len(value) != 18:
        return "must have 18 characters"
    body, check = value[:17], value[17].upper()
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        return "must be 17 digits and a digit or X"
    try:
        born = dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return f"birth date {body[6:14]} is not a date"
    if born.year < 1900 or born > dt.date.today():
        return f"birth date {born.isoformat()} is not plausible"
    expected = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    if check != expected:
        return f"check digit is {check}, expected {expected}"
    return None


def id_number_check_digit(first17: str) -> str:
    """The check digit for the first 17 digits (used to build test data)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def uscc_problem(value: str) -> str | None:
    """None when `value` is a valid 统一社会信用代码, else what is wrong (English)."""
    if len(value) != 18:
        return "must have 18 characters"
    upper = value.upper()
    if any(c not in _USCC_CHARS for c in upper):
        return "contains characters outside the code's alphabet"
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(upper[:17], _USCC_WEIGHTS, strict=True))
    expected = _USCC_CHARS[(31 - total % 31) % 31]
    if upper[17] != expected:
        return f"check character is {upper[17]}, expected {expected}"
    return None


def uscc_check_character(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17.upper(), _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def luhn_valid(number: str) -> bool:
    """The Luhn check of a card number (spaces ignored)."""
    digits = number.replace(" ", "")
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial` + digit pass Luhn (used to build test data)."""
    for digit in "0123456789":
        if luhn_valid(partial + digit):
            return digit
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def boq_code_valid(value: str) -> bool:
    """A 12-digit 清单项目编码, or a supplementary code (专业代码 + B + 3 digits)."""
    return bool(_BOQ.match(value))

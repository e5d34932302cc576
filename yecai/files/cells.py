"""Cell values from spreadsheets and CSV turned into exact Python values: Decimal, date, time, text.

Excel stores every number as a binary double and shows at most 15 significant digits, so a
number cell becomes the Decimal of its 15-significant-digit form (0.1+0.2 → 0.3, 100.0 → 100).
Text cells are read the way Chinese exports write them: `¥1,234.50`, `（100.00）` for a negative,
`9%`, `2026年10月5日`, `20261005`, full-width digits. A value that cannot be read raises
`CellError` with a Chinese and an English reason naming the value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# Excel shows (and keeps exact) at most 15 significant decimal digits of a double.
EXCEL_DIGITS = 15
# Dates as Excel serial numbers (1900 date system): 1954-10-03 … 2119-01-13 covers every
# business date; smaller or larger numbers are not taken for dates.
SERIAL_MIN, SERIAL_MAX = 20000, 80000
EXCEL_EPOCH = dt.date(1899, 12, 30)

Cell = str | float | int | bool | dt.date | dt.datetime | dt.time | dt.timedelta | Decimal | None


class CellError(ValueError):
    """A cell value that cannot be read as the field's type; bilingual, names the value."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


def excel_decimal(value: float) -> Decimal:
    """The Decimal an Excel user sees for a double: 15 significant digits, no binary artefacts.

    Integral values come out as integers (100.0 → 100); trailing zeros of fractions are dropped
    (1234.50 → 1234.5; money validation accepts both). Non-finite values raise CellError.
    """
    known = _DECIMALS.get(value)
    if known is not None:
        return known
    if value != value or value in (float("inf"), float("-inf")):
        raise CellError(f"数字 {value!r} 不是有限数", f"number {value!r} is not finite")
    if value == 0:
        return Decimal(0)
    text = repr(value)
    if len(text) <= _SHORT and "e" not in text:
        # The shortest text that reads back as the double has at most 15 digits here, and the
        # double lies within half a unit of its last binary digit of it: rounding the double to 15
        # significant digits gives those very digits. `repr` is several times faster than
        # formatting and normalising; without trailing zeros, the Decimal is already normal.
        result = Decimal(int(value)) if text.endswith(".0") else Decimal(text)
        if len(_DECIMALS) >= 4096:
            _DECIMALS.clear()
        _DECIMALS[value] = result
        return result
    result = Decimal(format(value, f".{EXCEL_DIGITS}g"))
    if result.as_tuple().exponent >= 0 or result == int(result):  # type: ignore[operator]
        result = Decimal(int(result))
    else:
        result = result.normalize()
    if len(_DECIMALS) >= 4096:
        _DECIMALS.clear()  # a row reads its numbers twice (payload, field): recent ones suffice
    _DECIMALS[value] = result
    return result


# `repr` of a double this short (sign, point and at most 15 digits) has at most 15 significant digits
_SHORT = EXCEL_DIGITS + 1
# recent doubles → their Decimal (immutable, so shared safely); NaN never gets here
_DECIMALS: dict[float, Decimal] = {}


def nfkc(text: str) -> str:
    """Full-width digits, letters and punctuation → ASCII; ideographic spaces → spaces."""
    return unicodedata.normalize("NFKC", text)


_CURRENCY = re.compile(r"^(?:¥|￥|RMB|CNY|人民币)\s*|\s*(?:元|RMB|CNY)$", re.IGNORECASE)


def text_decimal(text: str) -> Decimal:
    """A number written as text: thousands separators, currency marks, accounting negatives.

    `¥1,234.50`, `1 234.50元`, `(1,234.50)` and `（1,234.50）` (negative), `-0`, `1.2E3`.
    Raises CellError for anything else (including empty text, which callers treat separately).
    """
    original = text
    text = nfkc(text).strip()
    negative = False
    if len(text) > 1 and text[0] == "(" and text[-1] == ")":
        negative, text = True, text[1:-1].strip()
    text = _CURRENCY.sub("", text).strip()
    text = text.replace(",", "").replace(" ", "").replace("'", "")
    if text.startswith("+"):
        text = text[1:]
    try:
        result = Decimal(text)
    except (InvalidOperation, ValueError):
        raise CellError(f"不是有效数字：{original!r}", f"not a valid number: {original!r}") from None
    if not result.is_finite():
        raise CellError(f"不是有限数：{original!r}", f"not a finite number: {original!r}")
    return -result if negative else result


def cell_decimal(cell: Cell) -> Decimal | None:
    """Any cell → Decimal, or None for an empty cell."""
    if cell is None or isinstance(cell, bool):
        if cell is None:
            return None
        raise CellError(f"应为数字，实为逻辑值 {cell}", f"expected a number, got the boolean {cell}")
    if isinstance(cell, Decimal):
        return cell
    if isinstance(cell, int):
        return Decimal(cell)
    if isinstance(cell, float):
        return excel_decimal(cell)
    if isinstance(cell, str):
        if not cell.strip():
            return None
        return text_decimal(cell)
    raise CellError(
        f"应为数字，实为{_type_zh(cell)} {cell}", f"expected a number, got {type(cell).__name__} {cell}"
    )


# A float within this of a whole cent is that cent: binary noise of a formula (=A1-B1), never a
# real amount (a genuine third decimal is at least 0.001 away and stays to be refused).
CENT_NOISE = Decimal("0.000001")
CENT = Decimal("0.01")


def cell_money(cell: Cell) -> Decimal | None:
    """A money cell: like `cell_decimal`, and a float cell off a whole cent only by float noise is that cent.

    Excel keeps 15 significant digits, so =570235.04-519657.79 shows 50577.2500000001; the amount
    meant is 50577.25. Text cells are taken as written.
    """
    value = cell_decimal(cell)
    if value is None or not isinstance(cell, float) or abs(value) >= 10**16:
        return value  # (an amount that large is refused by the range check)
    cents = value.quantize(CENT)
    if cents != value and abs(value - cents) <= max(CENT_NOISE, abs(value) * Decimal("1e-14")):
        return cents.normalize() if cents == cents.to_integral_value() else cents
    return value


def _type_zh(cell: object) -> str:
    if isinstance(cell, dt.datetime | dt.date):
        return "日期"
    if isinstance(cell, dt.time | dt.timedelta):
        return "时间"
    return type(cell).__name__


_DATE_PATTERNS = (
    # 2026-10-05, 2026/10/5, 2026.10.5, optionally followed by a time
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$"),
    # 2026年10月5日 (the 日 is sometimes left out), optionally 8:30, 8时30分 or 8点30分15秒
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?(?:\s*(\d{1,2})[:时点](\d{2})(?:[:分](\d{2}))?.*)?$"),
    # 20261005
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def _time_problem(text: str, hour: str | None, minute: str | None, second: str | None) -> CellError | None:
    # The time is dropped (a business date is a day), but a time that cannot exist means the cell is
    # wrong: 25:00 must be refused, never silently cut off to the date in front of it.
    if hour is None:
        return None
    if int(hour) < 24 and int(minute or 0) < 60 and int(second or 0) < 60:
        return None
    return CellError(
        f"日期后的时间不存在：{text!r}（时 0–23，分、秒 0–59）",
        f"the time after the date does not exist: {text!r} (hours 0–23, minutes and seconds 0–59)",
    )


def text_date(text: str) -> dt.date:
    """A date written the way Chinese exports write it; raises CellError naming the text."""
    cleaned = nfkc(text).strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.match(cleaned)
        if match:
            parts = (*match.groups(), None, None, None)
            if problem := _time_problem(text, *parts[3:6]):
                raise problem
            year, month, day = (int(part) for part in parts[:3])
            try:
                return dt.date(year, month, day)
            except ValueError:
                break
    raise CellError(
        f"不是有效日期：{text!r}（可用 2026-10-05、2026/10/5、2026年10月5日 或 20261005）",
        f"not a valid date: {text!r} (use 2026-10-05, 2026/10/5, 2026年10月5日 or 20261005)",
    )


def serial_date(value: float) -> dt.date:
    """An Excel serial day number (1900 system, as every Chinese export uses) → date."""
    if value != int(value) or not SERIAL_MIN <= value <= SERIAL_MAX:
        raise CellError(
            f"数字 {value:g} 不是日期（应为日期单元格或 2026-10-05 形式的文本）",
            f"the number {value:g} is not a date (use a date cell or text like 2026-10-05)",
        )
    return EXCEL_EPOCH + dt.timedelta(days=int(value))


def cell_date(cell: Cell) -> dt.date | None:
    """Any cell → date (datetime cells keep their date), or None for an empty cell."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, bool):
        raise CellError(f"应为日期，实为逻辑值 {cell}", f"expected a date, got the boolean {cell}")
    if isinstance(cell, int | float | Decimal):
        number = float(cell)
        if not math.isfinite(number):
            raise CellError(f"应为日期，实为 {cell}", f"expected a date, got {cell}")
        # 20261005 typed as a number is a date too
        if number == int(number) and 19000101 <= number <= 21001231:
            return text_date(str(int(number)))
        return serial_date(number)
    if isinstance(cell, str):
        return text_date(cell)
    raise CellError(f"应为日期：{cell}", f"expected a date: {cell}")


_TIME = re.compile(r"^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?:?$")


def cell_time(cell: Cell) -> dt.time | None:
    """A time of day: a time cell, a fraction of a day, a datetime, or text `8:00` / `08:00:00`."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, dt.datetime):
        return cell.time()
    if isinstance(cell, dt.time):
        return cell
    if isinstance(cell, dt.timedelta):
        seconds = round(cell.total_seconds())
        if 0 <= seconds < 86400:
            return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    elif isinstance(cell, float | Decimal) and 0 <= cell < 1:
        seconds = round(float(cell) * 86400)
        if seconds < 86400:
            return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    elif isinstance(cell, str):
        # 7:30, 07:30:00, 7时30分, 7点30分15秒
        text = nfkc(cell).strip().replace("时", ":").replace("点", ":").replace("分", ":").replace("秒", "")
        match = _TIME.match(text)
        if match:
            hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
            if hour < 24 and minute < 60 and second < 60:
                return dt.time(hour, minute, second)
        # a full date and time in one cell: keep the time
        stamp = re.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T](\d{1,2}:\d{2}(?::\d{2})?)", nfkc(cell).strip())
        if stamp:
            return cell_time(stamp[1])
    raise CellError(f"不是有效时间：{cell!r}（可用 08:00）", f"not a valid time: {cell!r} (use 08:00)")


_EXEMPT = {"免税", "不征税", "免征", "免税项目", "***", "0%", "零税率"}


def cell_rate(cell: Cell) -> tuple[Decimal | None, tuple[str, str] | None]:
    """A tax rate → (fraction, note): `9%` → 0.09, 0.09 → 0.09, `免税` → 0.

    A bare number above 1 and at most 100 (`9`, `13`) is read as a percentage and comes back with
    a note saying so, because a rate of 900 % is never meant.
    """
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None, None
    if isinstance(cell, str):
        text = nfkc(cell).strip().replace(" ", "")
        if text in _EXEMPT:
            return Decimal(0), None
        if text.endswith("%"):
            return _percent(text_decimal(text[:-1])), None
    value = cell_decimal(cell)
    if value is None:
        return None, None
    if 1 < value <= 100:
        return _percent(value), (f"税率 {value} 按 {value}% 理解", f"tax rate {value} read as {value}%")
    return value, None


def _percent(value: Decimal) -> Decimal:
    result = value / 100
    return result.normalize() if result else Decimal(0)


def cell_text(cell: Cell) -> str | None:
    """Any cell → stripped text, or None when empty. Integral numbers lose their `.0`."""
    if cell is None:
        return None
    if isinstance(cell, str):
        text = cell.strip()
        return text or None
    if isinstance(cell, bool):
        return "是" if cell else "否"
    if isinstance(cell, float):
        return str(excel_decimal(cell))
    if isinstance(cell, int | Decimal):
        return str(cell)
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    return str(cell)


def cell_code(cell: Cell) -> str | None:
    """An identifier (ID number, bank card, invoice number) that may have been typed as a number.

    A number with more than 15 digits has lost its last digits in Excel (an 18-digit ID number
    becomes 1.10101199001011E+17); that is refused with a message saying to format the column as
    text, rather than guessed.
    """
    if isinstance(cell, float | int | Decimal) and not isinstance(cell, bool):
        number = Decimal(cell) if isinstance(cell, int) else cell_decimal(cell)
        assert number is not None
        if isinstance(cell, float) and abs(cell) >= 10**EXCEL_DIGITS:
            raise CellError(
                f"单元格是数字 {cell:.15g}，超过 15 位的数字已被 Excel 丢失；请把该列设为文本后重新导出",
                f"the cell is the number {cell:.15g}; Excel keeps only 15 digits, the rest are lost; "
                "format the column as text and export again",
            )
        if number == number.to_integral_value():
            return str(number.quantize(Decimal(1)))
        return str(number)
    text = cell_text(cell)
    return text.replace(" ", "") if text else None


_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "已登记", "已实名", "有"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘", "未登记", "未实名", "无"}


def cell_bool(cell: Cell) -> bool | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, bool):
        return cell
    text = cell_text(cell)
    key = nfkc(text or "").strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise CellError(f"应为 是/否：{cell!r}", f"expected yes/no (是/否): {cell!r}")


_PAREN = re.compile(r"[(\[【{]([^()\[\]【】{}]*)[)\]】}]")
_UNIT = re.compile(r"^(万元|千元|元|%|小时|h|天|日)$")


@lru_cache(maxsize=4096)
def header_key(text: str) -> str:
    """Normalise a header cell for alias matching: NFKC, no blanks, no required-marks, no brackets.

    Brackets holding only a unit are dropped (`金额（元）` → `金额`); other bracketed words are kept
    without the brackets (`金额(不含税)` → `金额不含税`).
    """
    text = nfkc(str(text)).strip()
    text = re.sub(r"\s+", "", text)
    text = text.strip("*＊※").replace("*", "")

    def bracket(match: re.Match[str]) -> str:
        inner = match[1].strip()
        return "" if _UNIT.match(inner) or not inner else inner

    text = _PAREN.sub(bracket, text)
    return text.rstrip(":：").lower()


def header_unit(text: str) -> str | None:
    """The money unit a header names in brackets: `金额（万元）` → `万元`."""
    for inner in _PAREN.findall(nfkc(str(text))):
        inner = inner.strip()
        if inner in ("万元", "千元", "元"):
            return inner
    return None

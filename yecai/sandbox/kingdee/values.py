"""Turning wire values into typed field values and back.

Clients send the same value many ways (`1000`, `"1000.00"`, `"true"`, `"2025-01-31"`,
`"2025-01-31 00:00:00"`); the server stores one typed value. Queries print dates as
`yyyy-MM-ddTHH:mm:ss` and amounts as exact numbers (WebAPI §6.6, §8).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from yecai.sandbox.kingdee.forms import Field

_DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y%m%d",
)
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def parse_datetime_text(text: str) -> datetime | None:
    """A date/time in any of the forms K/3 Cloud accepts; fractions of a second are dropped."""
    if type(text) is str:
        return _parse_datetime_cached(text)
    return _parse_datetime(text)


@lru_cache(maxsize=4096)
def _parse_datetime_cached(text: str) -> datetime | None:
    # strptime is slow and a nightly run's vouchers carry a few dozen distinct dates; datetimes
    # are immutable, so every caller may share one.
    return _parse_datetime(text)


def _parse_datetime(text: str) -> datetime | None:
    cleaned = text.strip()
    if "." in cleaned and ("T" in cleaned or ":" in cleaned):
        cleaned = cleaned.split(".", 1)[0]
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
    return None


def format_datetime(value: datetime) -> str:
    if type(value) is datetime and value.microsecond == 0 and value.tzinfo is None and value.year >= 1000:
        return value.isoformat()  # the same text, a few times faster than strftime
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def to_decimal(raw: Any) -> Decimal:
    """A finite Decimal from a JSON number or numeric string; ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("boolean is not a number")
    if isinstance(raw, Decimal):
        result = raw
    elif isinstance(raw, int):
        result = Decimal(raw)
    elif isinstance(raw, float):
        result = Decimal(repr(raw))
    elif isinstance(raw, str):
        stripped = raw.strip()
        if stripped == "":
            return Decimal(0)
        try:
            result = Decimal(stripped)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {raw!r}") from exc
    else:
        raise ValueError(f"not a number: {raw!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {raw!r}")
    return result


def to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | Decimal) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(f"not a boolean: {raw!r}")


def parse_scalar(field: Field, raw: Any) -> Any:
    """The typed value of a non-reference field; ValueError when `raw` does not fit the kind."""
    kind = field.kind
    if kind == "text":
        if raw is None:
            return ""
        if isinstance(raw, dict | list):
            raise ValueError("text expected")
        return raw if isinstance(raw, str) else _plain(raw)
    if kind == "int":
        if raw is None or raw == "":
            return 0
        number = to_decimal(raw)
        if number != number.to_integral_value():
            raise ValueError("integer expected")
        return int(number)
    if kind == "decimal":
        if raw is None:
            return Decimal(0)
        number = to_decimal(raw)
        return number.quantize(Decimal(1).scaleb(-field.scale)) if field.scale is not None else number
    if kind in ("date", "datetime"):
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            return None
        if not isinstance(raw, str):
            raise ValueError("date expected")
        parsed = parse_datetime_text(raw)
        if parsed is None:
            raise ValueError("date expected")
        return parsed.replace(hour=0, minute=0, second=0) if kind == "date" else parsed
    if kind == "bool":
        return False if raw is None else to_bool(raw)
    if kind == "status":
        value = "" if raw is None else str(raw).strip()
        if not field.values or value == "":
            return value.upper()
        declared = {v.upper(): v for v in field.values}
        if value.upper() not in declared:
            raise ValueError("unknown status")
        return declared[value.upper()]  # the metadata's spelling (BD_Supplier, not BD_SUPPLIER)
    raise ValueError(f"{kind} is not a scalar kind")


def _plain(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, Decimal):
        return format(raw, "f")
    return str(raw)


def default_value(field: Field) -> Any:
    """What a field holds when the Model does not mention it (dynamic defaults come later)."""
    if field.default is not None and not field.dynamic_default:
        return parse_scalar(field, field.default) if field.kind not in ("ref", "flex") else None
    return {
        "text": "",
        "int": 0,
        "decimal": Decimal(0),
        "bool": False,
        "status": "",
    }.get(field.kind)


def is_empty(field: Field, value: Any) -> bool:
    """Empty in the sense of a required-field check (0 and '' count as missing, like the server)."""
    if value is None:
        return True
    if field.kind == "text":
        return value.strip() == ""
    if field.kind in ("int", "decimal"):
        return value == 0
    if field.kind in ("ref", "status"):
        return value in (0, "")
    return False

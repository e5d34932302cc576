"""JSON with exact decimals for the whole code base: records, payloads, hashes and both sandboxes.

Money arrives as JSON numbers; parsing them as binary floats would silently change amounts, so
every JSON read in yecai uses `loads` (numbers with a fraction or exponent → Decimal; NaN and
Infinity refused) and every write uses `dumps`, which prints Decimals digit for digit as plain
JSON numbers and refuses floats. `dumps(canonical=True)` sorts keys so that equal content always
hashes the same (record content hash). Dates and times become ISO 8601 strings, dataclasses objects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become `Decimal`, never `float`."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def decimal_text(value: Decimal) -> str:
    """The JSON number for a finite Decimal, keeping its scale: Decimal('12345.60') → 12345.60.

    'f' never produces an exponent (Decimal('1E+3') → 1000), and negative zero prints as zero.
    """
    if not value.is_finite():
        raise ValueError(f"JSON has no number for {value}")
    if value.is_zero():
        value = abs(value)
    return format(value, "f")


@lru_cache(maxsize=65536)
def _string(text: str) -> str:
    # Names, units, accounts and suppliers repeat on thousands of rows; escape each once.
    return json.dumps(text, ensure_ascii=False)


@lru_cache(maxsize=256)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def _write_object(pairs: Any, canonical: bool, out: list[str]) -> None:
    if canonical:
        pairs = sorted(pairs, key=lambda pair: pair[0])
    out.append("{")
    first = True
    for key, item in pairs:
        if not first:
            out.append(",")
        first = False
        out.append(_string(key))
        out.append(":")
        _write(item, canonical, out)
    out.append("}")


def _write(value: Any, canonical: bool, out: list[str]) -> None:
    # Order matters: bool is an int, datetime is a date, a str-valued Enum is a str.
    if value is None:
        out.append("null")
    elif isinstance(value, str):
        out.append(_string(value.value if isinstance(value, Enum) else value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        out.append(decimal_text(value))
    elif isinstance(value, float):
        raise TypeError(f"binary float {value!r} in a payload; money and quantities must be Decimal")
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        out.append(f'"{value.isoformat()}"')
    elif isinstance(value, Mapping):
        _write_object(((str(key), item) for key, item in value.items()), canonical, out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, canonical, out)
        out.append("]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _field_names(type(value))
        _write_object(((name, getattr(value, name)) for name in names), canonical, out)
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any, *, canonical: bool = False) -> str:
    """Compact JSON text (Chinese unescaped); Decimals exact; floats refused; keys sorted if canonical."""
    out: list[str] = []
    _write(value, canonical, out)
    return "".join(out)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON form: the identity of one version of a record."""
    return hashlib.sha256(dumps(value, canonical=True).encode("utf-8")).hexdigest()

"""JSON with exact decimals for the whole code base: records, payloads, hashes and both sandboxes.

Money arrives as JSON numbers; parsing them as binary floats would silently change amounts, so
every JSON read in yecai uses `loads` (numbers with a fraction or exponent → Decimal; NaN and
Infinity refused) and every write uses `dumps`, which prints Decimals digit for digit as plain
JSON numbers and refuses floats. `dumps(canonical=True)` sorts keys so that equal content always
hashes the same (record content hash). Dates and times become ISO 8601 strings, dataclasses objects.
Bodies from outside (webhooks) go through `loads_untrusted`, which bounds the nesting depth before
parsing and refuses lone UTF-16 surrogates that no database or UTF-8 encoder can store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from itertools import accumulate
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become `Decimal`, never `float`."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


class UntrustedJSONError(ValueError):
    """Well-formed or not, JSON that yecai refuses to take in; carries a bilingual message."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


# A JSON string literal (escapes included), unrolled so that long strings never backtrack.
_STRING_LITERAL = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, brackets inside strings not counted.

    Counted on the text, before parsing: the standard parser recurses once per level and dies
    with a RecursionError on a body of 100,000 "[" — it must never see such a body.
    """
    skeleton = _STRING_LITERAL.sub("", text)
    steps = (1 if bracket in "[{" else -1 for bracket in _BRACKET.findall(skeleton))
    return max(accumulate(steps), default=0)


def _lone_surrogate(value: Any) -> bool:
    # Iterative on purpose: the value may be as deep as the depth limit allows.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_untrusted(data: str | bytes, *, max_depth: int) -> Any:
    """`loads` for a body from outside: nesting bounded, lone surrogates refused.

    Raises `UntrustedJSONError` for a body it refuses on these grounds, `ValueError` for one that
    is not JSON at all (as `loads` does).
    """
    # The decoding json.loads itself applies to bytes (UTF-8/16/32 detected); surrogates kept
    # here so that the check below finds them, whichever way they arrived.
    text = data.decode(json.detect_encoding(data), "surrogatepass") if isinstance(data, bytes) else data
    depth = nesting_depth(text)
    if depth > max_depth:
        raise UntrustedJSONError(
            f"JSON 嵌套过深（{depth} 层，上限 {max_depth} 层）",
            f"JSON nests too deep ({depth} levels, the limit is {max_depth})",
        )
    value = loads(text)
    if _lone_surrogate(value):
        raise UntrustedJSONError(
            "JSON 含有不成对的 UTF-16 代理字符（如 \\ud800），无法作为文本存储",
            "JSON holds an unpaired UTF-16 surrogate (such as \\ud800), which cannot be stored as text",
        )
    return value


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
    # Names, units, accounts and suppliers repeat on thousands of rows; escape each once. The
    # escaper json.dumps(text, ensure_ascii=False) ends in, without building an encoder per call.
    return encode_basestring(text)


@lru_cache(maxsize=256)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


@lru_cache(maxsize=65536)
def _key(text: str) -> str:
    # A key with its colon, escaped once: the same few dozen keys open every object.
    return encode_basestring(text) + ":"


_first = itemgetter(0)
Writer = Callable[[Any, bool, list[str]], None]


class RawJSON(str):
    """JSON text `dumps` wrote before (a posting's stored payload): written into a larger document
    as it is, not parsed and written again.

    A BatchSave of 50 stored vouchers parsed each payload into dicts of Decimals only to write the
    same text back into the request: that round trip was a sending worker's largest single cost
    (issue 15). Only for documents sent, never for canonical text (hashes sort keys; raw text keeps
    its own order).
    """

    __slots__ = ()


def _write_raw(value: RawJSON, canonical: bool, out: list[str]) -> None:
    if canonical:
        raise TypeError("raw JSON text has no canonical form; parse it first")
    out.append(value)


def _write_object(pairs: Any, canonical: bool, out: list[str]) -> None:
    """`pairs` are (str key, value); sorted by key alone (stable) when canonical."""
    if canonical:
        pairs = sorted(pairs, key=_first)
    opening = "{"
    for key, item in pairs:
        out.append(opening)
        opening = ","
        out.append(_key(key))
        writer = _EXACT.get(type(item))
        if writer is None:
            _write(item, canonical, out)
        else:
            writer(item, canonical, out)
    out.append("}" if opening == "," else "{}")


def _write_dict(value: dict[Any, Any], canonical: bool, out: list[str]) -> None:
    pairs: Any = value.items()
    for key in value:
        if type(key) is not str:
            pairs = [(str(key), item) for key, item in value.items()]
            break
    _write_object(pairs, canonical, out)


def _write_array(value: list[Any] | tuple[Any, ...], canonical: bool, out: list[str]) -> None:
    opening = "["
    for item in value:
        out.append(opening)
        opening = ","
        writer = _EXACT.get(type(item))
        if writer is None:
            _write(item, canonical, out)
        else:
            writer(item, canonical, out)
    out.append("]" if opening == "," else "[]")


# Writers by exact type: the types payloads and records are made of take one dict lookup instead
# of the isinstance chain below (subclasses — Enums, OrderedDicts, IntEnums — still take the chain,
# so the text is the same either way).
_EXACT: dict[type, Writer] = {
    str: lambda value, _canonical, out: out.append(_string(value)),
    dict: _write_dict,
    list: _write_array,
    tuple: _write_array,
    Decimal: lambda value, _canonical, out: out.append(decimal_text(value)),
    int: lambda value, _canonical, out: out.append(str(value)),
    bool: lambda value, _canonical, out: out.append("true" if value else "false"),
    type(None): lambda _value, _canonical, out: out.append("null"),
    RawJSON: _write_raw,
}


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
        _write_object([(str(key), item) for key, item in value.items()], canonical, out)
    elif isinstance(value, list | tuple):
        _write_array(value, canonical, out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _field_names(type(value))
        _write_object([(name, getattr(value, name)) for name in names], canonical, out)
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any, *, canonical: bool = False) -> str:
    """Compact JSON text (Chinese unescaped); Decimals exact; floats refused; keys sorted if canonical."""
    out: list[str] = []
    writer = _EXACT.get(type(value))
    if writer is None:
        _write(value, canonical, out)
    else:
        writer(value, canonical, out)
    return "".join(out)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON form: the identity of one version of a record."""
    return hashlib.sha256(dumps(value, canonical=True).encode("utf-8")).hexdigest()

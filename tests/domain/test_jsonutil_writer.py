"""`jsonutil.dumps` writes exactly the text it always wrote, only faster (issue 15).

Record content hashes are SHA-256 of the canonical text, so one byte more or less would make every
stored record look changed. The writer dispatches on exact types first; this compares it, on
random values of every kind it takes, with the plain isinstance chain it replaced (kept here as
the reference).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai import jsonutil


def _reference(value: Any, canonical: bool) -> str:
    """The writer as it was before issue 15: one isinstance chain for every value."""
    out: list[str] = []

    def write_object(pairs: Any) -> None:
        if canonical:
            pairs = sorted(pairs, key=lambda pair: pair[0])
        out.append("{")
        first = True
        for key, item in pairs:
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            write(item)
        out.append("}")

    def write(value: Any) -> None:
        if value is None:
            out.append("null")
        elif isinstance(value, str):
            out.append(json.dumps(value.value if isinstance(value, Enum) else value, ensure_ascii=False))
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, int):
            out.append(str(int(value)))
        elif isinstance(value, Decimal):
            out.append(jsonutil.decimal_text(value))
        elif isinstance(value, float):
            raise TypeError("float")
        elif isinstance(value, dt.datetime | dt.date | dt.time):
            out.append(f'"{value.isoformat()}"')
        elif isinstance(value, Mapping):
            write_object((str(key), item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            out.append("[")
            for index, item in enumerate(value):
                if index:
                    out.append(",")
                write(item)
            out.append("]")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            write_object((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        else:
            raise TypeError(type(value).__name__)

    write(value)
    return "".join(out)


class Kind(str, Enum):  # noqa: UP042 - the str mixin, whose str() is not its value, on purpose
    LABOR = "labor"
    MATERIAL = "材料"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Line:
    account: str
    amount: Decimal
    tags: tuple[str, ...]


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from([Kind.LABOR, Kind.MATERIAL, Level.LOW, Level.HIGH])
    | st.dates()
    | st.datetimes()
    | st.builds(
        Line,
        st.text(max_size=6),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.tuples(st.text(max_size=3)),
    )
)
keys = st.text(max_size=6) | st.integers(-5, 5) | st.sampled_from([Kind.LABOR, Level.HIGH, True, None])
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.dictionaries(keys, children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=3).map(OrderedDict)
    ),
    max_leaves=25,
)
# What a stored payload is written from: the planner's documents, whose keys are always text. Mixed
# keys such as 5 and "5" would write one key twice, which parsing folds into one.
payload_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=3).map(OrderedDict)
    ),
    max_leaves=25,
)


@settings(max_examples=400)
@given(values, st.booleans())
def test_the_text_is_the_text_it_always_was(value: Any, canonical: bool) -> None:
    assert jsonutil.dumps(value, canonical=canonical) == _reference(value, canonical)


def test_a_voucher_payload_and_its_hash_are_unchanged() -> None:
    entry = {
        "FEXPLANATION": "人工费 宏达劳务",
        "FACCOUNTID": {"FNumber": "5401.01"},
        "FDEBIT": Decimal("1234.50"),
        "FCREDIT": Decimal("-0.00"),
        "FDetailID": {"FDETAILID__FFLEX9": {"FNumber": "XM001"}},
    }
    payload = {"FDate": dt.date(2026, 10, 31), "FEntity": [entry, {}], "FNotes": [], "FKind": Kind.LABOR}
    for canonical in (False, True):
        assert jsonutil.dumps(payload, canonical=canonical) == _reference(payload, canonical)
    assert (jsonutil.dumps({}), jsonutil.dumps([]), jsonutil.dumps(())) == ("{}", "[]", "[]")


@pytest.mark.parametrize("value", [0.1, [1, 0.5], {"a": {"b": 2.0}}, (Decimal(1), 1e3)])
def test_binary_floats_are_still_refused_anywhere(value: Any) -> None:
    with pytest.raises(TypeError, match="binary float"):
        jsonutil.dumps(value)


@settings(max_examples=300)
@given(st.lists(payload_values, max_size=5))
def test_stored_text_inside_a_document_writes_as_the_parsed_value_would(models: list[Any]) -> None:
    """A sender puts stored payloads into a BatchSave as they are (`RawJSON`): the request is the
    text that parsing each payload and writing it again gave, byte for byte."""
    stored = [jsonutil.dumps(model) for model in models]
    parsed = {
        "formid": "GL_VOUCHER",
        "data": {"IsDeleteEntry": True, "Model": [jsonutil.loads(t) for t in stored]},
    }
    raw = {
        "formid": "GL_VOUCHER",
        "data": {"IsDeleteEntry": True, "Model": [jsonutil.RawJSON(t) for t in stored]},
    }
    assert jsonutil.dumps(raw) == jsonutil.dumps(parsed)


def test_raw_text_has_no_canonical_form() -> None:
    with pytest.raises(TypeError):
        jsonutil.dumps({"Model": [jsonutil.RawJSON('{"b":1,"a":2}')]}, canonical=True)

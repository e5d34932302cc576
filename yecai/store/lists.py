"""A condition "column is one of these values" that stays cheap for thousands of values.

On PostgreSQL the values go as one array parameter (`column = ANY(:values)`): an `IN` list of a
thousand placeholders is a statement psycopg parses in Python on every call and PostgreSQL plans
anew (issue 15). Elsewhere (SQLite) a plain `IN`, which binds them natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, BigInteger, ColumnElement, String, any_, bindparam
from sqlalchemy.orm import Session


def one_of(session: Session, column: Any, values: Sequence[int] | Sequence[str]) -> ColumnElement[bool]:
    """`column IN values` for this session's database: ids (int) or keys (str)."""
    if not values or session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    element = BigInteger() if isinstance(values[0], int) else String()
    return column == any_(bindparam(None, list(values), type_=ARRAY(element)))

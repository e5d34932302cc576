"""Small store helpers the job services share: UTC time and an insert that yields to an existing row.

Every race between schedulers, workers and the command line is settled in the database: a row is
created with INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL both have it) and changed with
compare-and-set UPDATEs whose row count says who won. No SELECT … FOR UPDATE, no savepoints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC; SQLite hands back naive values that were written as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def to_store(value: dt.datetime) -> dt.datetime:
    """What to write: UTC (SQLite keeps the wall time it is given and drops the zone)."""
    converted = as_utc(value)
    assert converted is not None
    return converted


def insert_ignore(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """Insert a row unless one with the same key exists; True when this call inserted it."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(model).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(model).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT through the ORM.
    key = next(iter(inspect(model).primary_key))
    return session.execute(statement.returning(key)).first() is not None

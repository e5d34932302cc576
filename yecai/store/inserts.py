"""An insert that yields to an existing row: how every race in the store is settled.

Every race between schedulers, workers and the command line is settled in the database: a row is
created with INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL both have it) and changed with
compare-and-set UPDATEs whose row count says who won. No SELECT … FOR UPDATE, no savepoints.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


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


def insert_many_ignore(
    session: Session, model: type[Any], rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> list[Any]:
    """Insert many rows in one statement per batch (Core executemany, no unit of work), each
    yielding to an existing row with the same key; the `returning` columns of the rows inserted.

    What the store's hot paths (planning) use instead of adding ORM objects one by one: the ORM
    builds and tracks an object per row, which cost more than the database's own work (issue 15).
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    table = inspect(model).local_table
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    statement = statement.returning(*(table.c[name] for name in returning))
    return list(session.execute(statement, rows))

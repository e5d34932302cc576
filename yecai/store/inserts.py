"""Inserts that yield to an existing row, and bulk inserts: how the store writes many rows at once.

Every race between schedulers, workers and the command line is settled in the database: a row is
created with INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL both have it) and changed with
compare-and-set UPDATEs whose row count says who won. No SELECT … FOR UPDATE, no savepoints.

Bulk rows go to PostgreSQL by COPY: a multi-row INSERT of thousands of rows is a statement of tens
of thousands of placeholders that psycopg parses in Python on every call (too long for its cache),
which cost planning more than the database's own work (issue 15).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

_UNSET = object()
# Names of the temporary tables `insert_many_ignore` copies into (one per call, dropped at commit).
_STAGING_NAMES = itertools.count(1)


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
    """Insert many rows (Core, no unit of work), each yielding to an existing row with the same key;
    the `returning` columns of the rows inserted.

    What the store's hot paths (planning) use instead of adding ORM objects one by one: the ORM
    builds and tracks an object per row, which cost more than the database's own work (issue 15).
    On PostgreSQL the rows are copied into a temporary table and inserted from it in their order by
    one INSERT … SELECT … ON CONFLICT DO NOTHING; on SQLite one executemany.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    table = inspect(model).local_table
    if dialect == "postgresql":
        return _copy_ignore(session, table, rows, returning)
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    statement = statement.returning(*(table.c[name] for name in returning))
    return list(session.execute(statement, rows))


def _copy_ignore(
    session: Session, table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> list[Any]:
    """PostgreSQL: COPY the rows into a temporary table, then insert them from it in order.

    Columns the rows leave out get what an INSERT would give them: a Python-side default (one
    value per call, as `default=utc_now` stamps), else the table's own server default or sequence.
    """
    given = list(rows[0])
    if any(len(row) != len(given) or any(name not in row for name in given) for row in rows):
        raise ValueError("insert_many_ignore: every row must give the same columns")
    extra: list[tuple[str, Any]] = []
    for column in table.columns:
        default = column.default
        if column.name in given or default is None or column.primary_key:
            continue
        if getattr(default, "is_scalar", False):
            extra.append((column.name, default.arg))  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            extra.append((column.name, default.arg(None)))  # type: ignore[attr-defined]
    columns = [*given, *(name for name, _ in extra)]
    tail = tuple(value for _, value in extra)
    values = [(*(row[name] for name in given), *tail, order) for order, row in enumerate(rows)]
    staging = f"yecai_insert_{next(_STAGING_NAMES)}"
    names = ", ".join(f'"{name}"' for name in columns)
    connection = session.connection()
    connection.exec_driver_sql(
        f'CREATE TEMPORARY TABLE "{staging}" ON COMMIT DROP AS '
        f'SELECT {names}, 0::bigint AS "yecai_order" FROM "{table.name}" WITH NO DATA'
    )
    copy_rows(session, table, (*columns, "yecai_order"), values, into=staging)
    wanted = ", ".join(f'"{name}"' for name in returning)
    inserted = connection.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{staging}" '
        f'ORDER BY "yecai_order" ON CONFLICT DO NOTHING RETURNING {wanted}'
    ).all()
    connection.exec_driver_sql(f'DROP TABLE "{staging}"')
    return inserted


def copy_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    into: str | None = None,
) -> None:
    """PostgreSQL's COPY … FROM STDIN in the session's transaction: one stream, no statement per row.

    `table` gives the columns' types; the rows go into it, or into the table named `into` (a
    temporary copy of its columns). A column not in `table` (an ordinal of `into`) is taken as is.
    """
    connection = session.connection()
    # JSON columns as an INSERT stores them: the dialect's serializer, None as JSON null
    serialize = connection.dialect._json_serializer or json.dumps  # type: ignore[attr-defined]
    as_json = [
        index
        for index, name in enumerate(columns)
        if name in table.c and isinstance(table.c[name].type, JSON) and not table.c[name].type.none_as_null
    ]
    driver = connection.connection.driver_connection
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{into or table.name}" ({names}) FROM STDIN'
    dbapi = connection.dialect.loaded_dbapi
    if as_json:
        rows = bind_columns(rows, [(index, serialize) for index in as_json])
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except dbapi.Error as exc:
        # the driver's error as SQLAlchemy raises it for an INSERT (a unique violation is an
        # IntegrityError): callers settle races by that type whatever way the rows went in
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def bind_columns(
    rows: Sequence[tuple[Any, ...]], processors: Sequence[tuple[int, Callable[[Any], Any]]]
) -> Sequence[tuple[Any, ...]]:
    """The rows with each processed column's values passed through its processor.

    Column by column (the rows turned into columns and back, in C): a chunk's rows share most
    bound values (the chunk's stamp, empty JSON), so each column remembers the last value it
    bound, by identity.
    """
    if not rows:
        return rows
    by_column: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, processor in processors:
        seen: Any = _UNSET
        done: Any = None
        out: list[Any] = []
        append = out.append
        for value in by_column[index]:
            if value is not seen:
                seen, done = value, processor(value)
            append(done)
        by_column[index] = out
    return list(zip(*by_column, strict=True))

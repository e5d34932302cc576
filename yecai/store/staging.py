"""One staging function for every way in: records, the documents they validate into, the cursor.

REST pulls, webhooks and file imports all write `records` through `stage_records` and `documents`
through `store_documents`, so a document's query columns (`document_columns`) are computed in one
place whatever the way in. Deciding *which* rows are new stays with the caller (each way in has
its own duplicate rules, all measured against a key's *latest* version: `stored_versions` lists
them oldest first); this module numbers each key's revisions and writes, in the caller's
transaction, so a cursor saved beside the records moves with them (invariant 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from yecai.domain.documents import Project
from yecai.store.inserts import bind_columns, copy_rows
from yecai.store.lists import one_of
from yecai.store.tables import Document, Record, StreamState

# Keeps each IN (…) list well under every driver's parameter limit.
QUERY_CHUNK = 500
# PostgreSQL takes the keys as one array parameter: no limit but the statement's size
PG_KEY_CHUNK = 10_000

# Date that places a document in time, by document kind (what reports and periods look at): the
# first of these fields the document has and fills.
DATE_FIELDS = (
    "business_date",
    "work_date",
    "issue_date",
    "request_date",
    "report_date",
    "signed_date",
    "as_of",  # an opening balance: its go-live day
)


class NewRecord(NamedTuple):
    """One record a way in has decided to store (the caller checked it is not stored yet).

    A named tuple, not a frozen dataclass: a file import makes one per row, and a tuple is built
    in half the time.
    """

    source_key: str
    content_hash: str
    payload: str  # canonical JSON text, exactly what was received
    cursor_value: str | None = None
    status: str = "staged"  # a file row arrives validated: valid | invalid
    issues: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class StoredVersion:
    """A stored record of a source key: what duplicate checks compare against."""

    id: int
    key: str
    content_hash: str
    status: str
    run_id: int | None
    revision: int = 1


class NewDocument(NamedTuple):
    """One document version to store; `document` None with `deleted` True is a tombstone (a named
    tuple, like `NewRecord`: one per imported row)."""

    record_id: int
    source_key: str
    data: str  # canonical JSON text of the document
    document: BaseModel | None = None
    deleted: bool = False
    # (project_code, business_date, category, amount) when the caller has them (`document_columns`)
    columns: tuple[str | None, dt.date | None, str | None, Decimal | None] | None = None


def chunks(values: Sequence[str], size: int = QUERY_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def repeat_version(content_hash: str, revision: int) -> str:
    """The document version of a record whose content its key held before (a value changed back).

    Its hash alone would name the older document version again, and so the older posting key:
    the revision makes it a version of its own. Fits the 64 characters of a version column.
    """
    return f"{content_hash[:48]}~r{revision}"


# PostgreSQL: each key of the chunk looked up on its own through the unique index
# (connection, stream, source_key, revision). An `IN (…)` list of 500 keys leaves the plan to the
# statistics, and before the first ANALYZE of a fresh table the planner took an index on
# (connection, stream) and filtered source_key row by row: quadratic in the rows imported. The
# LATERAL subquery runs once per key; `OFFSET 0` keeps the planner from flattening it into a hash
# join over the whole stream (the same scan of every stored row, once per chunk).
_PG_VERSIONS = text(
    """
    SELECT r.id, r.source_key, r.content_hash, r.status, r.run_id, r.revision
    FROM unnest(CAST(:keys AS text[])) AS wanted(key)
    CROSS JOIN LATERAL (
        SELECT id, source_key, content_hash, status, run_id, revision
        FROM records
        WHERE connection = :connection AND stream = :stream AND source_key = wanted.key
        OFFSET 0
    ) AS r
    ORDER BY r.source_key, r.revision
    """
)


def versions_query(
    session: Session, *, connection: str, stream: str, keys: Sequence[str]
) -> tuple[Any, dict[str, Any]]:
    """The statement and parameters `stored_versions` runs for one part of the keys (EXPLAINed by tests)."""
    if _dialect(session) == "postgresql":
        # each key once: a key given twice would list its versions twice
        return _PG_VERSIONS, {"keys": list(dict.fromkeys(keys)), "connection": connection, "stream": stream}
    query = (
        select(
            Record.id,
            Record.source_key,
            Record.content_hash,
            Record.status,
            Record.run_id,
            Record.revision,
        )
        .where(
            Record.connection == connection,
            Record.stream == stream,
            Record.source_key.in_(keys),
        )
        .order_by(Record.source_key, Record.revision)
    )
    return query, {}


def stored_versions(
    session: Session, *, connection: str, stream: str, keys: Sequence[str]
) -> dict[str, list[StoredVersion]]:
    """Every stored record of these source keys in the stream, by key, oldest revision first.

    The last of each list is the key's latest version: what a new delivery is compared with.
    """
    found: dict[str, list[StoredVersion]] = {}
    for part in chunks(keys, PG_KEY_CHUNK if _dialect(session) == "postgresql" else QUERY_CHUNK):
        statement, params = versions_query(session, connection=connection, stream=stream, keys=part)
        for row in session.execute(statement, params):
            found.setdefault(row.source_key, []).append(StoredVersion(*row))
    return found


_PG_HISTORY = text(
    """
    SELECT r.source_key, r.content_hash, max(r.revision)
    FROM unnest(CAST(:keys AS text[])) AS wanted(key)
    CROSS JOIN LATERAL (
        SELECT source_key, content_hash, revision
        FROM records
        WHERE connection = :connection AND stream = :stream AND source_key = wanted.key
        OFFSET 0
    ) AS r
    GROUP BY r.source_key, r.content_hash
    """
)


def _history(
    session: Session, connection: str, stream: str, keys: Sequence[str]
) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Per key: its highest stored revision and every content hash it has held."""
    revisions: dict[str, int] = {}
    hashes: dict[str, set[str]] = {}
    postgres = _dialect(session) == "postgresql"
    for part in chunks(keys, PG_KEY_CHUNK if postgres else QUERY_CHUNK):
        if postgres:
            rows = session.execute(
                _PG_HISTORY, {"keys": list(part), "connection": connection, "stream": stream}
            )
        else:
            rows = session.execute(
                select(Record.source_key, Record.content_hash, func.max(Record.revision))
                .where(Record.connection == connection, Record.stream == stream, Record.source_key.in_(part))
                .group_by(Record.source_key, Record.content_hash)
            )
        for key, digest, revision in rows:
            revisions[key] = max(revisions.get(key, 0), revision)
            hashes.setdefault(key, set()).add(digest)
    return revisions, hashes


def stage_records(
    session: Session,
    *,
    connection: str,
    stream: str,
    records: Sequence[NewRecord],
    run_id: int | None = None,
    history: Mapping[str, Sequence[StoredVersion]] | None = None,
    versions: dict[int, str] | None = None,
) -> list[int]:
    """Insert `records` in the caller's transaction; their ids, in the order given.

    Each record becomes its key's next revision (several records of one key, in the order given);
    a writer that stages the same key at the same moment fails on the revision's unique
    constraint, and its caller decides again against the new latest version. `history` is what
    the caller decided against (`stored_versions`, an empty list for a key it found none of): the
    revisions follow from that very read, never from a later one that might already see the other
    writer's row (PostgreSQL's READ COMMITTED gives each statement a fresh view). Core inserts on the
    table (not ORM objects), ids allocated up front (`_insert_numbered`): COPY on PostgreSQL, one
    `executemany` on SQLite, so a chunk of thousands of file rows costs no statement per row.
    `versions`, if given, receives each new record's document version (id → version): what
    `store_documents` would otherwise read back.
    """
    if not records:
        return []
    now = dt.datetime.now(dt.UTC)
    decided = history or {}
    unread = sorted({r.source_key for r in records} - decided.keys())
    revisions, hashes = _history(session, connection, stream, unread)
    for key, stored in decided.items():
        if stored:  # a key found nowhere starts at revision 1 with no hashes (below)
            revisions[key] = max(v.revision for v in stored)
            hashes[key] = {v.content_hash for v in stored}
    params = []
    for record in records:
        revision = revisions[record.source_key] = revisions.get(record.source_key, 0) + 1
        held = hashes.setdefault(record.source_key, set())
        repeated = record.content_hash in held
        held.add(record.content_hash)
        version = repeat_version(record.content_hash, revision) if repeated else None
        params.append(
            (
                connection,
                stream,
                record.source_key,
                record.content_hash,
                revision,
                version,
                record.payload,
                record.cursor_value,
                record.status,
                record.issues,
                run_id,
                now,
            )
        )
    ids = _insert_numbered(session, Record.__table__, _RECORD_COLUMNS, params)
    if versions is not None:
        for record_id, row in zip(ids, params, strict=True):
            versions[record_id] = row[5] or row[3]
    return ids


# the columns `stage_records` writes, in the order of its rows (the id is put in front)
_RECORD_COLUMNS = (
    "connection",
    "stream",
    "source_key",
    "content_hash",
    "revision",
    "version",
    "payload",
    "cursor_value",
    "status",
    "issues",
    "run_id",
    "received_at",
)
_DOCUMENT_COLUMNS = (
    "record_id",
    "connection",
    "kind",
    "source_key",
    "version",
    "deleted",
    "data",
    "created_at",
    "project_code",
    "business_date",
    "category",
    "amount",
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert_many(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Rows of `columns` into `table`: COPY on PostgreSQL, one `executemany` elsewhere."""
    if not rows:
        return
    if _dialect(session) == "postgresql":
        copy_rows(session, table, columns, rows)
        return
    if _dialect(session) == "sqlite":
        _sqlite_many(session, table, columns, rows)
        return
    statement = insert(table)  # pragma: no cover - the store runs on SQLite and PostgreSQL only
    session.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


def _sqlite_many(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """SQLite: one `executemany` of positional rows, each value bound as an INSERT binds it.

    The columns' own bind processors (dates and stamps as SQLite text, JSON serialised, numbers)
    run on each value, as for `insert(table)`; what is skipped is SQLAlchemy compiling a dict per
    row, most of the cost of a chunk of thousands of rows. Every column is given (no defaults).
    """
    connection = session.connection()
    dialect = connection.dialect
    processors = [
        (index, processor)
        for index, name in enumerate(columns)
        if (processor := table.c[name].type._cached_bind_processor(dialect)) is not None
    ]
    if processors:
        rows = bind_columns(rows, processors)
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', list(rows))


def _insert_numbered(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[int]:
    """Insert rows and return their ids in order, ids allocated up front rather than RETURNed per row.

    PostgreSQL hands out a block from the table's sequence (safe with any number of writers) and
    the rows go in by COPY. SQLite inserts the first row alone (RETURNING its id): from then on the
    transaction holds SQLite's one write lock, so the ids after it are free (SQLite numbers a row
    past the highest id) and the rest go in with one `executemany`.
    """
    if not rows:
        return []
    dialect = _dialect(session)
    if dialect == "postgresql":
        ids = list(
            session.scalars(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(rows)},
            ).all()  # fetched at once, not a row at a time
        )
        copy_rows(session, table, ("id", *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)])
        return ids
    first = session.scalar(insert(table).returning(table.c.id), dict(zip(columns, rows[0], strict=True)))
    assert first is not None  # an insert returns its row
    if dialect != "sqlite":  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        rest = session.scalars(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [dict(zip(columns, row, strict=True)) for row in rows[1:]],
        )
        return [first, *rest]
    ids = list(range(first, first + len(rows)))
    if len(rows) > 1:
        _sqlite_many(
            session, table, ("id", *columns), [(i, *row) for i, row in zip(ids[1:], rows[1:], strict=True)]
        )
    return ids


_QUERY_COLUMNS = ("project_code", "business_date", "category", "amount")


@lru_cache(maxsize=256)
def _date_fields(kind: type[BaseModel]) -> tuple[str, ...]:
    """The `DATE_FIELDS` a document of this class can have (a field, or anything else its class
    defines): the others read as None on every document but one that allows extra fields."""
    fields = getattr(kind, "model_fields", None)
    if not isinstance(fields, dict) or kind.model_config.get("extra") == "allow":  # type: ignore[attr-defined]
        return DATE_FIELDS
    return tuple(name for name in DATE_FIELDS if name in fields or hasattr(kind, name))


def document_columns(document: BaseModel) -> dict[str, Any]:
    """The indexed columns of a document row: project, date, category and amount when it has them.

    A Project is its own project (its `code`); every other document names its `project_code`.
    """
    project = document.code if isinstance(document, Project) else getattr(document, "project_code", None)
    date = None
    for name in _date_fields(type(document)):
        if (date := getattr(document, name, None)) is not None:
            break
    category = getattr(document, "category", None)
    amount = getattr(document, "amount", None)
    return {
        "project_code": project,
        "business_date": date,
        "category": category.value if category is not None else None,
        # money columns hold Decimals only; a field named amount of another type is not money
        "amount": amount if isinstance(amount, Decimal) else None,
    }


def store_documents(
    session: Session,
    *,
    connection: str,
    kind: str,
    documents: Sequence[NewDocument],
    versions: Mapping[int, str] | None = None,
) -> None:
    """Insert document versions of one kind in the caller's transaction.

    A document's version is its record's (`records.version`, else its content hash), looked up
    here so that no way in can label a value that changed back with an older version; `versions`
    are those `stage_records` just wrote (id → version), not read back. A document may carry its
    query columns already computed (`NewDocument.columns`).
    """
    if not documents:
        return
    now = dt.datetime.now(dt.UTC)
    known = versions or {}
    versions = dict(known)
    ids = sorted({item.record_id for item in documents} - known.keys())
    for start in range(0, len(ids), QUERY_CHUNK):
        for record_id, digest, version in session.execute(
            select(Record.id, Record.content_hash, Record.version).where(
                one_of(session, Record.id, ids[start : start + QUERY_CHUNK])
            )
        ):
            versions[record_id] = version or digest
    rows = []
    for item in documents:
        if item.columns is not None:
            columns = item.columns
        elif item.document is not None:
            found = document_columns(item.document)
            columns = tuple(found[name] for name in _QUERY_COLUMNS)  # type: ignore[assignment]
        else:
            columns = (None, None, None, None)
        rows.append(
            (
                item.record_id,
                connection,
                kind,
                item.source_key,
                versions[item.record_id],
                item.deleted,
                item.data,
                now,
                *columns,
            )
        )
    # COPY on PostgreSQL, one positional executemany on SQLite
    _insert_many(session, Document.__table__, _DOCUMENT_COLUMNS, rows)


def stored_cursor(session: Session, connection: str, stream: str) -> str | None:
    """The stream's saved cursor (`stream` is the state key: a partition has its own)."""
    state = session.get(StreamState, (connection, stream))
    return state.cursor if state else None


def save_cursor(session: Session, connection: str, stream: str, cursor: str) -> None:
    """Store the cursor in the caller's transaction: the one that stores the records it covers.

    Whether it moves forward is the sources framework's decision (`yecai.sources.state`).
    """
    state = session.get(StreamState, (connection, stream))
    if state is None:
        session.add(StreamState(connection=connection, stream=stream, cursor=cursor))
    elif state.cursor != cursor:
        state.cursor = cursor

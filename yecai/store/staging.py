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
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from yecai.domain.documents import Project
from yecai.store.tables import Document, Record, StreamState

# Keeps each IN (…) list well under every driver's parameter limit.
QUERY_CHUNK = 500

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


@dataclass(frozen=True, slots=True)
class NewRecord:
    """One record a way in has decided to store (the caller checked it is not stored yet)."""

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


@dataclass(frozen=True, slots=True)
class NewDocument:
    """One document version to store; `document` None with `deleted` True is a tombstone."""

    record_id: int
    source_key: str
    data: str  # canonical JSON text of the document
    document: BaseModel | None = None
    deleted: bool = False


def chunks(values: Sequence[str], size: int = QUERY_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def repeat_version(content_hash: str, revision: int) -> str:
    """The document version of a record whose content its key held before (a value changed back).

    Its hash alone would name the older document version again, and so the older posting key:
    the revision makes it a version of its own. Fits the 64 characters of a version column.
    """
    return f"{content_hash[:48]}~r{revision}"


def stored_versions(
    session: Session, *, connection: str, stream: str, keys: Sequence[str]
) -> dict[str, list[StoredVersion]]:
    """Every stored record of these source keys in the stream, by key, oldest revision first.

    The last of each list is the key's latest version: what a new delivery is compared with.
    """
    found: dict[str, list[StoredVersion]] = {}
    for part in chunks(keys):
        for row in session.execute(
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
                Record.source_key.in_(part),
            )
            .order_by(Record.source_key, Record.revision)
        ):
            found.setdefault(row.source_key, []).append(StoredVersion(*row))
    return found


def _history(
    session: Session, connection: str, stream: str, keys: Sequence[str]
) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Per key: its highest stored revision and every content hash it has held."""
    revisions: dict[str, int] = {}
    hashes: dict[str, set[str]] = {}
    for part in chunks(keys):
        for key, digest, revision in session.execute(
            select(Record.source_key, Record.content_hash, func.max(Record.revision))
            .where(Record.connection == connection, Record.stream == stream, Record.source_key.in_(part))
            .group_by(Record.source_key, Record.content_hash)
        ):
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
) -> list[int]:
    """Insert `records` in the caller's transaction; their ids, in the order given.

    Each record becomes its key's next revision (several records of one key, in the order given);
    a writer that stages the same key at the same moment fails on the revision's unique
    constraint, and its caller decides again against the new latest version. `history` is what
    the caller decided against (`stored_versions`, an empty list for a key it found none of): the
    revisions follow from that very read, never from a later one that might already see the other
    writer's row (PostgreSQL's READ COMMITTED gives each statement a fresh view). Core inserts on the
    table (not ORM objects): thousands of file rows per chunk cost no object bookkeeping, and the
    ids come back in parameter order on SQLite and PostgreSQL alike.
    """
    if not records:
        return []
    now = dt.datetime.now(dt.UTC)
    decided = history or {}
    unread = sorted({r.source_key for r in records} - decided.keys())
    revisions, hashes = _history(session, connection, stream, unread)
    for key, versions in decided.items():
        revisions[key] = max((v.revision for v in versions), default=0)
        hashes[key] = {v.content_hash for v in versions}
    params = []
    for record in records:
        revision = revisions[record.source_key] = revisions.get(record.source_key, 0) + 1
        held = hashes.setdefault(record.source_key, set())
        repeated = record.content_hash in held
        held.add(record.content_hash)
        params.append(
            {
                "connection": connection,
                "stream": stream,
                "source_key": record.source_key,
                "content_hash": record.content_hash,
                "revision": revision,
                "version": repeat_version(record.content_hash, revision) if repeated else None,
                "payload": record.payload,
                "cursor_value": record.cursor_value,
                "status": record.status,
                "issues": record.issues,
                "run_id": run_id,
                "received_at": now,
            }
        )
    table = Record.__table__
    return list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), params))


def document_columns(document: BaseModel) -> dict[str, Any]:
    """The indexed columns of a document row: project, date, category and amount when it has them.

    A Project is its own project (its `code`); every other document names its `project_code`.
    """
    project = document.code if isinstance(document, Project) else getattr(document, "project_code", None)
    date = next((value for name in DATE_FIELDS if (value := getattr(document, name, None)) is not None), None)
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
    session: Session, *, connection: str, kind: str, documents: Sequence[NewDocument]
) -> None:
    """Insert document versions of one kind in the caller's transaction.

    A document's version is its record's (`records.version`, else its content hash), looked up
    here so that no way in can label a value that changed back with an older version.
    """
    if not documents:
        return
    now = dt.datetime.now(dt.UTC)
    versions: dict[int, str] = {}
    ids = sorted({item.record_id for item in documents})
    for start in range(0, len(ids), QUERY_CHUNK):
        for record_id, digest, version in session.execute(
            select(Record.id, Record.content_hash, Record.version).where(
                Record.id.in_(ids[start : start + QUERY_CHUNK])
            )
        ):
            versions[record_id] = version or digest
    rows = []
    for item in documents:
        columns = (
            document_columns(item.document)
            if item.document is not None
            else {"project_code": None, "business_date": None, "category": None, "amount": None}
        )
        rows.append(
            {
                "record_id": item.record_id,
                "connection": connection,
                "kind": kind,
                "source_key": item.source_key,
                "version": versions[item.record_id],
                "deleted": item.deleted,
                "data": item.data,
                "created_at": now,
                **columns,
            }
        )
    session.execute(insert(Document.__table__), rows)


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

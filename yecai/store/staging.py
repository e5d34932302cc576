"""One staging function for every way in: records, the documents they validate into, the cursor.

REST pulls, webhooks and file imports all write `records` through `stage_records` and `documents`
through `store_documents`, so a document's query columns (`document_columns`) are computed in one
place whatever the way in. Deciding *which* rows are new stays with the caller (each way in has
its own duplicate rules); this module only looks up stored versions and writes, in the caller's
transaction, so a cursor saved beside the records moves with them (invariant 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert, select
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


@dataclass(frozen=True, slots=True)
class NewDocument:
    """One document version to store; `document` None with `deleted` True is a tombstone."""

    record_id: int
    source_key: str
    version: str  # the content hash of the record it came from
    data: str  # canonical JSON text of the document
    document: BaseModel | None = None
    deleted: bool = False


def chunks(values: Sequence[str], size: int = QUERY_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def stored_versions(
    session: Session, *, connection: str, stream: str, keys: Sequence[str]
) -> dict[str, list[StoredVersion]]:
    """Every stored record of these source keys in the stream, by key."""
    found: dict[str, list[StoredVersion]] = {}
    for part in chunks(keys):
        for row in session.execute(
            select(Record.id, Record.source_key, Record.content_hash, Record.status, Record.run_id).where(
                Record.connection == connection,
                Record.stream == stream,
                Record.source_key.in_(part),
            )
        ):
            found.setdefault(row.source_key, []).append(StoredVersion(*row))
    return found


def stage_records(
    session: Session,
    *,
    connection: str,
    stream: str,
    records: Sequence[NewRecord],
    run_id: int | None = None,
) -> list[int]:
    """Insert `records` in the caller's transaction; their ids, in the order given.

    Core inserts on the table (not ORM objects): thousands of file rows per chunk cost no object
    bookkeeping, and the ids come back in parameter order on SQLite and PostgreSQL alike.
    """
    if not records:
        return []
    now = dt.datetime.now(dt.UTC)
    params = [
        {
            "connection": connection,
            "stream": stream,
            "source_key": record.source_key,
            "content_hash": record.content_hash,
            "payload": record.payload,
            "cursor_value": record.cursor_value,
            "status": record.status,
            "issues": record.issues,
            "run_id": run_id,
            "received_at": now,
        }
        for record in records
    ]
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
    """Insert document versions of one kind in the caller's transaction."""
    if not documents:
        return
    now = dt.datetime.now(dt.UTC)
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
                "version": item.version,
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

"""Intake: pull a stream into staged records, then validate records into documents.

Nothing lost (invariant 1): a page's records are stored in one transaction, and the stream's
cursor only ever advances inside the transaction that stores the records it covers. This module
orchestrates: where to resume and when a cursor moves is the sources framework's
(`yecai.sources.state`); rows are written by the store's one staging function
(`yecai.store.staging`). A row is new when it differs from the latest stored version of its
source key: re-reading a row stores nothing new, while a changed row — even one changed back to
an older value, or re-created after its deletion — becomes a new record beside the old.
Validation never blocks good rows: each bad record keeps its issues and the rest proceed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Row, Select, bindparam, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.domain.documents import DOCUMENT_TYPES, Issue, validate
from yecai.settings import Settings
from yecai.sources.connector import Connector, Partition, StreamBinding
from yecai.sources.rest import Page, RestSource, RestStream
from yecai.sources.state import NewestCursor, advanced, cursor_of, resume_since
from yecai.store import staging
from yecai.store.db import Store
from yecai.store.lists import one_of
from yecai.store.staging import NewDocument, NewRecord
from yecai.store.tables import Document, Record

Progress = Callable[[int], None]
T = TypeVar("T")
# Another writer staging the same key at the same moment costs one more try; a few cover a burst.
STAGING_ATTEMPTS = 4


@dataclass(slots=True)
class PullResult:
    stream: str
    fetched: int = 0
    new: int = 0
    unchanged: int = 0
    cursor: str | None = None


@dataclass(slots=True)
class ValidateResult:
    stream: str
    valid: int = 0
    invalid: int = 0
    deleted: int = 0
    issues: list[tuple[str, list[Issue]]] = field(default_factory=list)  # (source key, issues)


def _source_key(item: dict[str, Any], stream: RestStream, digest: str) -> str:
    value = item.get(stream.primary_key)
    # A row without its key is still kept (never lost); validation will reject it by name.
    return str(value) if value not in (None, "") else f"<no {stream.primary_key}>:{digest[:16]}"


def read_cursor(store: Store, connection: str, stream: str) -> str | None:
    """The stream's stored cursor (`stream` is the state key: a partition has its own)."""
    with store.transaction() as session:
        return staging.stored_cursor(session, connection, stream)


def stage_items(
    session: Session,
    *,
    connection: str,
    stream: RestStream,
    items: list[dict[str, Any]],
    run_id: int | None = None,
) -> list[tuple[int | None, str, str]]:
    """Stage `items` in the caller's transaction; per item (new record id or None if unchanged, key, hash).

    Shared by pulls and webhooks, so both ways in deduplicate the same way: an item is new when it
    differs from its key's latest version (the items before it in `items` included); the rows are
    written by the store's one staging function.
    """
    parsed: list[tuple[str, str, str, str | None]] = []  # key, hash, canonical text, cursor value
    for item in items:
        # The canonical text is both what is stored and what is hashed: one serialisation.
        text = jsonutil.dumps(item, canonical=True)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        found = cursor_of(item, stream.cursor_field)
        parsed.append((_source_key(item, stream, digest), digest, text, found[1] if found else None))
    stored = staging.stored_versions(
        session, connection=connection, stream=stream.name, keys=sorted({key for key, *_ in parsed})
    )
    latest = {key: versions[-1].content_hash for key, versions in stored.items()}
    fresh: list[NewRecord] = []
    places: list[int | None] = []  # per item: its place in `fresh`, or None when unchanged
    for key, digest, text, cursor in parsed:
        if latest.get(key) == digest:
            places.append(None)
            continue
        latest[key] = digest
        places.append(len(fresh))
        fresh.append(NewRecord(source_key=key, content_hash=digest, payload=text, cursor_value=cursor))
    ids = staging.stage_records(
        session,
        connection=connection,
        stream=stream.name,
        records=fresh,
        run_id=run_id,
        history={key: stored.get(key, []) for key, *_ in parsed},
    )
    return [
        (ids[place] if place is not None else None, key, digest)
        for place, (key, digest, _text, _cursor) in zip(places, parsed, strict=True)
    ]


def staged_in_retry(attempt: Callable[[], T], *, attempts: int = STAGING_ATTEMPTS) -> T:
    """Run a staging transaction again when another writer staged the same key first.

    Both computed the same next revision of the key; the loser's transaction rolled back whole,
    and run again it compares with the version the other stored (so it may be unchanged now).
    """
    for remaining in range(attempts - 1, -1, -1):
        try:
            return attempt()
        except IntegrityError:
            if remaining == 0:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _store_page(
    store: Store,
    *,
    connection: str,
    stream: RestStream,
    state_key: str,
    items: list[dict[str, Any]],
    cursor: str | None,
    run_id: int | None,
    result: PullResult,
) -> None:
    def attempt() -> list[tuple[int | None, str, str]]:
        with store.transaction() as session:
            staged = stage_items(session, connection=connection, stream=stream, items=items, run_id=run_id)
            if cursor is not None:
                stored = staging.stored_cursor(session, connection, state_key)
                staging.save_cursor(session, connection, state_key, advanced(stored, cursor))
            return staged

    # counted once the page is committed, so a page staged again after a race counts once
    for record, _key, _digest in staged_in_retry(attempt):
        if record is None:
            result.unchanged += 1
        else:
            result.new += 1
    if cursor is not None:
        result.cursor = cursor


def partition_values(store: Store, connection: str, partition: Partition) -> list[str]:
    """Distinct values of the parent stream's key field among its staged records, sorted."""
    values: set[str] = set()
    with store.transaction() as session:
        for payload in session.scalars(
            select(Record.payload).where(Record.connection == connection, Record.stream == partition.parent)
        ):
            value = jsonutil.loads(payload).get(partition.key)
            if value not in (None, ""):
                values.add(str(value))
    return sorted(values)


def pull(
    store: Store,
    connector: Connector,
    stream_name: str,
    *,
    connection: str,
    run_id: int | None = None,
    since: str | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Read one stream from its cursor (minus the look-back window) to the end.

    A partitioned stream is read once per partition value, each with its own cursor. `since`
    (an ISO date or datetime) re-reads from that moment instead; cursors only ever move forward.
    """
    binding: StreamBinding = connector.streams[stream_name]
    result = PullResult(stream=stream_name)
    source = connector.source()
    try:
        if binding.partition is None:
            _pull_one(
                store, source, binding.stream, connection, stream_name, None, run_id, progress, result, since
            )
        else:
            part = binding.partition
            for value in partition_values(store, connection, part):
                state_key = f"{stream_name}[{value}]"
                extra = {part.param: value}
                _pull_one(
                    store,
                    source,
                    binding.stream,
                    connection,
                    state_key,
                    extra,
                    run_id,
                    progress,
                    result,
                    since,
                )
    finally:
        source.close()
    return result


def _pull_one(
    store: Store,
    source: RestSource,
    stream: RestStream,
    connection: str,
    state_key: str,
    extra: dict[str, Any] | None,
    run_id: int | None,
    progress: Progress | None,
    result: PullResult,
    since_override: str | None = None,
) -> None:
    since = resume_since(read_cursor(store, connection, state_key), stream.look_back, since_override)
    newest = NewestCursor(stream.cursor_field)

    def commit(page: Page, final: bool) -> None:
        # An unordered stream's cursor may only move once every page has been stored.
        moves = newest.value is not None and (final or stream.ordered_by_cursor)
        _store_page(
            store,
            connection=connection,
            stream=stream,
            state_key=state_key,
            items=page.items,
            cursor=newest.value if moves else None,
            run_id=run_id,
            result=result,
        )
        if progress:
            progress(len(page.items))

    pending: Page | None = None
    for page in source.pages(stream, since, extra):
        # One page of look-ahead: a page is committed once the next one has arrived, so the
        # cursor stored with it never covers rows that are not yet stored, and the final page
        # carries the cursor of an unordered stream in its own transaction.
        if pending is not None:
            commit(pending, final=False)
        newest.see(page.items)
        result.fetched += len(page.items)
        pending = page
    if pending is not None:
        commit(pending, final=True)


def _keep(
    known: set[int],
    documents: list[NewDocument],
    record: Row[Any],
    data: str,
    document: BaseModel | None = None,
) -> None:
    """Queue the record's document version (a tombstone without `document`) unless it is stored."""
    # A record that has its document already (a re-validated record) gets no second one.
    if record.id in known:
        return
    known.add(record.id)
    documents.append(
        NewDocument(
            record_id=record.id,
            source_key=record.source_key,
            data=data,
            document=document,
            deleted=document is None,
        )
    )


# Record updates of validation, by what changes: the status alone, or the status and the issues.
_SET_STATUS = (
    update(Record.__table__)
    .where(Record.__table__.c.id == bindparam("record_id"))
    .values(status=bindparam("new_status"))
)
_SET_STATUS_AND_ISSUES = (
    update(Record.__table__)
    .where(Record.__table__.c.id == bindparam("record_id"))
    .values(
        status=bindparam("new_status"), issues=bindparam("new_issues", type_=Record.__table__.c.issues.type)
    )
)


def staged_query(connection: str, stream_name: str, after_id: int, batch: int) -> Select[Any]:
    """The next `batch` records of the stream waiting to be validated, in id order.

    'staged' is written into the statement, not bound: psycopg prepares a statement run this
    often, and a generic plan can read the partial index of staged records (by id: no sort of
    the whole backlog per batch) only if it sees the value (migration 0016, issue 15)."""
    return (
        select(Record.id, Record.source_key, Record.payload, Record.issues)
        .where(
            Record.connection == connection,
            Record.stream == stream_name,
            Record.status == literal("staged", literal_execute=True),
            Record.id > after_id,
        )
        .order_by(Record.id)
        .limit(batch)
    )


def _set_statuses(session: Session, statuses: list[dict[str, Any]]) -> None:
    """Write the records' new statuses. PostgreSQL takes one UPDATE per status with the ids as an
    array: an UPDATE a record (24,000 for a nightly pull) cost the store more than validating."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(_SET_STATUS, statuses)
        return
    by_status: dict[str, list[int]] = {}
    for item in statuses:
        by_status.setdefault(item["new_status"], []).append(item["record_id"])
    table = Record.__table__
    for status, ids in by_status.items():
        session.execute(update(table).where(one_of(session, table.c.id, ids)).values(status=status))


def validate_staged(
    store: Store, connector: Connector, stream_name: str, *, connection: str, batch: int = 1000
) -> ValidateResult:
    """Turn every staged record of the stream into a document, or mark it invalid with issues.

    Records are read and their statuses written with Core (columns in, executemany out): an ORM
    object per record, tracked and flushed one by one, cost more than validating it (issue 15).
    """
    binding = connector.streams[stream_name]
    model = DOCUMENT_TYPES[binding.document_kind]
    result = ValidateResult(stream=stream_name)
    # the same business-date window for REST, webhook and file records (YECAI_BUSINESS_DATE_*)
    window = Settings().business_dates()
    last_id = 0
    while True:
        with store.transaction() as session:
            records = list(session.execute(staged_query(connection, stream_name, last_id, batch)))
            if not records:
                return result
            # One query for the batch's existing documents instead of one per record.
            known = set(
                session.scalars(
                    select(Document.record_id).where(
                        one_of(session, Document.record_id, [r.id for r in records])
                    )
                )
            )
            documents: list[NewDocument] = []
            statuses: list[dict[str, Any]] = []  # records whose status alone changes
            with_issues: list[dict[str, Any]] = []  # records whose issues change too
            for record in records:
                last_id = record.id
                item = jsonutil.loads(record.payload)
                if binding.is_deleted is not None and binding.is_deleted(item):
                    statuses.append({"record_id": record.id, "new_status": "deleted"})
                    result.deleted += 1
                    _keep(known, documents, record, jsonutil.dumps({"deleted": True}))
                    continue
                document, issues = validate(model, binding.to_document(item), window=window)
                if document is None:
                    with_issues.append(
                        {
                            "record_id": record.id,
                            "new_status": "invalid",
                            "new_issues": [
                                {"field": i.field, "value": i.value, "zh": i.zh, "en": i.en} for i in issues
                            ],
                        }
                    )
                    result.invalid += 1
                    result.issues.append((record.source_key, issues))
                    continue
                # Issues left from an earlier validation are cleared (written as the ORM wrote a
                # None); a record without any keeps its column untouched.
                if record.issues is None:
                    statuses.append({"record_id": record.id, "new_status": "valid"})
                else:
                    with_issues.append({"record_id": record.id, "new_status": "valid", "new_issues": None})
                result.valid += 1
                _keep(known, documents, record, jsonutil.dumps(document.model_dump()), document)
            if statuses:
                _set_statuses(session, statuses)
            if with_issues:
                session.execute(_SET_STATUS_AND_ISSUES, with_issues)
            staging.store_documents(
                session, connection=connection, kind=binding.document_kind, documents=documents
            )


# How long validation waits for the pull to stage more before it looks again.
VALIDATE_POLL_SECONDS = 0.2


def pull_validating(
    store: Store,
    connector: Connector,
    stream_name: str,
    *,
    connection: str,
    run_id: int | None = None,
    since: str | None = None,
    progress: Progress | None = None,
) -> tuple[PullResult, ValidateResult]:
    """`pull` the stream on a thread while its staged records are validated here, then validate
    what the last pages staged: the same records and documents as pulling first and validating
    after, sooner (issue 15).

    A pull waits on the source most of its time (a nightly pull of 24,202 cost records: 2.6 s,
    1.2 s of it CPU); validation is CPU and store work, so the two overlap. Validation goes by
    record id, as after a pull; each page is committed before the next is read, so what it sees
    is whole pages. A pull that fails raises here, after what it staged was validated.
    """
    results: list[ValidateResult] = []
    with ThreadPoolExecutor(1, thread_name_prefix="yecai-pull") as pool:
        pulling = pool.submit(
            pull,
            store,
            connector,
            stream_name,
            connection=connection,
            run_id=run_id,
            since=since,
            progress=progress,
        )
        while not pulling.done():
            done = validate_staged(store, connector, stream_name, connection=connection)
            results.append(done)
            if not (done.valid or done.invalid or done.deleted):
                wait([pulling], timeout=VALIDATE_POLL_SECONDS)
    # what the last pages staged — also when the pull failed: what it stored is validated, then it raises
    results.append(validate_staged(store, connector, stream_name, connection=connection))
    return pulling.result(), merge_validations(stream_name, results)


def merge_validations(stream_name: str, results: list[ValidateResult]) -> ValidateResult:
    """Several validations of one stream added up, issues in the order they were found."""
    total = ValidateResult(stream=stream_name)
    for result in results:
        total.valid += result.valid
        total.invalid += result.invalid
        total.deleted += result.deleted
        total.issues.extend(result.issues)
    return total

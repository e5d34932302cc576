"""One importer at a time per (connection, kind): a lock row in the database, with a heartbeat.

Two people importing ledgers of the same kind at once would race on the same source keys. The
lock is a row in `file_import_locks` (so it works across threads, processes and machines, on
SQLite and PostgreSQL alike) naming its holder and when it started; the holder refreshes
`heartbeat_at` in the same transaction as every chunk it commits. A lock whose heartbeat is older
than `stale_after` belongs to a crashed importer and may be taken over; the taker is told whose.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import secrets
import socket
import time
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from yecai.files.problems import LockHeld, LockLost
from yecai.files.reader import Note
from yecai.store.db import Store
from yecai.store.file_tables import FileImportLock

STALE_AFTER = dt.timedelta(minutes=10)
POLL_SECONDS = 0.25


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(stamp: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything yecai writes is UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def default_holder() -> str:
    """`user@host pid N`: enough for a colleague to know whom to ask."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True, slots=True)
class LockInfo:
    holder: str
    file_name: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ImportLock:
    """A held lock; `took_over` names the stale holder it replaced, if any."""

    connection: str
    kind: str
    token: str
    holder: str
    took_over: LockInfo | None = None


def _info(row: FileImportLock) -> LockInfo:
    return LockInfo(row.holder, row.file_name, aware(row.started_at), aware(row.heartbeat_at))


def holder_of(store: Store, *, connection: str, kind: str) -> LockInfo | None:
    with store.transaction() as session:
        row = session.get(FileImportLock, (connection, kind))
        return _info(row) if row else None


def _try(
    store: Store, connection: str, kind: str, holder: str, file_name: str, stale_after: dt.timedelta
) -> ImportLock | LockInfo:
    token = secrets.token_hex(16)
    stamp = now()
    with store.transaction() as session:
        row = session.get(FileImportLock, (connection, kind))
        if row is None:
            session.add(
                FileImportLock(
                    connection=connection,
                    kind=kind,
                    token=token,
                    holder=holder,
                    file_name=file_name,
                    started_at=stamp,
                    heartbeat_at=stamp,
                )
            )
            session.flush()
            return ImportLock(connection, kind, token, holder)
        info = _info(row)
        if stamp - info.heartbeat_at < stale_after:
            return info
        # Compare-and-swap on the old token: of two importers taking over the same stale lock,
        # exactly one changes the row.
        taken = session.execute(
            update(FileImportLock)
            .where(
                FileImportLock.connection == connection,
                FileImportLock.kind == kind,
                FileImportLock.token == row.token,
            )
            .values(token=token, holder=holder, file_name=file_name, started_at=stamp, heartbeat_at=stamp)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            return ImportLock(connection, kind, token, holder, took_over=info)
        return info


def acquire(
    store: Store,
    *,
    connection: str,
    kind: str,
    file_name: str,
    holder: str | None = None,
    wait: float = 0.0,
    stale_after: dt.timedelta = STALE_AFTER,
) -> ImportLock:
    """Take the lock, waiting up to `wait` seconds; raises LockHeld naming the holder."""
    holder = holder or default_holder()
    deadline = time.monotonic() + wait
    while True:
        try:
            found = _try(store, connection, kind, holder, file_name, stale_after)
        except (IntegrityError, OperationalError):
            # Another importer inserted the row (or held SQLite's write lock) at the same moment.
            found = None
        if isinstance(found, ImportLock):
            return found
        if time.monotonic() >= deadline:
            if found is None:
                found = holder_of(store, connection=connection, kind=kind)
            if found is not None:
                raise LockHeld(
                    connection=connection,
                    kind=kind,
                    holder=found.holder,
                    since=found.started_at,
                    file_name=found.file_name,
                )
        time.sleep(POLL_SECONDS)


def heartbeat(session: Session, lock: ImportLock) -> None:
    """Refresh the lock inside the caller's transaction; LockLost (rolls the chunk back) if it is gone."""
    result = session.execute(
        update(FileImportLock)
        .where(
            FileImportLock.connection == lock.connection,
            FileImportLock.kind == lock.kind,
            FileImportLock.token == lock.token,
        )
        .values(heartbeat_at=now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LockLost(connection=lock.connection, kind=lock.kind)


def release(store: Store, lock: ImportLock) -> None:
    """Give the lock back (only our own: a lock taken over from us stays with its new holder)."""
    with store.transaction() as session:
        session.execute(
            delete(FileImportLock).where(
                FileImportLock.connection == lock.connection,
                FileImportLock.kind == lock.kind,
                FileImportLock.token == lock.token,
            )
        )


def held_locks(store: Store) -> list[tuple[str, str, LockInfo]]:
    with store.transaction() as session:
        return [(row.connection, row.kind, _info(row)) for row in session.scalars(select(FileImportLock))]


def takeover_note(lock: ImportLock) -> Note | None:
    """What to tell the user when their import took over a crashed importer's stale lock."""
    old = lock.took_over
    if old is None:
        return None
    since = old.heartbeat_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return Note(
        f"接管了 {old.holder} 的过期导入锁（导入 {old.file_name}，最后心跳 {since}）",
        f"took over the stale import lock of {old.holder} (importing {old.file_name}, last heartbeat {since})",
    )

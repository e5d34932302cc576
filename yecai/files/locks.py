"""One importer at a time per (connection, kind): a lock row in the database, with a heartbeat.

Two people importing ledgers of the same kind at once would race on the same source keys. The
lock is a row in `file_import_locks` (so it works across threads, processes and machines, on
SQLite and PostgreSQL alike) naming its holder and when it started; the holder refreshes
`heartbeat_at` in the same transaction as every chunk it commits. A lock whose heartbeat is older
than `stale_after` belongs to a crashed importer and may be taken over; the taker is told whose.

The row also names the process that holds it (`Owner`: host, pid, start time). A holder killed
outright (SIGKILL, a parser that aborts the process) neither releases nor heartbeats; waiting out
`stale_after` would refuse every import of the kind for ten minutes. So a lock whose owner runs on
this machine and is gone — no such pid, a zombie, or the pid now names a process that started at
another time (a reused pid) — is taken over at once. "This machine" means the same host name, boot
and pid namespace: a pid says nothing across machines or containers, so a lock held from elsewhere
keeps the heartbeat rule. Both takeovers are the same compare-and-swap on the old token.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from yecai.files.problems import LockHeld, LockLost
from yecai.files.reader import Note
from yecai.localtime import shown
from yecai.store.db import Store
from yecai.store.file_tables import FileImportLock

STALE_AFTER = dt.timedelta(minutes=10)
POLL_SECONDS = 0.25
PROC = Path("/proc")


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
class Owner:
    """The process holding a lock: on the same machine, enough to tell whether it still runs."""

    host: str  # socket.gethostname()
    pid: int
    # "<start ticks>@<boot id>/<pid namespace>" from /proc (field 22 of /proc/<pid>/stat: clock ticks
    # after boot); None where there is no /proc, and then only the pid's existence can be checked
    start: str | None

    @property
    def machine(self) -> str | None:
        """The kernel and pid namespace the pid belongs to (the part of `start` after the @)."""
        return self.start.partition("@")[2] if self.start else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start ticks) of a process, from /proc/<pid>/stat; None if it cannot be read."""
    text = _read(PROC / str(pid) / "stat")
    if not text:
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces and parentheses
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])  # fields 3 (state) and 22 (starttime)
    except (IndexError, ValueError):
        return None


def _machine() -> str | None:
    boot = _read(PROC / "sys" / "kernel" / "random" / "boot_id")
    try:
        namespace = os.readlink(PROC / "self" / "ns" / "pid")
    except OSError:
        return None
    return f"{boot}/{namespace}" if boot else None


_this: Owner | None = None


def this_process() -> Owner:
    """This process as a lock owner (worked out again after a fork: the pid changes)."""
    global _this
    pid = os.getpid()
    if _this is None or _this.pid != pid:
        machine, stat = _machine(), _stat(pid)
        start = f"{stat[1]}@{machine}" if machine and stat else None
        _this = Owner(socket.gethostname(), pid, start)
    return _this


def owner_alive(owner: Owner) -> bool | None:
    """Whether the owning process still runs: True or False on this machine, None elsewhere."""
    me = this_process()
    if owner.host != me.host or owner.machine != me.machine or owner.pid <= 0:
        return None  # another machine, container or boot: its pids mean nothing here
    try:
        os.kill(owner.pid, 0)  # signal 0: only asks whether the pid exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if owner.start is None:
        return True  # no /proc here: an existing pid is all we can know
    stat = _stat(owner.pid)
    if stat is None:
        return True  # exists but unreadable (/proc mounted hidepid): not ours to declare dead
    state, ticks = stat
    if state in ("Z", "X", "x"):
        return False  # a zombie has ended; only its exit status is waiting to be collected
    return str(ticks) == owner.start.partition("@")[0]  # another start time: the pid was reused


@dataclass(frozen=True, slots=True)
class LockInfo:
    holder: str
    file_name: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    owner: Owner | None = None  # None on rows written before the owner was recorded


@dataclass(frozen=True, slots=True)
class ImportLock:
    """A held lock; `took_over` names the holder it replaced, if any (stale, or its process gone)."""

    connection: str
    kind: str
    token: str
    holder: str
    took_over: LockInfo | None = None
    owner_gone: bool = False  # taken over because the old owner's process had ended


def _info(row: FileImportLock) -> LockInfo:
    owner = None
    if row.owner_host is not None and row.owner_pid is not None:
        owner = Owner(row.owner_host, row.owner_pid, row.owner_start)
    return LockInfo(row.holder, row.file_name, aware(row.started_at), aware(row.heartbeat_at), owner)


def _owner_columns() -> dict[str, object]:
    me = this_process()
    return {"owner_host": me.host[:255], "owner_pid": me.pid, "owner_start": me.start}


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
                    **_owner_columns(),
                )
            )
            session.flush()
            return ImportLock(connection, kind, token, holder)
        info = _info(row)
        gone = info.owner is not None and owner_alive(info.owner) is False
        if not gone and stamp - info.heartbeat_at < stale_after:
            return info
        # Compare-and-swap on the old token: of two importers taking over the same stale (or
        # orphaned) lock, exactly one changes the row.
        taken = session.execute(
            update(FileImportLock)
            .where(
                FileImportLock.connection == connection,
                FileImportLock.kind == kind,
                FileImportLock.token == row.token,
            )
            .values(
                token=token,
                holder=holder,
                file_name=file_name,
                started_at=stamp,
                heartbeat_at=stamp,
                **_owner_columns(),
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            return ImportLock(connection, kind, token, holder, took_over=info, owner_gone=gone)
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


def release_owned(session: Session, *, connection: str, kind: str, owner: Owner) -> bool:
    """Drop the lock of (connection, kind) if `owner` holds it (a worker process known to be dead).

    Inside the caller's transaction, so that whatever else it settles about the dead owner (its
    run marked interrupted) commits together with the release; False if another holds the lock.
    """
    start = (
        FileImportLock.owner_start.is_(None)
        if owner.start is None
        else FileImportLock.owner_start == owner.start
    )
    result = session.execute(
        delete(FileImportLock)
        .where(
            FileImportLock.connection == connection,
            FileImportLock.kind == kind,
            FileImportLock.owner_host == owner.host[:255],
            FileImportLock.owner_pid == owner.pid,
            start,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def held_locks(store: Store) -> list[tuple[str, str, LockInfo]]:
    with store.transaction() as session:
        return [(row.connection, row.kind, _info(row)) for row in session.scalars(select(FileImportLock))]


def takeover_note(lock: ImportLock) -> Note | None:
    """What to tell the user when their import took over a crashed importer's lock (stale or orphaned)."""
    old = lock.took_over
    if old is None:
        return None
    since = shown(old.heartbeat_at, seconds=True)
    if lock.owner_gone and old.owner is not None:
        pid, host = old.owner.pid, old.owner.host
        return Note(
            f"接管了 {old.holder} 的导入锁（导入 {old.file_name}）：持有它的进程 {pid}（{host}）已结束，"
            f"最后心跳 {since}",
            f"took over the import lock of {old.holder} (importing {old.file_name}): the process holding "
            f"it, pid {pid} on {host}, has ended; last heartbeat {since}",
        )
    return Note(
        f"接管了 {old.holder} 的过期导入锁（导入 {old.file_name}，最后心跳 {since}）",
        f"took over the stale import lock of {old.holder} (importing {old.file_name}, last heartbeat {since})",
    )

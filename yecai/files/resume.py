"""An import's own rows (`file_imports` and its run): start, checkpoint settings, resume, give up.

A file of these bytes (and sheet filter) has one `file_imports` row: "imported" once finished, so
a second attempt reports the first; "importing" while running or after a crash, with the number
of data rows committed, so the next attempt resumes after them — with the same settings, or not
at all. A run that is interrupted or fails stays visible with its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from yecai.files.problems import FileProblem, LockLost
from yecai.files.reader import Note
from yecai.localtime import shown
from yecai.store.db import Store
from yecai.store.file_tables import FileImport
from yecai.store.tables import Run


@dataclass(frozen=True, slots=True)
class PreviousImport:
    import_id: int
    run_id: int | None
    file_name: str
    finished_at: dt.datetime | None
    counts: dict[str, int]


def previous_import(
    session: Session, *, connection: str, kind: str, digest: str, sheet_filter: str
) -> FileImport | None:
    """The earlier import of the same bytes (finished or interrupted), if any."""
    return session.scalars(
        select(FileImport).where(
            FileImport.connection == connection,
            FileImport.kind == kind,
            FileImport.fingerprint == digest,
            FileImport.sheet_filter == sheet_filter,
        )
    ).one_or_none()


def previous_info(row: FileImport) -> PreviousImport:
    return PreviousImport(row.id, row.run_id, row.file_name, row.finished_at, dict(row.counts or {}))


def check_settings(previous: FileImport, settings: dict[str, Any]) -> None:
    """Refuse to resume with other settings: the committed rows were read with the old ones."""
    before = (previous.layout or {}).get("settings")
    if before is not None and before != settings:
        raise FileProblem(
            "resume_settings",
            f"该文件上次导入中断（已完成 {previous.rows_done} 行），当时的设置是 {before}；请用相同设置继续",
            f"the last import of this file was interrupted after {previous.rows_done} rows with settings "
            f"{before}; continue it with the same settings",
        )


def already_note(previous: FileImport, file_name: str) -> Note:
    """What to tell someone importing bytes that were imported before."""
    when = previous.finished_at or previous.started_at
    stamp = shown(when)
    renamed = previous.file_name != file_name
    as_name_zh = f"（当时文件名 {previous.file_name}，内容完全相同）" if renamed else ""
    as_name_en = f" (then named {previous.file_name}; the bytes are identical)" if renamed else ""
    return Note(
        f"文件 {file_name} 已于 {stamp} 作为运行 {previous.run_id} 导入{as_name_zh}，本次未导入任何行",
        f"{file_name} was already imported on {stamp} as run {previous.run_id}{as_name_en}; "
        "nothing was imported this time",
    )


def start_import(store: Store, **values: Any) -> tuple[int, int]:
    """Create the run and the `file_imports` row (`values` are its columns); (import id, run id)."""
    with store.transaction() as session:
        run = Run(
            kind="file_import",
            connection=values["connection"],
            stream=values["kind"],
            status="running",
            counts={},
        )
        session.add(run)
        session.flush()
        record = FileImport(**values, run_id=run.id)
        session.add(record)
        session.flush()
        return record.id, run.id


def continue_import(
    store: Store, *, import_id: int, run_id: int | None, layout: dict[str, Any], resume_from: int
) -> None:
    """Record the layout found on this attempt and, when resuming, set the run running again."""
    with store.transaction() as session:
        session.execute(update(FileImport).where(FileImport.id == import_id).values(layout=layout))
        if resume_from and run_id is not None:
            session.execute(update(Run).where(Run.id == run_id).values(status="running", finished_at=None))


def resumed_note(resume_from: int) -> Note:
    return Note(
        f"上次导入中断，从第 {resume_from + 1} 个数据行继续",
        f"the last import was interrupted; resumed at data row {resume_from + 1}",
    )


# Not the file's fault: importing it again (with more memory, or simply again) resumes it.
INTERRUPTIONS = (KeyboardInterrupt, SystemExit, MemoryError, LockLost)


def abandon(store: Store, *, run_id: int | None, counts: dict[str, int], exc: BaseException) -> None:
    """Mark the run interrupted (resumable from the checkpoint) or failed, best effort."""
    if run_id is None:
        return
    status = "interrupted" if isinstance(exc, INTERRUPTIONS) else "failed"
    message = f"{type(exc).__name__}: {exc}"[:4000]
    try:
        with store.transaction() as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(status=status, message=message, counts=counts, finished_at=dt.datetime.now(dt.UTC))
            )
    except Exception:  # the database may be what failed; the original error is raised anyway
        pass


def failed_run(store: Store, *, connection: str, kind: str, message: str) -> int | None:
    """A file that could not be read is still a run: the console lists it with its reason.

    Returns the run's id, or None when the store itself could not take it.
    """
    now = dt.datetime.now(dt.UTC)
    try:
        with store.transaction() as session:
            run = Run(
                kind="file_import",
                connection=connection,
                stream=kind,
                status="failed",
                counts={},
                message=message[:4000],
                started_at=now,
                finished_at=now,
            )
            session.add(run)
            session.flush()
            return run.id
    except Exception:  # the store itself may be what failed; the FileProblem is what matters
        return None


def latest_run_id(store: Store) -> int:
    """The newest run's id (0 for none): runs after it were started by whatever runs next."""
    with store.transaction() as session:
        return int(session.scalar(select(func.max(Run.id))) or 0)


def interrupt_running(session: Session, *, connection: str, kind: str, message: str) -> int:
    """Mark the file-import runs of (connection, kind) still "running" as interrupted; how many.

    For an importer that died without a word (a worker process killed or aborted): called in the
    transaction that releases its lock, while the lock still proves no other import of the kind
    runs, so every run left "running" is a dead one. Their `file_imports` rows stay "importing"
    with their checkpoint: importing the file again resumes after the last committed chunk.
    """
    result = session.execute(
        update(Run)
        .where(
            Run.kind == "file_import",
            Run.connection == connection,
            Run.stream == kind,
            Run.status == "running",
        )
        .values(status="interrupted", message=message[:4000], finished_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def runs_after(store: Store, *, connection: str, kind: str, after: int) -> int:
    """How many file-import runs of (connection, kind) were started after run `after`."""
    with store.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Run)
                .where(
                    Run.kind == "file_import",
                    Run.connection == connection,
                    Run.stream == kind,
                    Run.id > after,
                )
            )
            or 0
        )

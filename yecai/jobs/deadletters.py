"""Dead letters: jobs that failed for good, kept with their bilingual error until a person acts.

`bury` records the failure and releases the job's lease in one transaction, so a job is either
still leased (and will be retried or taken over) or dead — never both, never neither. A dead
letter is replayed (enqueued again with the same arguments) or skipped with a reason; both record
who did it and when, and neither can happen twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from yecai.jobs.failures import JobFailure
from yecai.store.clock import as_utc, to_store, utcnow
from yecai.store.db import Store
from yecai.store.job_tables import DeadLetter, JobLease


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    id: int
    job: str
    args: dict[str, Any]
    error_zh: str
    error_en: str
    error_action: str
    error_fault: str
    error_type: str
    error_context: dict[str, str]
    attempts: int
    run_id: int | None
    failed_at: dt.datetime
    status: str
    reason: str | None
    who: str | None
    resolved_at: dt.datetime | None

    @classmethod
    def of(cls, row: DeadLetter) -> DeadLetterView:
        failed_at = as_utc(row.failed_at)
        assert failed_at is not None
        return cls(
            row.id,
            row.job,
            dict(row.args or {}),
            row.error_zh,
            row.error_en,
            row.error_action,
            row.error_fault,
            row.error_type,
            dict(row.error_context or {}),
            row.attempts,
            row.run_id,
            failed_at,
            row.status,
            row.reason,
            row.who,
            as_utc(row.resolved_at),
        )

    @property
    def since(self) -> str | None:
        value = self.args.get("since")
        return str(value) if value else None


def bury(
    store: Store,
    *,
    job: str,
    task_id: str | None,
    since: str | None,
    failure: JobFailure,
    attempts: int,
    run_id: int | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """Record a dead letter and release the job's lease, atomically. With `task_id`, only while
    that task still owns the lease (None otherwise: someone else has the job now)."""
    with store.transaction() as session:
        if task_id is not None:
            result: Any = session.execute(
                delete(JobLease).where(JobLease.job == job, JobLease.task_id == task_id)
            )
            if result.rowcount != 1:
                return None
        row = DeadLetter(
            job=job,
            args={"job": job, "since": since},
            error_zh=failure.zh,
            error_en=failure.en,
            error_action=failure.action,
            error_fault=failure.fault,
            error_type=failure.error_type,
            error_context=failure.context or None,
            attempts=attempts,
            run_id=run_id,
            failed_at=to_store(now or utcnow()),
            status="dead",
        )
        session.add(row)
        session.flush()
        return row.id


def dead_letters(
    store: Store, *, status: str | None = "dead", job: str | None = None
) -> list[DeadLetterView]:
    query = select(DeadLetter).order_by(DeadLetter.id)
    if status:
        query = query.where(DeadLetter.status == status)
    if job:
        query = query.where(DeadLetter.job == job)
    with store.transaction() as session:
        return [DeadLetterView.of(row) for row in session.scalars(query)]


def dead_letter(store: Store, letter_id: int) -> DeadLetterView | None:
    with store.transaction() as session:
        row = session.get(DeadLetter, letter_id)
        return DeadLetterView.of(row) if row else None


def _resolve(store: Store, letter_id: int, status: str, who: str, reason: str | None) -> bool:
    with store.transaction() as session:
        result: Any = session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == letter_id, DeadLetter.status == "dead")
            .values(status=status, who=who, reason=reason, resolved_at=utcnow())
        )
        return bool(result.rowcount == 1)


def mark_replayed(store: Store, letter_id: int, *, who: str, note: str | None = None) -> bool:
    return _resolve(store, letter_id, "replayed", who, note)


def mark_skipped(store: Store, letter_id: int, *, who: str, reason: str) -> bool:
    return _resolve(store, letter_id, "skipped", who, reason)

"""Identity keys: one lease row per sync job while it is queued or running, moved by compare-and-set.

`claim` creates the row (the job name is the key: a second enqueue finds it and stops). Every later
transition — start, heartbeat, retry, release, takeover — updates it only where the owning queue
task id still matches. A lease whose holder is gone (no heartbeat for `lease_seconds`, or a queued
task no longer in the queue) is stale; `take_over` hands it to a new task and the old one stops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from yecai.store.clock import as_utc, to_store, utcnow
from yecai.store.db import Store
from yecai.store.inserts import insert_ignore
from yecai.store.job_tables import JobLease


@dataclass(frozen=True, slots=True)
class Lease:
    job: str
    state: str  # queued | running
    task_id: str
    since: str | None
    origin: str
    scheduled_for: dt.datetime | None
    holder: str | None
    attempts: int
    queued_at: dt.datetime
    started_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    last_error: dict[str, Any] | None

    @classmethod
    def of(cls, row: JobLease) -> Lease:
        queued_at = as_utc(row.queued_at)
        assert queued_at is not None
        return cls(
            job=row.job,
            state=row.state,
            task_id=row.task_id,
            since=row.since,
            origin=row.origin,
            scheduled_for=as_utc(row.scheduled_for),
            holder=row.holder,
            attempts=row.attempts,
            queued_at=queued_at,
            started_at=as_utc(row.started_at),
            heartbeat_at=as_utc(row.heartbeat_at),
            last_error=row.last_error,
        )


def get(store: Store, job: str) -> Lease | None:
    with store.transaction() as session:
        row = session.get(JobLease, job)
        return Lease.of(row) if row else None


def all_leases(store: Store, *, prefix: str | None = None) -> list[Lease]:
    """Every lease, or those whose name starts with `prefix` (the parts of a fanned-out job)."""
    query = select(JobLease).order_by(JobLease.job)
    if prefix is not None:
        query = query.where(JobLease.job.startswith(prefix, autoescape=True))
    with store.transaction() as session:
        return [Lease.of(row) for row in session.scalars(query)]


def claim(
    store: Store,
    job: str,
    *,
    task_id: str,
    since: str | None,
    origin: str,
    scheduled_for: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Create the lease for a new queue task; False when the job is already queued or running."""
    with store.transaction() as session:
        return insert_ignore(
            session,
            JobLease,
            {
                "job": job,
                "state": "queued",
                "task_id": task_id,
                "since": since,
                "origin": origin,
                "scheduled_for": to_store(scheduled_for) if scheduled_for else None,
                "attempts": 0,
                "queued_at": to_store(now or utcnow()),
            },
        )


def is_stale(
    lease: Lease, *, now: dt.datetime, lease_seconds: float, in_queue: Callable[[str], bool]
) -> bool:
    """Has the lease's holder gone? Running: no heartbeat for `lease_seconds`. Queued: its task
    is neither waiting in the queue nor scheduled for a retry, and it was queued long enough ago
    that a worker which just took it has had time to mark it running."""
    limit = dt.timedelta(seconds=lease_seconds)
    if lease.state == "running":
        last = lease.heartbeat_at or lease.started_at or lease.queued_at
        return now - last > limit
    return now - lease.queued_at > limit and not in_queue(lease.task_id)


def take_over(
    store: Store, lease: Lease, *, task_id: str, now: dt.datetime | None = None, origin: str = "takeover"
) -> bool:
    """Hand a stale lease to a new queue task (compare-and-set on the old task id)."""
    with store.transaction() as session:
        result: Any = session.execute(
            update(JobLease)
            .where(JobLease.job == lease.job, JobLease.task_id == lease.task_id)
            .values(
                task_id=task_id,
                state="queued",
                origin=origin,
                holder=None,
                started_at=None,
                heartbeat_at=None,
                queued_at=to_store(now or utcnow()),
            )
        )
        return bool(result.rowcount == 1)


def start(
    store: Store, job: str, *, task_id: str, holder: str, now: dt.datetime | None = None
) -> Lease | None:
    """Mark the lease running for this task; None when the task no longer owns it (superseded)."""
    moment = to_store(now or utcnow())
    with store.transaction() as session:
        result: Any = session.execute(
            update(JobLease)
            .where(JobLease.job == job, JobLease.task_id == task_id, JobLease.state == "queued")
            .values(
                state="running",
                holder=holder,
                started_at=moment,
                heartbeat_at=moment,
                attempts=JobLease.attempts + 1,
            )
        )
        if result.rowcount != 1:
            return None
    return get(store, job)


def beat(store: Store, job: str, *, task_id: str, holder: str, now: dt.datetime | None = None) -> bool:
    """Renew a running lease; False when it was taken over."""
    with store.transaction() as session:
        result: Any = session.execute(
            update(JobLease)
            .where(
                JobLease.job == job,
                JobLease.task_id == task_id,
                JobLease.holder == holder,
                JobLease.state == "running",
            )
            .values(heartbeat_at=to_store(now or utcnow()))
        )
        return bool(result.rowcount == 1)


def requeue(
    store: Store,
    job: str,
    *,
    task_id: str,
    holder: str,
    error: dict[str, Any],
    now: dt.datetime | None = None,
) -> bool:
    """Back to queued, same task (a retry is scheduled for it), remembering the error."""
    with store.transaction() as session:
        result: Any = session.execute(
            update(JobLease)
            .where(JobLease.job == job, JobLease.task_id == task_id, JobLease.holder == holder)
            .values(
                state="queued",
                holder=None,
                heartbeat_at=None,
                queued_at=to_store(now or utcnow()),
                last_error=error,
            )
        )
        return bool(result.rowcount == 1)


def release(store: Store, job: str, *, task_id: str) -> bool:
    """The job is done (or dropped): remove its lease if this task still owns it."""
    with store.transaction() as session:
        result: Any = session.execute(
            delete(JobLease).where(JobLease.job == job, JobLease.task_id == task_id)
        )
        return bool(result.rowcount == 1)


def withdraw(store: Store, job: str, *, task_id: str) -> bool:
    """Drop a lease no worker has started (its task, when it comes, finds nothing to run)."""
    with store.transaction() as session:
        result: Any = session.execute(
            delete(JobLease).where(
                JobLease.job == job, JobLease.task_id == task_id, JobLease.state == "queued"
            )
        )
        return bool(result.rowcount == 1)

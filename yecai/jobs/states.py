"""Per-job state: the newest scheduled moment a scheduler claimed, and how the last run went.

`claim_moment` is the scheduled-moment key: it moves `last_moment` forward only if it is older than
the moment claimed, so among any number of schedulers exactly one enqueues each moment. A job
first seen by a scheduler starts from that instant (no run for moments before yecai knew of it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from yecai.store.clock import as_utc, to_store, utcnow
from yecai.store.db import Store
from yecai.store.inserts import insert_ignore
from yecai.store.job_tables import JobState


@dataclass(frozen=True, slots=True)
class JobStateView:
    job: str
    last_moment: dt.datetime | None
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_outcome: str | None
    last_run_id: int | None
    last_message: str | None
    takeovers: int

    @classmethod
    def of(cls, row: JobState) -> JobStateView:
        return cls(
            row.job,
            as_utc(row.last_moment),
            as_utc(row.last_started_at),
            as_utc(row.last_finished_at),
            row.last_outcome,
            row.last_run_id,
            row.last_message,
            row.takeovers,
        )


def _ensure(session: Any, job: str, last_moment: dt.datetime | None = None) -> None:
    insert_ignore(
        session,
        JobState,
        {
            "job": job,
            "last_moment": to_store(last_moment) if last_moment else None,
            "takeovers": 0,
            "updated_at": utcnow(),
        },
    )


def state(store: Store, job: str) -> JobStateView | None:
    with store.transaction() as session:
        row = session.get(JobState, job)
        return JobStateView.of(row) if row else None


def all_states(store: Store) -> dict[str, JobStateView]:
    with store.transaction() as session:
        return {row.job: JobStateView.of(row) for row in session.scalars(select(JobState))}


def schedule_start(store: Store, job: str, *, now: dt.datetime) -> dt.datetime:
    """The moment the scheduler counts from: the newest claimed, or now for a job first seen."""
    with store.transaction() as session:
        _ensure(session, job, now)
        row = session.get(JobState, job)
        assert row is not None
        if row.last_moment is None:  # a job that ran by hand before it had a schedule
            row.last_moment = to_store(now)
        value = as_utc(row.last_moment)
    assert value is not None
    return value


def claim_moment(store: Store, job: str, moment: dt.datetime) -> bool:
    """Claim a scheduled moment; True for the one caller that moved `last_moment` to it."""
    value = to_store(moment)
    with store.transaction() as session:
        _ensure(session, job)
        result: Any = session.execute(
            update(JobState)
            .where(JobState.job == job, or_(JobState.last_moment.is_(None), JobState.last_moment < value))
            .values(last_moment=value)
        )
        return bool(result.rowcount == 1)


def record_start(store: Store, job: str, *, now: dt.datetime | None = None) -> None:
    with store.transaction() as session:
        _ensure(session, job)
        session.execute(
            update(JobState).where(JobState.job == job).values(last_started_at=to_store(now or utcnow()))
        )


def record_finish(
    store: Store,
    job: str,
    *,
    outcome: str,
    run_id: int | None = None,
    message: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    with store.transaction() as session:
        _ensure(session, job)
        session.execute(
            update(JobState)
            .where(JobState.job == job)
            .values(
                last_finished_at=to_store(now or utcnow()),
                last_outcome=outcome,
                last_run_id=run_id,
                last_message=message,
            )
        )


def record_takeover(store: Store, job: str) -> None:
    with store.transaction() as session:
        _ensure(session, job)
        session.execute(update(JobState).where(JobState.job == job).values(takeovers=JobState.takeovers + 1))

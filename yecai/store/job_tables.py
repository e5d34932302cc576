"""Job tables: identity-key leases, schedule and last-run state, dead letters, connection health.

A lease row per sync job exists while it is queued or running (never queued twice; a dead
holder's lease is taken over). `job_states` holds the newest scheduled moment claimed (one enqueue
per moment, however many schedulers). Dead letters wait for a replay or a skip with a reason;
`connection_health` counts consecutive failed runs and holds the pause.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from yecai.store.base import Base, Id, utc_now


class JobLease(Base):
    """The identity key of a sync job: at most one queued-or-running instance per job name."""

    __tablename__ = "job_leases"
    job: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))  # queued | running
    # The queue task that owns the lease; every transition compares it (compare-and-set), so a
    # superseded task or a holder whose lease was taken over can never act on the row again.
    task_id: Mapped[str] = mapped_column(String(64))
    since: Mapped[str | None] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(20))  # manual | schedule | replay | takeover
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str | None] = mapped_column(String(200))  # host:pid:nonce of the running worker
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[dict | None] = mapped_column(JSON)


class JobState(Base):
    """Per sync job: the newest scheduled moment claimed, and how the last run ended."""

    __tablename__ = "job_states"
    job: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_moment: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # succeeded | attention | retrying | dead | paused | lost
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    last_run_id: Mapped[int | None] = mapped_column(Id)
    last_message: Mapped[str | None] = mapped_column(Text)
    takeovers: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )


class DeadLetter(Base):
    """A job that failed for good: kept with its bilingual error until replayed or skipped."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    args: Mapped[dict] = mapped_column(JSON)  # what the task carried: the job name and `since`
    error_zh: Mapped[str] = mapped_column(Text)
    error_en: Mapped[str] = mapped_column(Text)
    error_action: Mapped[str] = mapped_column(String(20))
    error_fault: Mapped[str] = mapped_column(String(20))
    error_type: Mapped[str] = mapped_column(String(120))
    error_context: Mapped[dict | None] = mapped_column(JSON)  # connection, stream, form, posting key
    attempts: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Id)
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    status: Mapped[str] = mapped_column(String(20), default="dead")  # dead | replayed | skipped
    reason: Mapped[str | None] = mapped_column(Text)
    who: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


Index("ix_dead_letters_status", DeadLetter.status, DeadLetter.job)


class ConnectionHealth(Base):
    """Consecutive failed runs of a connection and its pause (automatic or by a person)."""

    __tablename__ = "connection_health"
    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    paused_by: Mapped[str | None] = mapped_column(String(80))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )

"""Stalled runs: running job leases whose worker stopped sending heartbeats, reported as `run.stalled`.

A worker renews its lease every `lease_seconds / 6`; a lease is taken over only after
`lease_seconds` without one. The scheduler tick calls `check_stalled` with a shorter threshold
(`stall_seconds`, default half the lease) so a person hears of a hung or vanished worker before, or
even when, nobody can take the job over (every consumer gone but one, a takeover that keeps failing).
"""

from __future__ import annotations

import datetime as dt

from yecai.jobs import leases
from yecai.observability.events import AlertHooks, alerts
from yecai.store.db import Store


def stalled_leases(store: Store, now: dt.datetime, threshold: float) -> list[leases.Lease]:
    """Running leases whose last heartbeat (or start) is more than `threshold` seconds old."""
    limit = dt.timedelta(seconds=threshold)
    found = []
    for lease in leases.all_leases(store):
        if lease.state != "running":
            continue
        last = lease.heartbeat_at or lease.started_at or lease.queued_at
        if now - last > limit:
            found.append(lease)
    return found


def check_stalled(
    store: Store, now: dt.datetime, threshold: float, *, hooks: AlertHooks | None = None
) -> list[str]:
    """Emit `run.stalled` for every stalled lease; the jobs concerned. Repeats every tick while the
    stall lasts: the alert channels de-duplicate, the log shows each look."""
    registry = hooks or alerts
    jobs = []
    for lease in stalled_leases(store, now, threshold):
        last = lease.heartbeat_at or lease.started_at or lease.queued_at
        registry.emit(
            "run.stalled",
            {
                "job": lease.job,
                "holder": lease.holder,
                "attempts": lease.attempts,
                "started_at": lease.started_at.isoformat() if lease.started_at else None,
                "heartbeat_at": lease.heartbeat_at.isoformat() if lease.heartbeat_at else None,
                "silent_seconds": int((now - last).total_seconds()),
            },
        )
        jobs.append(lease.job)
    return jobs

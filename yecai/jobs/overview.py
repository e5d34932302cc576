"""What `yecai jobs list` (and later the console) shows per job: schedule, next run, last run,
its lease, paused connections. Read-only; next runs come from the same schedule arithmetic the
scheduler uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yecai.errors import YecaiError
from yecai.jobs import leases, states
from yecai.jobs.calendar import Coverage, WorkCalendar
from yecai.jobs.schedule import beijing, next_run
from yecai.services import health
from yecai.store.clock import utcnow
from yecai.store.db import Store
from yecai.workspace import Workspace


@dataclass(frozen=True, slots=True)
class JobOverview:
    job: str
    source: str
    target: str
    schedule: str | None  # "0 2 * * * (next_workday)"
    next_run: dt.datetime | None  # Beijing time
    calendar: Coverage | None  # where the next run's holiday judgement comes from
    lease: str | None  # queued | running
    attempts: int
    last_outcome: str | None
    last_finished_at: dt.datetime | None
    last_run_id: int | None
    last_message: str | None
    paused: tuple[str, ...]
    problem: str | None = None  # e.g. an invalid cron expression
    cron: str | None = None  # the schedule's parts, for a page that names the holiday rule in words
    holidays: str | None = None  # run | skip | next_workday


def job_overview(
    store: Store, workspace: Workspace, calendar: WorkCalendar, *, now: dt.datetime | None = None
) -> list[JobOverview]:
    moment = now or utcnow()
    current = {lease.job: lease for lease in leases.all_leases(store)}
    job_states = states.all_states(store)
    pauses = {name for name, h in health.all_health(store).items() if h.paused}
    rows: list[JobOverview] = []
    for name, job in workspace.syncs.items():
        upcoming: dt.datetime | None = None
        problem: str | None = None
        text: str | None = None
        coverage: Coverage | None = None
        if job.schedule is not None:
            text = f"{job.schedule.cron} ({job.schedule.holidays})"
            try:
                upcoming = next_run(job.schedule, moment, calendar, job=name)
            except YecaiError as exc:
                problem = str(exc)
            if upcoming is not None and job.schedule.holidays != "run":
                coverage = calendar.coverage(upcoming.year)
        lease = current.get(name)
        state = job_states.get(name)
        rows.append(
            JobOverview(
                job=name,
                source=job.source,
                target=job.target,
                schedule=text,
                next_run=beijing(upcoming) if upcoming else None,
                calendar=coverage,
                lease=lease.state if lease else None,
                attempts=lease.attempts if lease else 0,
                last_outcome=state.last_outcome if state else None,
                last_finished_at=beijing(state.last_finished_at)
                if state and state.last_finished_at
                else None,
                last_run_id=state.last_run_id if state else None,
                last_message=state.last_message if state else None,
                paused=tuple(c for c in (job.source, job.target) if c in pauses),
                problem=problem,
                cron=job.schedule.cron if job.schedule is not None else None,
                holidays=job.schedule.holidays if job.schedule is not None else None,
            )
        )
    return rows

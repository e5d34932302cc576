"""Jobs and schedules: the task queue (Huey), identity keys, schedules, limits, retries, dead letters.

Embedded, `yecai serve` consumes a SQLite queue in the work directory with threads; scaled out,
`yecai worker` processes consume Redis, with the store on PostgreSQL — the same code either way.
A task carries only a sync job's name (and `since`). See docs/jobs.md.
"""

from __future__ import annotations

from yecai.jobs.calendar import Coverage, WorkCalendar, YearOverride, load_overrides, parse_overrides
from yecai.jobs.config import JobSettings
from yecai.jobs.failures import JobFailure, backoff
from yecai.jobs.limits import Limits, LimitTimeout
from yecai.jobs.overview import JobOverview, job_overview
from yecai.jobs.queue import Enqueued, JobQueue, TickResult, make_huey
from yecai.jobs.runner import LeaseLost, Outcome, Runtime, execute, open_runtime
from yecai.jobs.schedule import BEIJING, due_run, next_run, upcoming
from yecai.observability.events import AlertHook, AlertHooks, alerts

__all__ = [
    "BEIJING",
    "AlertHook",
    "AlertHooks",
    "Coverage",
    "Enqueued",
    "JobFailure",
    "JobOverview",
    "JobQueue",
    "JobSettings",
    "LeaseLost",
    "LimitTimeout",
    "Limits",
    "Outcome",
    "Runtime",
    "TickResult",
    "WorkCalendar",
    "YearOverride",
    "alerts",
    "backoff",
    "due_run",
    "execute",
    "job_overview",
    "load_overrides",
    "make_huey",
    "next_run",
    "open_runtime",
    "parse_overrides",
    "upcoming",
]

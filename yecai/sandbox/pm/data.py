"""Deterministic data for sandbox.pm: `generate(projects, months, seed, start_month) -> Dataset`.

Same arguments, byte-identical data (`Dataset.fingerprint`). Each project and each kind of draw
within it uses its own named random stream, so a bigger run extends a smaller one. The timeline
runs to `TAIL_DAYS` after the window, when its invoices, approvals and payments have happened.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from yecai.sandbox.pm.builder import Histories, ProjectBuilder
from yecai.sandbox.pm.defects import apply_defects
from yecai.sandbox.pm.models import CHINA_TZ, Dataset
from yecai.sandbox.pm.projects import MAX_PROJECTS, make_project
from yecai.sandbox.pm.seeding import stream

MAX_MONTHS = 120
# Days after the window during which its consequences (supplier invoices, approvals, payments,
# corrections) still happen; the timeline, and a server's default clock, end there.
TAIL_DAYS = 60

_START_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

__all__ = ["MAX_MONTHS", "MAX_PROJECTS", "TAIL_DAYS", "generate", "month_window", "timeline_end"]


def month_window(start_month: str, months: int) -> tuple[date, date]:
    """First and last day (inclusive) of `months` calendar months starting at `start_month` (YYYY-MM)."""
    match = _START_MONTH.match(start_month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"start_month must look like 2026-10 (YYYY-MM), got {start_month!r}")
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}, got {months}")
    year, month = int(match.group(1)), int(match.group(2))
    first = date(year, month, 1)
    end_year, end_month = divmod(month - 1 + months, 12)
    return first, date(year + end_year, end_month + 1, 1) - timedelta(days=1)


def timeline_end(last_day: date) -> datetime:
    """The last moment of the timeline of a window ending on `last_day`."""
    return datetime.combine(last_day + timedelta(days=TAIL_DAYS), time(23, 59, 59), CHINA_TZ)


def generate(
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    start_month: str = "2026-10",
    *,
    bad_rate: float = 0.0,
) -> Dataset:
    """Build every record and its history for the window; pure and deterministic.

    `bad_rate` (0 by default) makes that share of each stream's records deliberately invalid;
    `Dataset.defects` lists them.
    """
    if not 0 <= projects <= MAX_PROJECTS:
        raise ValueError(f"projects must be between 0 and {MAX_PROJECTS}, got {projects}")
    if not 0 <= bad_rate <= 1:
        raise ValueError(f"bad_rate must be between 0 and 1, got {bad_rate}")
    first_day, last_day = month_window(start_month, months)
    histories = Histories.empty()
    taken_names: set[str] = set()
    departments: dict[str, int] = {}
    taken_ids: set[str] = set()
    for index in range(1, projects + 1):
        project = make_project(stream(seed, "project", index), index, first_day, taken_names, departments)
        ProjectBuilder(seed, index, project, (first_day, last_day), histories).build(taken_ids)
    end = timeline_end(last_day)
    versions = {}
    for entity, history in histories.all().items():
        history.drop_after(end)
        versions[entity] = history.versions()
    defects = apply_defects(seed, bad_rate, versions)
    return Dataset(
        seed=seed,
        start_month=start_month,
        months=months,
        first_day=first_day,
        last_day=last_day,
        timeline_end=end,
        bad_rate=bad_rate,
        histories=versions,
        defects=defects,
    )

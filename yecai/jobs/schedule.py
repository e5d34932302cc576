"""Schedule arithmetic: cron moments in Beijing time, judged against the Chinese working calendar.

The cron expression picks moments; `holidays` judges each: `run` keeps it, `skip` drops moments on
non-working days (statutory holidays, rest days that are not 调休 make-up days), `next_workday`
moves them to the same time on the next working day (moments landing together are one run).
Pure functions: the scheduler and `yecai jobs list` pass the time they mean.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from croniter import croniter

from yecai.errors import ConfigurationError
from yecai.jobs.calendar import WorkCalendar
from yecai.workspace import Schedule

BEIJING = ZoneInfo("Asia/Shanghai")
HORIZON = dt.timedelta(days=800)  # nothing this far ahead: the expression or the calendar is wrong
MAX_STEPS = 200_000  # cron moments examined per question (bounds "* * * * *" over long holidays)
LOOKBACK_DAYS = 60  # the longest stretch of non-working days we are prepared to look back over


def validate_cron(expression: str, job: str = "-") -> None:
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ConfigurationError(
            f"作业 {job} 的 cron 表达式无效：{expression!r}（分 时 日 月 周，北京时间）",
            f"job {job}: invalid cron expression {expression!r} (minute hour day month weekday, Beijing time)",
        )


def beijing(moment: dt.datetime) -> dt.datetime:
    """An aware moment in Beijing time (naive input is taken as UTC, as the store returns it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BEIJING)


def effective(moment: dt.datetime, policy: str, calendar: WorkCalendar) -> dt.datetime | None:
    """When a cron moment actually runs under the holiday policy (None: skipped)."""
    if policy == "run" or calendar.is_workday(moment.date()):
        return moment
    if policy == "skip":
        return None
    day = calendar.next_workday(moment.date())
    return dt.datetime.combine(day, moment.time(), tzinfo=BEIJING)


def _stretch_start(day: dt.date, calendar: WorkCalendar) -> dt.date:
    """The first day whose moments could be shifted onto `day` or later: the day after the last
    working day before `day` (a moment on an earlier date lands on or before that working day)."""
    for _ in range(LOOKBACK_DAYS):
        previous = day - dt.timedelta(days=1)
        if calendar.is_workday(previous):
            break
        day = previous
    return day


def _first_on(expression: str, day: dt.date, after: dt.time | None) -> dt.datetime | None:
    """The first cron moment on `day` (strictly after `after` when given)."""
    start = dt.datetime.combine(day, after or dt.time(0), tzinfo=BEIJING)
    if after is None:
        start -= dt.timedelta(seconds=1)  # get_next is strictly after its start
    moment: dt.datetime = croniter(expression, start).get_next(dt.datetime)
    return moment if moment.date() == day else None


def _first_on_workday(expression: str, after: dt.datetime, calendar: WorkCalendar) -> dt.datetime | None:
    """The first cron moment strictly after `after` that falls on a working day."""
    moments = croniter(expression, after)
    for _ in range(MAX_STEPS):
        moment: dt.datetime = moments.get_next(dt.datetime)
        if moment > after + HORIZON:
            return None
        if calendar.is_workday(moment.date()):
            return moment
        # jump over the rest of the non-working day rather than stepping through its moments
        resume = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(0), tzinfo=BEIJING)
        moments = croniter(expression, resume - dt.timedelta(seconds=1))
    return None


def next_run(
    schedule: Schedule, after: dt.datetime, calendar: WorkCalendar, *, job: str = "-"
) -> dt.datetime | None:
    """The first run strictly after `after` (Beijing time), or None if there is none in sight."""
    validate_cron(schedule.cron, job)
    after = beijing(after)
    if schedule.holidays == "run":
        moment: dt.datetime = croniter(schedule.cron, after).get_next(dt.datetime)
        return moment
    best = _first_on_workday(schedule.cron, after, calendar)
    if schedule.holidays == "skip":
        return best
    # next_workday: a moment on a non-working day runs at the same time on the next working day.
    # Walk the non-working days (not their moments: "* * * * *" over 国庆 would be 10,000 steps)
    # from the stretch that leads into `after`'s date, up to the best working-day moment.
    day = _stretch_start(after.date(), calendar)
    last_day = best.date() if best else (after + HORIZON).date()
    while day <= last_day:
        if not calendar.is_workday(day):
            target = calendar.next_workday(day)
            # landing on `after`'s own date only counts after its time of day
            first = _first_on(schedule.cron, day, after.time() if target == after.date() else None)
            if first is not None:
                shifted = dt.datetime.combine(target, first.time(), tzinfo=BEIJING)
                if shifted > after and (best is None or shifted < best):
                    best = shifted
                    last_day = best.date()
        day += dt.timedelta(days=1)
    return best


def upcoming(
    schedule: Schedule, after: dt.datetime, calendar: WorkCalendar, count: int, *, job: str = "-"
) -> list[dt.datetime]:
    """The next `count` runs after `after`."""
    runs: list[dt.datetime] = []
    cursor = beijing(after)
    while len(runs) < count:
        found = next_run(schedule, cursor, calendar, job=job)
        if found is None:
            break
        runs.append(found)
        cursor = found
    return runs


def due_run(
    schedule: Schedule,
    last: dt.datetime,
    now: dt.datetime,
    calendar: WorkCalendar,
    *,
    job: str = "-",
    max_runs: int = 50_000,
) -> dt.datetime | None:
    """The newest run in (last, now], if any: missed runs collapse into the newest one."""
    last, now = beijing(last), beijing(now)
    if now <= last:
        return None
    # Windows ending at `now`, smallest first: the first that holds a run holds the newest one,
    # so a frequent schedule after a long outage never walks through months of missed moments.
    for days in (1, 10, 40, 400):
        cursor = max(last, now - dt.timedelta(days=days))
        found: dt.datetime | None = None
        for _ in range(max_runs):
            upcoming_run = next_run(schedule, cursor, calendar, job=job)
            if upcoming_run is None or upcoming_run > now:
                break
            found = cursor = upcoming_run
        if found is not None or cursor == last:
            return found
    return None

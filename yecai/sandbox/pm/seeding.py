"""Named random streams and office-hour timestamps for the sandbox.pm generator.

Every part of the data (a project, its plan, its costs, its contracts, …) draws from its own
stream named (seed, stream, key), so adding a stream or a bigger window never changes the bytes
of what exists. `random.Random(str)` hashes the string with SHA-512: stable across runs,
platforms and PYTHONHASHSEED. Floats only ever pick among choices; money never passes through one.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from yecai.sandbox.pm.models import CHINA_TZ


def stream(seed: int, name: str, key: object) -> random.Random:
    """The random stream `name` of `key` (a project code, an index …) under `seed`."""
    return random.Random(f"yecai.sandbox.pm/{seed}/{name}/{key}")


def moment(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), CHINA_TZ)


def office_time(rng: random.Random, day: date, first_hour: int = 8, last_hour: int = 20) -> datetime:
    """A moment between first_hour:00:00 and last_hour:59:59 on `day`, China time."""
    return moment(day, rng.randint(first_hour, last_hour), rng.randint(0, 59), rng.randint(0, 59))


def later(rng: random.Random, after: datetime, min_days: int, max_days: int) -> datetime:
    """An office-hours moment `min_days`–`max_days` days after `after`, and strictly after it."""
    day = after.date() + timedelta(days=rng.randint(min_days, max_days))
    stamp = office_time(rng, day)
    return stamp if stamp > after else after + timedelta(minutes=rng.randint(5, 90))


def working_days(first: date, last: date) -> list[date]:
    """Monday to Saturday from `first` to `last` inclusive: sites work Saturdays."""
    days = []
    day = first
    while day <= last:
        if day.weekday() < 6:
            days.append(day)
        day += timedelta(days=1)
    return days


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def months_between(first: date, last: date) -> list[date]:
    """The first day of every calendar month from `first`'s to `last`'s."""
    months = []
    day = first.replace(day=1)
    while day <= last:
        months.append(day)
        day = month_end(day) + timedelta(days=1)
    return months

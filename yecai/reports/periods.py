"""Accounting periods of the reports: one calendar month, written YYYY-MM.

A period is parsed once at the edge (CLI option, query parameter, schedule) and a bad one is a
bilingual `DataError`, so every caller reports it the same way. Kingdee's 会计期间 are calendar
months in the sandbox and in most construction tenants (construction facts §7.2).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from yecai.errors import DataError

_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PATTERN.match(text.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
            raise DataError(
                f"期间 {text!r} 无效：应为 YYYY-MM，例如 2026-10",
                f"period {text!r} is invalid: expected YYYY-MM, e.g. 2026-10",
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Period:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), 12 if self.month == 1 else self.month - 1)

    def back(self, count: int) -> list[Period]:
        """The `count` periods ending with this one, oldest first."""
        periods = [self]
        while len(periods) < count:
            periods.append(periods[-1].previous())
        return periods[::-1]

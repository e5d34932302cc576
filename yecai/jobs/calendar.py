"""Working days in mainland China: statutory holidays and 调休 make-up days, with a fallback table.

`chinesecalendar` knows each year's State Council schedule (published each November) up to the
year it was released for, and raises NotImplementedError beyond. Then a configurable override
table (YAML: year → holidays, make-up workdays) decides, else plain Monday–Friday — each with a
clear warning in the log, so a new January can start before the package is upgraded.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import chinese_calendar
import yaml

from yecai.errors import ConfigurationError

log = logging.getLogger("yecai.jobs.calendar")


class Coverage(StrEnum):
    PACKAGE = "chinesecalendar"  # the published schedule, from the package
    OVERRIDE = "override"  # the configured override table
    WEEKENDS = "weekends"  # nothing known: Monday–Friday are working days


@dataclass(frozen=True, slots=True)
class YearOverride:
    """One year's schedule as configured: statutory holidays and 调休 make-up working days."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()


def _dates(values: Iterable[object], year: int, what: str) -> frozenset[dt.date]:
    """Dates or `start..end` ranges (YAML may hand us date objects or strings)."""
    found: set[dt.date] = set()
    for value in values:
        if isinstance(value, dt.date):
            found.add(value)
            continue
        text = str(value).strip()
        try:
            if ".." in text:
                first, last = (dt.date.fromisoformat(part.strip()) for part in text.split("..", 1))
                if last < first:
                    raise ValueError(text)
                found.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
            else:
                found.add(dt.date.fromisoformat(text))
        except ValueError:
            raise ConfigurationError(
                f"节假日覆盖表 {year} 年 {what} 中的日期无效：{text}",
                f"holiday override table, year {year}, {what}: invalid date {text}",
            ) from None
    wrong = sorted(d for d in found if d.year != year)
    if wrong:
        raise ConfigurationError(
            f"节假日覆盖表 {year} 年 {what} 含其他年份的日期：{wrong[0]}",
            f"holiday override table, year {year}, {what}: {wrong[0]} is not in {year}",
        )
    return frozenset(found)


def parse_overrides(data: Mapping[object, object]) -> dict[int, YearOverride]:
    """`{2027: {holidays: [...], workdays: [...]}}` → year overrides (ranges `a..b` allowed)."""
    table: dict[int, YearOverride] = {}
    for key, value in data.items():
        try:
            year = int(str(key))
        except ValueError:
            raise ConfigurationError(
                f"节假日覆盖表的键必须是年份：{key}", f"holiday override table keys must be years: {key}"
            ) from None
        entry = value if isinstance(value, Mapping) else {}
        unknown = set(entry) - {"holidays", "workdays"}
        if unknown or not isinstance(value, Mapping):
            raise ConfigurationError(
                f"节假日覆盖表 {year} 年只能有 holidays 和 workdays 两项",
                f"holiday override table, year {year}: only holidays and workdays are allowed",
            )
        holidays = _dates(entry.get("holidays") or [], year, "holidays")
        workdays = _dates(entry.get("workdays") or [], year, "workdays")
        both = sorted(holidays & workdays)
        if both:
            raise ConfigurationError(
                f"节假日覆盖表 {year} 年：{both[0]} 既是假日又是调休工作日",
                f"holiday override table, year {year}: {both[0]} is both a holiday and a make-up workday",
            )
        table[year] = YearOverride(holidays, workdays)
    return table


def load_overrides(path: Path) -> dict[int, YearOverride]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"无法读取节假日覆盖表 {path}：{exc}", f"cannot read the holiday override table {path}: {exc}"
        ) from None
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"节假日覆盖表 {path} 不是映射结构", f"holiday override table {path} is not a mapping"
        )
    return parse_overrides(data)


@dataclass
class WorkCalendar:
    """Is a date a working day? The package first, then the override table, then Monday–Friday."""

    overrides: Mapping[int, YearOverride] = field(default_factory=dict)
    _warned: set[tuple[int, Coverage]] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def coverage(self, year: int) -> Coverage:
        """Where the schedule of `year` comes from."""
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            return Coverage.OVERRIDE if year in self.overrides else Coverage.WEEKENDS
        return Coverage.PACKAGE

    def is_workday(self, day: dt.date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
        override = self.overrides.get(day.year)
        if override is not None:
            self._warn(day.year, Coverage.OVERRIDE)
            if day in override.workdays:
                return True
            if day in override.holidays:
                return False
            return day.weekday() < 5
        self._warn(day.year, Coverage.WEEKENDS)
        return day.weekday() < 5

    def next_workday(self, day: dt.date, *, limit: int = 60) -> dt.date:
        """The first working day on or after `day`."""
        for offset in range(limit):
            candidate = day + dt.timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        raise ConfigurationError(
            f"{day} 之后 {limit} 天内没有工作日：请检查节假日覆盖表",
            f"no working day within {limit} days of {day}: check the holiday override table",
        )

    def _warn(self, year: int, coverage: Coverage) -> None:
        # Once per year and source per process: a scheduler asks every minute.
        with self._lock:
            if (year, coverage) in self._warned:
                return
            self._warned.add((year, coverage))
        if coverage is Coverage.OVERRIDE:
            log.warning(
                "chinesecalendar 尚无 %s 年的节假日安排，改用节假日覆盖表；请在国务院公布后升级 chinesecalendar / "
                "chinesecalendar has no holiday schedule for %s yet; using the override table — upgrade "
                "chinesecalendar once the State Council publishes it",
                year,
                year,
            )
        else:
            log.warning(
                "chinesecalendar 与覆盖表都没有 %s 年的节假日安排，暂按周一至周五为工作日；请在覆盖表中补充该年 / "
                "neither chinesecalendar nor the override table knows %s; treating Monday–Friday as working "
                "days — add the year to the holiday override table",
                year,
                year,
            )

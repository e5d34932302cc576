"""Schedule arithmetic: cron in Beijing time × the holiday policy, on 2026's real schedule (调休
make-up days included), the override table for years chinesecalendar lacks, and properties checked
against a brute-force oracle."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.errors import ConfigurationError
from yecai.jobs.calendar import Coverage, WorkCalendar, load_overrides, parse_overrides
from yecai.jobs.failures import backoff
from yecai.jobs.schedule import BEIJING, HORIZON, due_run, effective, next_run, upcoming
from yecai.workspace import Schedule

CAL = WorkCalendar()


def bj(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=BEIJING)  # type: ignore[misc]


def days(runs: list[dt.datetime]) -> list[str]:
    return [r.strftime("%m-%d %H:%M") for r in runs]


# --- the 2026 calendar -------------------------------------------------------------------------


def test_2026_holidays_and_make_up_days() -> None:
    make_up = [dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 10, 10)]
    assert all(d.weekday() >= 5 for d in make_up)  # Saturdays and Sundays that are working days
    assert all(CAL.is_workday(d) for d in make_up)
    national_day = [dt.date(2026, 10, d) for d in range(1, 8)]
    assert not any(CAL.is_workday(d) for d in national_day)
    spring = [dt.date(2026, 2, d) for d in range(15, 24)]
    assert not any(CAL.is_workday(d) for d in spring)
    assert CAL.next_workday(dt.date(2026, 10, 1)) == dt.date(2026, 10, 8)
    assert CAL.next_workday(dt.date(2026, 1, 1)) == dt.date(2026, 1, 4)  # a make-up Sunday
    assert CAL.coverage(2026) is Coverage.PACKAGE


def test_nightly_runs_around_national_day() -> None:
    after = bj(2026, 9, 30, 12)
    nightly = "0 2 * * *"
    run = upcoming(Schedule(cron=nightly, holidays="run"), after, CAL, 11)
    assert days(run)[0] == "10-01 02:00"
    assert len(run) == 11
    skip = upcoming(Schedule(cron=nightly, holidays="skip"), after, CAL, 4)
    # 10-01…10-07 skipped; Saturday 10-10 is a 调休 working day, Sunday 10-11 is not
    assert days(skip) == ["10-08 02:00", "10-09 02:00", "10-10 02:00", "10-12 02:00"]
    shifted = upcoming(Schedule(cron=nightly, holidays="next_workday"), after, CAL, 4)
    # seven holiday nights move to 10-08 and are one run with 10-08's own
    assert days(shifted) == ["10-08 02:00", "10-09 02:00", "10-10 02:00", "10-12 02:00"]


def test_monthly_run_moves_to_the_next_working_day() -> None:
    monthly = Schedule(cron="0 2 1 * *", holidays="next_workday")
    runs = upcoming(monthly, bj(2025, 12, 2), CAL, 11)
    assert [r.date().isoformat() for r in runs] == [
        "2026-01-04",  # 1/1–1/3 holidays; Sunday 1/4 is a make-up working day
        "2026-02-02",  # 2/1 is a Sunday
        "2026-03-02",  # 3/1 is a Sunday
        "2026-04-01",
        "2026-05-06",  # 5/1–5/5 劳动节
        "2026-06-01",
        "2026-07-01",
        "2026-08-03",
        "2026-09-01",
        "2026-10-08",  # 国庆
        "2026-11-02",
    ]
    assert all(r.time() == dt.time(2, 0) for r in runs)
    skipped = next_run(Schedule(cron="0 2 1 * *", holidays="skip"), bj(2026, 9, 15), CAL)
    assert skipped == bj(2026, 12, 1, 2)  # 10/1 (国庆) and 11/1 (a Sunday) are skipped


def test_shifted_moments_keep_their_time_and_merge() -> None:
    twice_thursdays = Schedule(cron="0 2,22 * * 4", holidays="next_workday")
    runs = upcoming(twice_thursdays, bj(2026, 9, 28), CAL, 4)
    # Thursday 10-01 (holiday) → Thursday 10-08, where the regular runs are the same instants
    assert days(runs) == ["10-08 02:00", "10-08 22:00", "10-15 02:00", "10-15 22:00"]
    every_minute = Schedule(cron="* * * * *", holidays="next_workday")
    assert next_run(every_minute, bj(2026, 10, 4, 12), CAL) == bj(2026, 10, 8, 0, 0)
    assert next_run(every_minute, bj(2026, 10, 8, 0, 0), CAL) == bj(2026, 10, 8, 0, 1)


def test_cron_is_beijing_time() -> None:
    nightly = Schedule(cron="0 2 * * *")
    after_utc = dt.datetime(2026, 10, 12, 17, 59, tzinfo=dt.UTC)  # 01:59 on the 13th in Beijing
    found = next_run(nightly, after_utc, CAL)
    assert found == dt.datetime(2026, 10, 12, 18, 0, tzinfo=dt.UTC)
    assert found is not None
    assert found.utcoffset() == dt.timedelta(hours=8)
    naive_utc = dt.datetime(2026, 10, 12, 17, 59)  # what SQLite hands back: UTC without a zone
    assert next_run(nightly, naive_utc, CAL) == found


def test_invalid_cron_is_a_configuration_error() -> None:
    for bad in ("bad", "0 2 * *", "0 0 2 * * * *", "61 2 * * *"):
        with pytest.raises(ConfigurationError) as caught:
            next_run(Schedule(cron=bad), bj(2026, 10, 1), CAL, job="costs")
        assert "costs" in caught.value.zh
        assert "cron" in caught.value.en


@pytest.mark.slow
def test_due_run_collapses_missed_runs_into_the_newest() -> None:
    nightly = Schedule(cron="0 2 * * *", holidays="skip")
    # scheduler down from 9-25 to the middle of the holiday: one run, the newest missed (9-30)
    assert due_run(nightly, bj(2026, 9, 25, 3), bj(2026, 10, 5, 9), CAL) == bj(2026, 9, 30, 2)
    assert due_run(nightly, bj(2026, 9, 30, 2), bj(2026, 10, 7, 23), CAL) is None
    assert due_run(nightly, bj(2026, 10, 7, 23), bj(2026, 10, 8, 2, 0, 30), CAL) == bj(2026, 10, 8, 2)
    every_minute = Schedule(cron="* * * * *", holidays="next_workday")
    assert due_run(every_minute, bj(2026, 9, 1), bj(2026, 10, 5), CAL) == bj(2026, 9, 30, 23, 59)


# --- the override table ------------------------------------------------------------------------

TABLE_2027 = {2027: {"holidays": ["2027-01-01..2027-01-03"], "workdays": ["2027-01-09"]}}


def test_override_table_decides_years_the_package_lacks(caplog: pytest.LogCaptureFixture) -> None:
    calendar = WorkCalendar(parse_overrides(TABLE_2027))
    assert calendar.coverage(2027) is Coverage.OVERRIDE
    with caplog.at_level(logging.WARNING, logger="yecai.jobs.calendar"):
        monthly = Schedule(cron="0 2 1 * *", holidays="next_workday")
        assert next_run(monthly, bj(2026, 12, 15), calendar) == bj(2027, 1, 4, 2)
        skip = upcoming(Schedule(cron="0 2 * * *", holidays="skip"), bj(2027, 1, 7, 12), calendar, 3)
        assert days(skip) == ["01-08 02:00", "01-09 02:00", "01-11 02:00"]  # Sat 1/9 configured as 调休
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1  # once per year, however often the scheduler asks
    assert "2027" in warned[0]
    assert "override table" in warned[0]
    assert "覆盖表" in warned[0]


def test_without_any_table_monday_to_friday_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    calendar = WorkCalendar()
    assert calendar.coverage(2027) is Coverage.WEEKENDS
    with caplog.at_level(logging.WARNING, logger="yecai.jobs.calendar"):
        monthly = Schedule(cron="0 2 1 * *", holidays="next_workday")
        assert next_run(monthly, bj(2026, 12, 15), calendar) == bj(2027, 1, 1, 2)  # a Friday
    assert any("Monday–Friday" in r.getMessage() and "2027" in r.getMessage() for r in caplog.records)


def test_override_table_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "2027:\n  holidays: [2027-02-06..2027-02-12]\n  workdays: [2027-02-14]\n", encoding="utf-8"
    )
    table = load_overrides(path)
    assert len(table[2027].holidays) == 7
    assert dt.date(2027, 2, 14) in table[2027].workdays
    bad = [
        {2027: {"holidays": ["2027-13-01"]}},
        {2027: {"holidays": ["2026-12-31"]}},
        {2027: {"holidays": ["2027-01-05"], "workdays": ["2027-01-05"]}},
        {2027: {"holiday": ["2027-01-05"]}},
        {"next": {"holidays": []}},
        {2027: {"holidays": ["2027-01-05..2027-01-01"]}},
    ]
    for data in bad:
        with pytest.raises(ConfigurationError):
            parse_overrides(data)  # type: ignore[arg-type]
    path.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_overrides(path)


# --- properties against a brute-force oracle ---------------------------------------------------

CRONS = [
    "0 2 * * *",
    "30 9 * * 1-5",
    "0 2 1 * *",
    "0 2,22 * * 4",
    "0 */6 * * *",
    "15 8 * * 0",
    "0 2 8-14 * *",
]
POLICIES = ["run", "skip", "next_workday"]
moments = st.datetimes(min_value=dt.datetime(2025, 1, 15), max_value=dt.datetime(2026, 11, 1)).map(
    lambda d: d.replace(tzinfo=BEIJING, microsecond=0)
)


def oracle(expression: str, policy: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every run in (start, end], by enumerating each cron moment from 40 days before `start`."""
    found: set[dt.datetime] = set()
    it = croniter(expression, start - dt.timedelta(days=40))
    while True:
        moment: dt.datetime = it.get_next(dt.datetime)
        if moment > end:
            break
        runs_at = effective(moment, policy, CAL)
        if runs_at is not None and start < runs_at <= end:
            found.add(runs_at)
    return sorted(found)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CRONS), st.sampled_from(POLICIES), moments)
def test_next_run_is_the_first_run_the_oracle_finds(expression: str, policy: str, after: dt.datetime) -> None:
    schedule = Schedule(cron=expression, holidays=policy)  # type: ignore[arg-type]
    found = next_run(schedule, after, CAL)
    if found is None:
        # Sundays under "skip" run only on 调休 make-up Sundays; none may be left in sight.
        assert oracle(expression, policy, after, after + HORIZON) == []
        return
    assert found > after
    assert oracle(expression, policy, after, found) == [found]
    if policy != "run":
        assert CAL.is_workday(found.date())


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(CRONS), st.sampled_from(POLICIES), moments, st.integers(min_value=0, max_value=20 * 24)
)
def test_due_run_is_the_newest_run_in_the_window(
    expression: str, policy: str, last: dt.datetime, hours: int
) -> None:
    schedule = Schedule(cron=expression, holidays=policy)  # type: ignore[arg-type]
    now = last + dt.timedelta(hours=hours)
    expected = oracle(expression, policy, last, now)
    assert due_run(schedule, last, now, CAL) == (expected[-1] if expected else None)


@given(
    st.integers(min_value=1, max_value=30),
    st.floats(min_value=0.01, max_value=100),
    st.floats(min_value=0, max_value=1),
)
def test_backoff_grows_exponentially_within_its_jitter(attempt: int, base: float, jitter: float) -> None:
    cap = 1000.0
    nominal = min(cap, base * 2 ** (attempt - 1))
    delay = backoff(attempt, base=base, cap=cap, jitter=jitter)
    assert nominal * (1 - jitter) - 1e-9 <= delay <= nominal + 1e-9

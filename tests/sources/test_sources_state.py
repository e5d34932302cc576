"""Stream state owned by the sources framework: cursors, the resume point, forward-only moves."""

from __future__ import annotations

import datetime as dt

from yecai.sources.state import BEIJING, NewestCursor, advanced, cursor_of, parse_cursor, resume_since


def test_naive_cursors_are_beijing_time_and_z_is_utc() -> None:
    assert parse_cursor("2026-10-01T09:00:00") == dt.datetime(2026, 10, 1, 9, tzinfo=BEIJING)
    assert parse_cursor("2026-10-01T01:00:00Z") == dt.datetime(2026, 10, 1, 9, tzinfo=BEIJING)


def test_resume_at_the_stored_cursor_minus_the_look_back_unless_told_since() -> None:
    window = dt.timedelta(minutes=30)
    assert resume_since(None, window) is None
    assert resume_since("2026-10-01T09:00:00+08:00", window) == "2026-10-01T08:30:00+08:00"
    assert resume_since("2026-10-01T09:00:00+08:00", window, "2026-09-01") == "2026-09-01T00:00:00+08:00"


def test_a_cursor_only_moves_forward() -> None:
    assert advanced(None, "2026-10-01T09:00:00+08:00") == "2026-10-01T09:00:00+08:00"
    assert advanced("2026-10-01T09:00:00+08:00", "2026-10-01T08:00:00+08:00") == "2026-10-01T09:00:00+08:00"
    assert advanced("2026-10-01T09:00:00+08:00", "2026-10-01T02:00:00Z") == "2026-10-01T02:00:00Z"


def test_the_newest_cursor_of_unordered_items_and_unusable_values() -> None:
    newest = NewestCursor("updated_at")
    newest.see([{"updated_at": "2026-10-01T09:05:00+08:00"}, {"updated_at": "not a time"}, {}])
    newest.see([{"updated_at": "2026-10-01T09:01:00+08:00"}])
    assert newest.value == "2026-10-01T09:05:00+08:00"
    assert cursor_of({"updated_at": 5}, "updated_at") is None
    assert NewestCursor(None).value is None

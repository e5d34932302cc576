"""Stream state: cursors, where to resume a stream, and when its cursor may move.

The framework owns state (the dlt / Singer SDK lesson), so no connector and no pipeline step
re-implements it: a cursor value is an ISO 8601 timestamp read from the stream's cursor field; a
pull resumes at the stored cursor minus the stream's look-back window (late rows are re-read,
content hashes make them harmless); a cursor only ever moves forward. Pure: where the cursor is
kept is the store's business (`yecai.store.staging`), in the transaction of the records it covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Sources without an offset in their stamps are Chinese systems on Beijing time.
BEIJING = dt.timezone(dt.timedelta(hours=8))


def parse_cursor(value: str) -> dt.datetime:
    """Cursor values are ISO 8601 timestamps; naive ones are taken as Beijing time (UTC+8)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BEIJING)
    return parsed


def cursor_of(item: dict[str, Any], cursor_field: str | None) -> tuple[dt.datetime, str] | None:
    """The item's cursor as (moment, text as received), or None when it has no usable one."""
    if not cursor_field:
        return None
    raw = item.get(cursor_field)
    if not isinstance(raw, str):
        return None
    try:
        return parse_cursor(raw), raw
    except ValueError:
        return None


def resume_since(stored: str | None, look_back: dt.timedelta, since: str | None = None) -> str | None:
    """Where a pull of the stream starts: the stored cursor minus the look-back window.

    `since` (an ISO date or datetime given by a person) re-reads from that moment instead; it
    moves where reading starts, never the stored cursor.
    """
    start = (parse_cursor(stored) - look_back).isoformat() if stored else None
    if since:
        start = parse_cursor(since if "T" in since else since + "T00:00:00").isoformat()
    return start


def advanced(stored: str | None, seen: str) -> str:
    """The cursor to keep after reading up to `seen`: cursors only ever move forward."""
    if stored is None or parse_cursor(seen) > parse_cursor(stored):
        return seen
    return stored


@dataclass(slots=True)
class NewestCursor:
    """The newest cursor among the items read so far (sources need not return them in order)."""

    cursor_field: str | None
    newest: tuple[dt.datetime, str] | None = None

    def see(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            found = cursor_of(item, self.cursor_field)
            if found and (self.newest is None or found[0] > self.newest[0]):
                self.newest = found

    @property
    def value(self) -> str | None:
        return self.newest[1] if self.newest else None

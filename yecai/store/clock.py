"""UTC time as the store keeps it: now, values read back made aware, values made ready to write.

SQLite hands back naive datetimes (it keeps the wall time it is given and drops the zone), so every
value read is made aware UTC here and every value written is converted to UTC first.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC; SQLite hands back naive values that were written as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def to_store(value: dt.datetime) -> dt.datetime:
    """What to write: UTC (SQLite keeps the wall time it is given and drops the zone)."""
    converted = as_utc(value)
    assert converted is not None
    return converted

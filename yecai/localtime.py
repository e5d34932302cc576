"""Times shown to people: in the workspace's time zone, always labelled.

The store keeps UTC (`yecai.store.clock`); people read their own wall clock. Every time a person
sees — CLI tables and messages, the import, reconciliation and monthly reports (xlsx and HTML), the
console — is turned into text here, in one zone and with its label: "2026-10-06 06:19 (UTC+8)".
Before, the import CLI and its report printed UTC (22:19) unlabelled while the console showed
Beijing time (06:19 the next day) for the same moment.

The zone is the workspace's `timezone:` (an IANA name), Asia/Shanghai when it says nothing. One
process serves one workspace, so loading the workspace sets the zone for the process (`use_zone`);
`YECAI_TIMEZONE` carries it into the import worker process (and may set it where no workspace is
read). Schedules (cron) are a separate matter: they stay in Beijing time (yecai.jobs.schedule).
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yecai.errors import ConfigurationError

DEFAULT_ZONE = "Asia/Shanghai"
ZONE_ENV = "YECAI_TIMEZONE"

_chosen: ZoneInfo | None = None  # the workspace's zone once a workspace was read


def zone_named(name: str) -> ZoneInfo:
    """The zone of an IANA name (Asia/Shanghai, Asia/Hong_Kong, UTC), or a bilingual error."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"未知时区 {name!r}：请写 IANA 时区名，如 Asia/Shanghai",
            f"unknown time zone {name!r}: write an IANA zone name such as Asia/Shanghai",
        ) from None


def use_zone(name: str | None) -> None:
    """Show times in zone `name` from now on in this process; None: back to the default."""
    global _chosen
    _chosen = zone_named(name) if name else None


def people_zone() -> ZoneInfo:
    """The zone times are shown in: the workspace's, else YECAI_TIMEZONE, else Asia/Shanghai."""
    if _chosen is not None:
        return _chosen
    named = os.environ.get(ZONE_ENV, "").strip()
    if named:
        try:
            return zone_named(named)
        except ConfigurationError:
            pass  # a wrong variable must not stop a report: the default zone, still labelled
    return ZoneInfo(DEFAULT_ZONE)


def local(moment: dt.datetime, zone: ZoneInfo | None = None) -> dt.datetime:
    """`moment` on people's clock (a naive value is UTC, as the store hands it back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone or people_zone())


def offset_label(moment: dt.datetime) -> str:
    """'UTC+8', 'UTC+5:30', 'UTC-3' or 'UTC' for an aware moment."""
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def shown(
    moment: dt.datetime | None,
    *,
    seconds: bool = False,
    empty: str = "—",
    zone: ZoneInfo | None = None,
) -> str:
    """'2026-10-06 06:19 (UTC+8)': a stored moment as people read it, labelled with its offset."""
    if moment is None:
        return empty
    there = local(moment, zone)
    text = f"{there:%Y-%m-%d %H:%M:%S}" if seconds else f"{there:%Y-%m-%d %H:%M}"
    return f"{text} ({offset_label(there)})"


def zone_caption(zone: ZoneInfo | None = None) -> str:
    """'UTC+8 Asia/Shanghai': which clock a table's times are on, for a heading."""
    zone = zone or people_zone()
    return f"{offset_label(dt.datetime.now(zone))} {zone.key}"

"""Ordering and the three pagination styles of sandbox.pm: page number, offset, cursor.

A `Listing` keeps one stream's versions in API order, (updated_at, key), and shows at a simulated
"now" each record's current version (tombstones when asked). The cursor names the last row seen,
so rows created or edited later, which sort after it, never shift a page.
"""

from __future__ import annotations

import base64
import bisect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from yecai.sandbox.pm.errors import invalid_parameter, shown
from yecai.sandbox.pm.timeline import Tombstone, Version

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
_CURSOR_PREFIX = "c1."


class Stamped(Protocol):
    """What a listable record offers: a change stamp and a unique key."""

    @property
    def updated_at(self) -> datetime: ...

    @property
    def key(self) -> str: ...


T = TypeVar("T", bound=Stamped)


def _order(row: Stamped) -> tuple[datetime, str]:
    return (row.updated_at, row.key)


class Listing:
    """One stream's versions sorted by (updated_at, key), viewed at any moment of the timeline."""

    def __init__(self, versions: Sequence[Version]) -> None:
        self._versions: list[Version] = sorted(versions, key=lambda v: (v.at, v.record.key))
        self._stamps: list[datetime] = [v.at for v in self._versions]
        self._lock = threading.Lock()
        self._views: dict[tuple[datetime | None, bool], list[Any]] = {}

    def __len__(self) -> int:
        return len(self._versions)

    @property
    def versions(self) -> list[Version]:
        return self._versions

    def changed_between(self, after: datetime, until: datetime) -> list[Version]:
        """Versions that took effect in (after, until]: what a clock advance makes happen."""
        start = bisect.bisect_right(self._stamps, after)
        end = bisect.bisect_right(self._stamps, until)
        return self._versions[start:end]

    def rows(self, now: datetime | None, include_deleted: bool = False) -> list[Any]:
        """Every row current at `now` (None: the newest), in API order; cached per moment."""
        view = (now, include_deleted)
        with self._lock:
            cached = self._views.get(view)
            if cached is not None:
                return cached
            end = len(self._versions) if now is None else bisect.bisect_right(self._stamps, now)
            rows = [
                v.record
                for v in self._versions[:end]
                if (v.until is None or (now is not None and now < v.until))
                and (include_deleted or not v.deleted)
            ]
            if len(self._views) > 8:  # the clock only moves forward; old moments are not asked again
                self._views.clear()
            self._views[view] = rows
            return rows

    def select(
        self,
        now: datetime | None,
        updated_since: datetime | None = None,
        where: Callable[[Any], bool] | None = None,
        include_deleted: bool = False,
    ) -> Sequence[Any]:
        """Rows current at `now` with `updated_at >= updated_since` that satisfy `where`, in API order."""
        rows = self.rows(now, include_deleted)
        if updated_since is not None:
            rows = rows[bisect.bisect_left(rows, updated_since, key=lambda row: row.updated_at) :]
        if where is None:
            return rows
        return [row for row in rows if isinstance(row, Tombstone) or where(row)]


# ---------------------------------------------------------------------------------------------
# Page number


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    page_size: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


def page_of(rows: Sequence[T], page: int, page_size: int) -> Page[T]:
    """Page `page` (1-based) of `rows`; past the end it is empty, never an error."""
    if page < 1 or page_size < 1:
        raise ValueError(f"page and page_size start at 1, got page={page} page_size={page_size}")
    start = (page - 1) * page_size
    return Page(items=rows[start : start + page_size], page=page, page_size=page_size, total=len(rows))


def envelope(page: Page[Any]) -> dict[str, Any]:
    """The success answer: {"code": 0, "message": "ok", "data": {items, page, page_size, total, has_more}}."""
    return ok(
        {
            "items": rendered(page.items),
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
            "has_more": page.has_more,
        }
    )


# ---------------------------------------------------------------------------------------------
# Offset


def offset_of(rows: Sequence[Any], offset: int, limit: int) -> dict[str, Any]:
    """{items, offset, limit, total, has_more}: `limit` rows from position `offset` (0-based)."""
    if offset < 0 or limit < 1:
        raise ValueError(f"offset starts at 0 and limit at 1, got offset={offset} limit={limit}")
    items = rows[offset : offset + limit]
    return ok(
        {
            "items": rendered(items),
            "offset": offset,
            "limit": limit,
            "total": len(rows),
            "has_more": offset + len(items) < len(rows),
        }
    )


# ---------------------------------------------------------------------------------------------
# Cursor


def encode_cursor(row: Stamped) -> str:
    """An opaque cursor naming `row`'s place in API order."""
    raw = f"{row.updated_at.isoformat()}|{row.key}".encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(updated_at, key) of the row a cursor names; a 400 for anything that is not one of ours."""
    try:
        if not cursor.startswith(_CURSOR_PREFIX):
            raise ValueError("prefix")
        body = cursor[len(_CURSOR_PREFIX) :]
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
        stamp, key = text.split("|", 1)
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None or not key:
            raise ValueError("shape")
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter(
            f"参数 cursor 的值 {shown(cursor)} 不是本系统签发的游标，请使用上一页返回的 next_cursor",
            f"parameter cursor value {shown(cursor)} is not a cursor this system issued; "
            "pass the next_cursor of the previous page",
        ) from None
    return moment, key


def cursor_page(rows: Sequence[Any], cursor: str | None, page_size: int) -> dict[str, Any]:
    """{items, page_size, next_cursor, has_more, resume_cursor}: rows after `cursor` (None: from the start).

    `next_cursor` is null once nothing is left now; `resume_cursor` always names the last row
    seen, so a client can come back later for what appears after it.
    """
    start = 0
    if cursor is not None:
        start = bisect.bisect_right(rows, decode_cursor(cursor), key=_order)
    items = rows[start : start + page_size]
    more = start + len(items) < len(rows)
    last = encode_cursor(items[-1]) if items else cursor
    return ok(
        {
            "items": rendered(items),
            "page_size": page_size,
            "next_cursor": last if more else None,
            "has_more": more,
            "resume_cursor": last,
        }
    )


# ---------------------------------------------------------------------------------------------


def rendered(items: Sequence[Any]) -> list[Any]:
    """Records as they are sent: dataclasses as they are, tombstones as their JSON rows."""
    return [item.as_item() if isinstance(item, Tombstone) else item for item in items]


def ok(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "ok", "data": data}

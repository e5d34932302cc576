"""Ordering and page-number pagination for sandbox.pm list endpoints.

A `Listing` keeps one stream's records in API order — (updated_at, key) — so that an
`updated_since` cut is a binary search and pages never shift while nothing changes. `page_of`
slices one page and `envelope` wraps it the way the API answers. Other styles (offset, cursor)
belong here as siblings of `page_of`, working on the same ordered rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


class Stamped(Protocol):
    """What a listable record offers: a change stamp and a unique key."""

    @property
    def updated_at(self) -> datetime: ...

    @property
    def key(self) -> str: ...


T = TypeVar("T", bound=Stamped)


class Listing(Generic[T]):
    """Records of one stream sorted by (updated_at, key), with a fast `updated_since` cut."""

    def __init__(self, records: Iterable[T]) -> None:
        self._rows: list[T] = sorted(records, key=lambda row: (row.updated_at, row.key))
        self._stamps: list[datetime] = [row.updated_at for row in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def select(
        self, updated_since: datetime | None = None, where: Callable[[T], bool] | None = None
    ) -> Sequence[T]:
        """Rows with `updated_at >= updated_since` that satisfy `where`, in API order."""
        start = 0 if updated_since is None else bisect.bisect_left(self._stamps, updated_since)
        rows = self._rows[start:] if start else self._rows
        if where is None:
            return rows
        return [row for row in rows if where(row)]


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
    return {
        "code": 0,
        "message": "ok",
        "data": {
            "items": page.items,
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
            "has_more": page.has_more,
        },
    }

"""The pagination styles real REST systems use, as small declarative objects.

Page number (`page`/`page_size`, a `has_more` flag or a short page marks the end), offset
(`offset`/`limit` with a `total`), and cursor (`cursor` → `next_cursor`, opaque, stable while the
source changes). Each style says which query parameters ask for the first page and, from a page's
answer, which ask for the next one — or that there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Path = tuple[str, ...]


def dig(body: Any, path: Path) -> Any:
    """The value at a dotted path in a JSON answer, or None."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def dotted(value: str) -> Path:
    """A dotted path as written in a connector file ("data.items") → its keys."""
    return tuple(part for part in value.split(".") if part)


class Pagination(Protocol):
    page_size: int

    def start(self) -> dict[str, Any]: ...

    def advance(self, params: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class PageNumberPagination:
    """`?page=1&page_size=100`; the end is a false `has_more` flag or a short page."""

    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = 100
    first_page: int = 1
    has_more_path: Path = ("data", "has_more")

    def start(self) -> dict[str, Any]:
        return {self.page_param: self.first_page, self.size_param: self.page_size}

    def advance(self, params: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        flag = dig(body, self.has_more_path)
        more = bool(flag) if flag is not None else len(items) >= self.page_size
        if not more or not items:
            return None
        return {**params, self.page_param: int(params[self.page_param]) + 1}


@dataclass(frozen=True, slots=True)
class OffsetPagination:
    """`?offset=0&limit=100`; the end is reaching `total` (or a short page when there is none)."""

    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = 100
    total_path: Path = ("data", "total")

    def start(self) -> dict[str, Any]:
        return {self.offset_param: 0, self.limit_param: self.page_size}

    def advance(self, params: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        if not items:
            return None
        offset = int(params[self.offset_param]) + len(items)
        total = dig(body, self.total_path)
        if total is not None and offset >= int(total):
            return None
        if total is None and len(items) < self.page_size:
            return None
        return {**params, self.offset_param: offset}


@dataclass(frozen=True, slots=True)
class CursorPagination:
    """`?cursor=…&page_size=100`; each answer carries the next cursor, absent at the end."""

    cursor_param: str = "cursor"
    size_param: str = "page_size"
    page_size: int = 100
    next_cursor_path: Path = ("data", "next_cursor")

    def start(self) -> dict[str, Any]:
        return {self.size_param: self.page_size}

    def advance(self, params: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        cursor = dig(body, self.next_cursor_path)
        if not cursor:
            return None
        return {**params, self.cursor_param: cursor}


STYLES: dict[str, type[PageNumberPagination | OffsetPagination | CursorPagination]] = {
    "page": PageNumberPagination,
    "offset": OffsetPagination,
    "cursor": CursorPagination,
}

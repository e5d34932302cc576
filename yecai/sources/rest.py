"""Declarative REST streams and the HTTP source that reads them page by page.

A `RestStream` names a path, where the records sit in the JSON answer, the primary key, the cursor
field and the pagination style. `RestSource` does the HTTP: one httpx client with explicit
timeouts and TLS verification, pluggable auth (`auth.py`: bearer, API key, HMAC), and retries with backoff for what is safe to
repeat (GETs after connection errors, timeouts, 429 and 5xx). Bodies are parsed with exact
decimals. Business-level refusals (`code` ≠ 0, 4xx) are raised as SourceError with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from yecai import jsonutil
from yecai.errors import Action, Context, Fault, YecaiError
from yecai.sources.auth import BearerAuth
from yecai.sources.paging import PageNumberPagination, Pagination, dig


class SourceError(YecaiError):
    """A source system call failed; `action` says whether the pull will be retried."""


@dataclass(frozen=True, slots=True)
class RestStream:
    """One kind of record a REST source yields."""

    name: str
    path: str
    primary_key: str
    cursor_field: str | None = None
    cursor_param: str = "updated_since"
    records_path: tuple[str, ...] = ("data", "items")
    pagination: Pagination = field(default_factory=PageNumberPagination)
    params: tuple[tuple[str, str], ...] = ()
    # Rows committed late in the source (long transactions, clock skew) carry cursor values
    # slightly older than the newest seen; re-reading a window behind the cursor catches them,
    # and content hashes make the re-read rows harmless.
    look_back: dt.timedelta = dt.timedelta(minutes=30)
    # True when the source returns rows in ascending cursor order, so the cursor may advance
    # page by page; otherwise it advances only when the whole stream has been read.
    ordered_by_cursor: bool = True


@dataclass(slots=True)
class Page:
    number: int
    items: list[dict[str, Any]]
    has_more: bool


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, SourceError) and exc.action == Action.RETRY


class RestSource:
    """HTTP access to one source system (one connection)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        token: str | None = None,
        connection: str = "pm",
        timeout: httpx.Timeout | None = None,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        attempts: int = 3,
    ) -> None:
        headers = {"Accept": "application/json"}
        if auth is None and token:
            auth = BearerAuth(token)
        self.connection = connection
        self._attempts = attempts
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            auth=auth,
            timeout=timeout or httpx.Timeout(60.0, connect=10.0),
            verify=verify,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any], stream: str | None = None) -> Any:
        """GET with retries for transient failures; returns parsed JSON (exact decimals)."""
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
            reraise=True,
        )
        return retrying(self._get_once, path, params, stream)

    def _get_once(self, path: str, params: dict[str, Any], stream: str | None) -> Any:
        context = Context(connection=self.connection, stream=stream)
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise SourceError(
                "无法连接数据源或读取超时，稍后重试",
                f"cannot reach the source or it timed out ({type(exc).__name__}); will retry",
                Action.RETRY,
                Fault.TRANSIENT,
                context,
            ) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise SourceError(
                f"数据源暂时不可用（HTTP {response.status_code}），稍后重试",
                f"source temporarily unavailable (HTTP {response.status_code}); will retry",
                Action.RETRY,
                Fault.TRANSIENT,
                context,
            )
        if response.status_code in (401, 403):
            raise SourceError(
                f"数据源拒绝了凭据（HTTP {response.status_code}）：请检查连接中的令牌",
                f"the source refused the credentials (HTTP {response.status_code}): check the connection's token",
                Action.FAIL,
                Fault.CONFIGURATION,
                context,
            )
        try:
            body = jsonutil.loads(response.content)
        except ValueError:
            body = None
        if response.status_code >= 400 or body is None:
            detail = response.text[:300]
            raise SourceError(
                f"数据源拒绝了请求（HTTP {response.status_code}）：{detail}",
                f"the source refused the request (HTTP {response.status_code}): {detail}",
                Action.FAIL,
                Fault.CONFIGURATION,
                context,
            )
        if isinstance(body, dict) and body.get("code") not in (None, 0, "0"):
            detail = str(body.get("message"))
            raise SourceError(
                f"数据源返回错误 {body.get('code')}：{detail}",
                f"the source answered error {body.get('code')}: {detail}",
                Action.FAIL,
                Fault.REMOTE,
                context,
            )
        return body

    def pages(
        self, stream: RestStream, since: str | None = None, extra: dict[str, Any] | None = None
    ) -> Iterator[Page]:
        """Every page of `stream` from `since` (already look-back adjusted); `extra` adds filters."""
        base: dict[str, Any] = {**dict(stream.params), **(extra or {})}
        if since and stream.cursor_field:
            base[stream.cursor_param] = since
        params: dict[str, Any] | None = {**base, **stream.pagination.start()}
        number = 0
        while params is not None:
            number += 1
            body = self.get(stream.path, params, stream.name)
            items = dig(body, stream.records_path)
            if not isinstance(items, list):
                raise SourceError(
                    f"数据源应答中找不到记录列表 {'.'.join(stream.records_path)}",
                    f"no record list at {'.'.join(stream.records_path)} in the source's answer",
                    Action.FAIL,
                    Fault.CONFIGURATION,
                    Context(connection=self.connection, stream=stream.name),
                )
            params = stream.pagination.advance(params, body, items)
            yield Page(number, items, params is not None)

"""GenericRestConnector: turns a ConnectorSpec into streams, an authenticated source and mappings.

Field mappings are applied here, purely: a canonical field is read from a dotted source path
(optionally translated through a value map, e.g. 人工费 → labour), joined from several fields, or a
constant. Unknown source values are passed through unchanged so validation names them precisely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from yecai.connectors.generic_rest.spec import ConnectorSpec, FieldSpec, StreamSpec, read_spec
from yecai.sources.auth import BearerAuth, HeaderAuth, HmacAuth
from yecai.sources.connector import Partition, StreamBinding, ToDocument
from yecai.sources.paging import (
    CursorPagination,
    OffsetPagination,
    PageNumberPagination,
    Pagination,
    dig,
    dotted,
)
from yecai.sources.rest import RestSource, RestStream


def _pagination(stream: StreamSpec) -> Pagination:
    p = stream.pagination
    if p.style == "offset":
        return OffsetPagination(p.offset_param, p.limit_param, p.page_size, dotted(p.total_path))
    if p.style == "cursor":
        return CursorPagination(p.cursor_param, p.size_param, p.page_size, dotted(p.next_cursor_path))
    return PageNumberPagination(
        p.page_param, p.size_param, p.page_size, p.first_page, dotted(p.has_more_path)
    )


def _read(item: dict[str, Any], spec: str | FieldSpec) -> Any:
    if isinstance(spec, str):
        return dig(item, dotted(spec))
    if spec.const is not None:
        return spec.const
    if spec.join:
        parts = [dig(item, dotted(path)) for path in spec.join]
        joined = "".join(str(p) for p in parts if p not in (None, ""))
        return joined or spec.default
    value = dig(item, dotted(spec.source or ""))
    if value is None:
        return spec.default
    if spec.map:
        key = str(value).strip()
        return spec.map.get(key, value)
    return value


def _reader(spec: str | FieldSpec) -> Callable[[Any], Any]:
    """`_read` of one field with its paths split once, not once per record (issue 15): a nightly
    pull validates tens of thousands of records of a dozen fields each."""
    if isinstance(spec, str):
        path = dotted(spec)
        if len(path) == 1:
            (key,) = path
            return lambda item: item.get(key) if isinstance(item, dict) else None
        return lambda item: dig(item, path)
    if spec.const is not None or spec.join:
        return lambda item: _read(item, spec)
    source = dotted(spec.source or "")
    default, mapped = spec.default, spec.map

    def read(item: Any) -> Any:
        value = dig(item, source)
        if value is None:
            return default
        if mapped:
            return mapped.get(str(value).strip(), value)
        return value

    return read


def field_mapper(fields: Mapping[str, str | FieldSpec]) -> ToDocument:
    """A pure function from a source record to the canonical document's fields."""
    readers = [(name, _reader(spec)) for name, spec in fields.items()]

    def to_document(item: dict[str, Any]) -> dict[str, Any]:
        return {name: read(item) for name, read in readers}

    return to_document


def _deleted_flag(field: str) -> Any:
    path = dotted(field)

    def is_deleted(item: dict[str, Any]) -> bool:
        value = dig(item, path)
        return value is True or str(value).lower() in {"1", "true", "yes", "y", "是"}

    return is_deleted


def _binding(name: str, stream: StreamSpec) -> StreamBinding:
    rest = RestStream(
        name=name,
        path=stream.path,
        primary_key=stream.primary_key,
        cursor_field=stream.cursor_field,
        cursor_param=stream.cursor_param,
        records_path=dotted(stream.records_path),
        pagination=_pagination(stream),
        params=tuple(stream.params.items()),
        look_back=stream.look_back,
        ordered_by_cursor=stream.ordered_by_cursor,
    )
    partition = stream.partition
    return StreamBinding(
        rest,
        stream.document,
        field_mapper(stream.fields),
        _deleted_flag(stream.deleted_field) if stream.deleted_field else None,
        Partition(partition.param, partition.parent, partition.key) if partition else None,
        stream.deleted_field,
    )


class GenericRestConnector:
    """A source system described by a ConnectorSpec."""

    def __init__(
        self,
        spec: ConnectorSpec,
        *,
        connection: str | None = None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        pulls: bool = True,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.connection = connection or spec.name
        self.base_url = base_url or spec.base_url
        self._transport = transport
        # A push-only (webhook kind) connection reads the same YAML but is never paged through.
        self.pulls = pulls
        self.webhooks = spec.webhooks
        self.streams: Mapping[str, StreamBinding] = {
            name: _binding(name, s) for name, s in spec.streams.items()
        }

    def _auth(self) -> httpx.Auth | None:
        auth = self.spec.auth
        if auth.type == "bearer":
            assert auth.token is not None
            return BearerAuth(auth.token)
        if auth.type == "header":
            return HeaderAuth(auth.headers)
        if auth.type == "hmac":
            assert auth.app_key is not None and auth.secret is not None
            return HmacAuth(auth.app_key, auth.secret, auth.hmac)
        return None

    def source(self) -> RestSource:
        return RestSource(
            self.base_url,
            auth=self._auth(),
            connection=self.connection,
            timeout=httpx.Timeout(self.spec.timeout_seconds, connect=min(10.0, self.spec.timeout_seconds)),
            verify=self.spec.verify_tls,
            transport=self._transport,
        )


def load_connector(
    path: Path,
    *,
    secrets: Mapping[str, str] | None = None,
    connection: str | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> GenericRestConnector:
    """Read a connector YAML file and build the connector (secrets from `secrets` or the env)."""
    return GenericRestConnector(
        read_spec(path, secrets=secrets), connection=connection, base_url=base_url, transport=transport
    )

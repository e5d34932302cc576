"""Connector kinds: how a source connection's `kind` becomes a `Connector`.

A kind names the way records arrive — `rest` (pulled page by page; pushes too when the connector
YAML declares webhooks), `webhook` (pushed only), `file` (imported export files) — and maps to a
factory. Everything above this module (workspace, web, CLI, sync) sees only the `Connector`
protocol; the coming `agent` and `approval` kinds are one `register` call each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from yecai.connectors.files import FileConnector
from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import read_spec
from yecai.errors import ConfigurationError, Context
from yecai.sources.connector import Connector

CONNECTORS_DIR = Path(__file__).parent
# What a workspace written before kinds existed says (or says nothing): the kind is inferred.
LEGACY_KIND = "source"
INFERRED_KIND = "rest"  # a connector YAML is pulled; its webhooks are served too, as before kinds


def builtin_connectors() -> dict[str, Path]:
    """Built-in connector files by package name (pm_sandbox → …/pm_sandbox/connector.yaml)."""
    return {path.parent.name: path for path in sorted(CONNECTORS_DIR.glob("*/connector.yaml"))}


@dataclass(frozen=True, slots=True)
class ConnectorRequest:
    """What a factory needs to open one connection (secrets already resolved)."""

    connection: str
    connector_file: Path | None = None
    base_url: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None


ConnectorFactory = Callable[[ConnectorRequest], Connector]


@dataclass(frozen=True, slots=True)
class ConnectorKind:
    name: str
    factory: ConnectorFactory
    needs_connector_file: bool  # whether the connection must name a connector YAML
    title_zh: str
    title_en: str


_KINDS: dict[str, ConnectorKind] = {}


def register(kind: ConnectorKind) -> None:
    """Add a kind (or replace one of the same name: a deployment may swap a factory)."""
    _KINDS[kind.name] = kind


def kinds() -> tuple[str, ...]:
    return tuple(_KINDS)


def resolve_kind(kind: str | None) -> str:
    """The kind a connection means: absent or the legacy `source` → `rest`."""
    return INFERRED_KIND if kind in (None, "", LEGACY_KIND) else str(kind)


def connector_kind(kind: str | None, *, connection: str) -> ConnectorKind:
    """The registered kind, or a configuration error that names the connection."""
    name = resolve_kind(kind)
    found = _KINDS.get(name)
    if found is None:
        known = ", ".join(_KINDS)
        raise ConfigurationError(
            f"连接 {connection} 的类型 {name!r} 未知；可用：{known}（省略则按连接器推断为 {INFERRED_KIND}）",
            f"connection {connection} has an unknown kind {name!r}; known: {known} "
            f"(omitted: inferred from the connector as {INFERRED_KIND})",
            Context(connection=connection),
        )
    return found


def build_connector(kind: str | None, request: ConnectorRequest) -> Connector:
    """Open the connection `request.connection` as a connector of `kind`."""
    spec = connector_kind(kind, connection=request.connection)
    if spec.needs_connector_file and request.connector_file is None:
        raise ConfigurationError(
            f"连接 {request.connection}（{spec.name}）需要 connector：内置名称或连接器 YAML 路径",
            f"connection {request.connection} ({spec.name}) needs `connector`: a built-in name or a connector YAML path",
            Context(connection=request.connection),
        )
    return spec.factory(request)


def _generic_rest(request: ConnectorRequest, *, pulls: bool) -> GenericRestConnector:
    assert request.connector_file is not None  # build_connector checked it
    return GenericRestConnector(
        # a pulled connection opens without its webhook secret: only receiving pushes needs it
        read_spec(
            request.connector_file,
            secrets=request.secrets,
            webhooks_required=not pulls,
            connection=request.connection,
        ),
        connection=request.connection,
        base_url=request.base_url,
        transport=request.transport,
        pulls=pulls,
    )


def _rest(request: ConnectorRequest) -> Connector:
    return _generic_rest(request, pulls=True)


def _webhook(request: ConnectorRequest) -> Connector:
    connector = _generic_rest(request, pulls=False)
    if connector.webhooks is None:
        raise ConfigurationError(
            f"连接 {request.connection} 的类型为 webhook，但连接器 {request.connector_file} 未声明 webhooks",
            f"connection {request.connection} is of kind webhook, but connector {request.connector_file} "
            "declares no webhooks",
            Context(connection=request.connection),
        )
    return connector


def _file(request: ConnectorRequest) -> Connector:
    return FileConnector(request.connection)


register(
    ConnectorKind(
        "rest",
        _rest,
        True,
        "REST 拉取（声明 webhooks 时也接收推送）",
        "REST pull (and pushes when webhooks are declared)",
    )
)
register(ConnectorKind("webhook", _webhook, True, "Webhook 推送", "webhook push only"))
register(ConnectorKind("file", _file, False, "文件导入", "imported export files"))

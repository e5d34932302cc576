"""The YAML schema of a generic REST connector, as typed models with clear errors.

A connector file names the system, its base URL, how to authenticate (secrets by `${NAME}`
placeholders, resolved from the environment or a secrets mapping at load time — never written in
the file), and its streams: path, where the records are, primary key, cursor, pagination style,
partitions, how deletions look, and how each canonical document field is read from a record.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from yecai.domain.documents import DOCUMENT_TYPES
from yecai.errors import ConfigurationError
from yecai.sources.auth import HmacScheme
from yecai.sources.webhooks import WebhookSpec

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PaginationSpec(_Spec):
    style: Literal["page", "offset", "cursor"] = "page"
    page_size: int = Field(100, ge=1, le=10000)
    page_param: str = "page"
    size_param: str = "page_size"
    first_page: int = 1
    has_more_path: str = "data.has_more"
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_path: str = "data.total"
    cursor_param: str = "cursor"
    next_cursor_path: str = "data.next_cursor"


class AuthSpec(_Spec):
    type: Literal["none", "bearer", "header", "hmac"] = "none"
    token: str | None = None  # bearer
    headers: dict[str, str] = Field(default_factory=dict)  # header
    app_key: str | None = None  # hmac
    secret: str | None = None  # hmac
    hmac: HmacScheme = Field(default_factory=HmacScheme)

    @model_validator(mode="after")
    def _complete(self) -> AuthSpec:
        missing = {
            "bearer": [] if self.token else ["token"],
            "header": [] if self.headers else ["headers"],
            "hmac": [n for n in ("app_key", "secret") if not getattr(self, n)],
            "none": [],
        }[self.type]
        if missing:
            raise ValueError(f"auth type {self.type} needs {', '.join(missing)}")
        return self


class FieldSpec(_Spec):
    """How one canonical field is read: a source path, a value map, a constant or a join."""

    source: str | None = Field(None, alias="from")
    const: Any = None
    join: tuple[str, ...] = ()  # concatenate several source fields (e.g. province + city)
    map: dict[str, Any] = Field(default_factory=dict)  # source value → canonical value
    default: Any = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_origin(self) -> FieldSpec:
        origins = [self.source is not None, self.const is not None, bool(self.join)]
        if sum(origins) != 1:
            raise ValueError("a field needs exactly one of from, const, join")
        return self


class PartitionSpec(_Spec):
    param: str
    parent: str
    key: str


class StreamSpec(_Spec):
    path: str
    document: str
    primary_key: str
    records_path: str = "data.items"
    cursor_field: str | None = "updated_at"
    cursor_param: str = "updated_since"
    look_back_minutes: float = Field(30, ge=0)
    ordered_by_cursor: bool = True
    pagination: PaginationSpec = Field(default_factory=PaginationSpec)
    params: dict[str, str] = Field(default_factory=dict)
    partition: PartitionSpec | None = None
    deleted_field: str | None = None  # a truthy value marks a tombstone
    fields: dict[str, str | FieldSpec]

    @field_validator("document")
    @classmethod
    def _known_document(cls, value: str) -> str:
        if value not in DOCUMENT_TYPES:
            raise ValueError(f"unknown document {value!r}; known: {', '.join(sorted(DOCUMENT_TYPES))}")
        return value

    @property
    def look_back(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.look_back_minutes)


class ConnectorSpec(_Spec):
    name: str
    base_url: str
    auth: AuthSpec = Field(default_factory=AuthSpec)
    timeout_seconds: float = Field(60, gt=0)
    verify_tls: bool = True
    streams: dict[str, StreamSpec]
    webhooks: WebhookSpec | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> ConnectorSpec:
        for name, stream in self.streams.items():
            if stream.partition and stream.partition.parent not in self.streams:
                raise ValueError(
                    f"stream {name}: partition parent {stream.partition.parent!r} is not a stream"
                )
        for event, target in (self.webhooks.events if self.webhooks else {}).items():
            stream = self.streams.get(target.stream)
            if stream is None:
                raise ValueError(f"webhook event {event}: {target.stream!r} is not a stream")
            if target.deleted and not stream.deleted_field:
                raise ValueError(
                    f"webhook event {event} deletes, but stream {target.stream} has no deleted_field"
                )
        return self


def _substitute(value: Any, secrets: Mapping[str, str], missing: set[str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in secrets:
                missing.add(name)
                return ""
            return secrets[name]

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute(v, secrets, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, secrets, missing) for v in value]
    return value


def _missing_advice(origin: str, names: list[str], connection: str | None) -> ConfigurationError:
    """Every way named here works (yecai.workspace resolves a connector's placeholders from the
    connection's `secrets:`, then its stored secrets, then the environment)."""
    who = connection or "<连接名>"
    who_en = connection or "<connection>"
    joined = ", ".join(names)
    first = names[0]
    return ConfigurationError(
        f"连接器 {origin} 缺少密钥 {joined}：用 yecai connections set-secret {who} {first} 加密保存，"
        f"或设置同名环境变量 {first}，或在工作区该连接的 secrets: 中写 {first}: ${{名称}}",
        f"connector {origin} lacks the secrets {joined}: store it with "
        f"`yecai connections set-secret {who_en} {first}`, or set the environment variable {first}, "
        f"or map it under the connection's `secrets:` in the workspace",
    )


def parse_spec(
    data: dict[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    origin: str = "",
    webhooks_required: bool = True,
    connection: str | None = None,
) -> ConnectorSpec:
    """Validate a connector definition; `${NAME}` placeholders come from `secrets` (default: env).

    With `webhooks_required=False` (a pulled connection) a `webhooks:` section whose secret is
    missing is left out: the connection pulls, and only receiving pushes needs that secret.
    """
    lookup = os.environ if secrets is None else secrets
    missing: set[str] = set()
    body = {k: v for k, v in data.items() if k != "webhooks"}
    resolved = _substitute(body, lookup, missing)
    if missing:
        raise _missing_advice(origin, sorted(missing), connection)
    if "webhooks" in data:
        hook_missing: set[str] = set()
        hooks = _substitute(data["webhooks"], lookup, hook_missing)
        if hook_missing and webhooks_required:
            raise _missing_advice(origin, sorted(hook_missing), connection)
        if not hook_missing:
            resolved["webhooks"] = hooks
    try:
        return ConnectorSpec.model_validate(resolved)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"连接器 {origin} 配置有误：{detail}", f"connector {origin} is invalid: {detail}"
        ) from None


def read_spec(
    path: Path,
    *,
    secrets: Mapping[str, str] | None = None,
    webhooks_required: bool = True,
    connection: str | None = None,
) -> ConnectorSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"无法读取连接器文件 {path}：{exc}", f"cannot read connector file {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"连接器文件 {path} 不是映射结构", f"connector file {path} is not a mapping")
    return parse_spec(
        data,
        secrets=secrets,
        origin=str(path),
        webhooks_required=webhooks_required,
        connection=connection,
    )

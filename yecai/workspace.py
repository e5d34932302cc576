"""The workspace: connections and sync jobs, from `yecai.yaml`, with secrets resolved safely.

A workspace file names the source systems, Kingdee data centres and alert channels yecai connects
(connections), and the sync jobs between them: which streams, which rule sets, which mapping
table, when. Secret values are never written in the file: `${NAME}` refers to a secret stored
encrypted for that connection (`yecai connections set-secret`) or, failing that, to an environment
variable. Connections are opened here (connectors through the kind registry, Kingdee clients);
nothing else reads the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from yecai.connectors.registry import (
    LEGACY_KIND,
    ConnectorRequest,
    build_connector,
    builtin_connectors,
    connector_kind,
    resolve_kind,
)
from yecai.errors import ConfigurationError
from yecai.kingdee.auth import app_secret_login, password_login, sign_login
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.signing import Identity
from yecai.localtime import use_zone, zone_named
from yecai.mapping.rules import DEFAULTS, MappingTable, RuleSet, default_mapping, load_mapping, load_rule_set
from yecai.observability.redaction import register_secret
from yecai.secrets import SecretBox
from yecai.sources.connector import Connector

BUILTIN_CONNECTORS = builtin_connectors()
_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ConnectorSecrets(Mapping[str, str]):
    """The values of a connector file's `${NAME}` placeholders, looked up as the error advice says:
    the connection's `secrets:` mapping first, then a secret of that name stored for the connection
    (`yecai connections set-secret`), then the environment variable of that name."""

    def __init__(self, mapped: dict[str, str], connection: str, box: SecretBox | None) -> None:
        self._mapped = mapped
        self._connection = connection
        self._box = box

    def _find(self, name: str) -> str | None:
        if name in self._mapped:
            return self._mapped[name]
        found = self._box.get(self._connection, name) if self._box else None
        if found is None:
            found = os.environ.get(name)
        if found is not None:
            register_secret(found)  # never in a log line, wherever it came from
        return found

    def __getitem__(self, name: str) -> str:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapped)

    def __len__(self) -> int:
        return len(self._mapped)


class SourceConnection(_Model):
    """A source system; its `kind` (rest, webhook, file, …) says how records arrive."""

    kind: str = Field(
        LEGACY_KIND,
        description="rest | webhook | file (yecai.connectors.registry); omitted or `source`: rest",
    )
    connector: str | None = Field(
        None, description="builtin name (pm_sandbox) or path to a connector YAML (rest, webhook)"
    )
    base_url: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict, description="connector placeholders → ${SECRET}")

    @model_validator(mode="after")
    def _kind(self) -> SourceConnection:
        # parse_workspace names the connection in this error first; this guards direct validation
        try:
            kind = connector_kind(self.kind, connection="?")
        except ConfigurationError as exc:
            raise ValueError(exc.en) from None
        if kind.needs_connector_file and not self.connector:
            raise ValueError(f"kind {kind.name} needs connector (a built-in name or a connector YAML path)")
        return self

    @property
    def source_kind(self) -> str:
        """The kind meant, with the legacy `source` (or none) inferred as `rest`."""
        return resolve_kind(self.kind)


class KingdeeConnection(_Model):
    """A Kingdee K/3 Cloud data centre (账套) and its integration user."""

    kind: Literal["kingdee"] = "kingdee"
    server_url: str
    acct_id: str
    user_name: str
    auth: Literal["signed", "password", "app_secret", "sign"] = "signed"
    app_id: str | None = None
    app_secret: str | None = Field(None, description="${SECRET} reference")
    password: str | None = Field(None, description="${SECRET} reference")
    lcid: int = 2052
    org_num: str = "0"
    verify_tls: bool = True
    timeout_seconds: float = Field(120, gt=0)
    max_concurrency: int = Field(4, ge=1, description="calls at once to this data centre (all workers)")

    @model_validator(mode="after")
    def _credentials(self) -> KingdeeConnection:
        needs = {
            "signed": ("app_id", "app_secret"),
            "app_secret": ("app_id", "app_secret"),
            "sign": ("app_id", "app_secret"),
            "password": ("password",),
        }[self.auth]
        missing = [name for name in needs if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth {self.auth} needs {', '.join(missing)}")
        return self


class AlertConnection(_Model):
    """An alert channel: a 钉钉, 飞书 or 企业微信 group robot, or email over SMTP (see docs/alerts.md)."""

    kind: Literal["alert"] = "alert"
    channel: Literal["dingtalk", "feishu", "wecom", "email"]
    webhook_url: str | None = Field(
        None, description="robot webhook; ${SECRET} reference (WeCom's key and DingTalk's token are in it)"
    )
    secret: str | None = Field(
        None, description="${SECRET} reference: DingTalk 加签 / Feishu 签名校验 secret"
    )
    host: str | None = Field(None, description="SMTP server")
    port: int | None = Field(None, ge=1, le=65535, description="default 587 starttls, 465 ssl, 25 plain")
    security: Literal["starttls", "ssl", "plain"] = "starttls"
    username: str | None = Field(None, description="SMTP login (omit when the server needs none)")
    password: str | None = Field(None, description="${SECRET} reference")
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    events: tuple[str, ...] = Field((), description="event names or prefixes (kingdee, job.dead); empty: all")
    min_severity: Literal["info", "warning", "error", "critical"] = "info"
    dedupe_minutes: int = Field(30, ge=0, description="the same problem is sent once in this window")
    max_per_hour: int = Field(20, ge=1, description="messages (attempts) per hour to this channel at most")
    language: Literal["zh", "en", "both"] = "both"
    timeout_seconds: float = Field(10, gt=0, le=120)

    @model_validator(mode="after")
    def _fields(self) -> AlertConnection:
        for name in ("secret", "password"):  # pure credentials: never written in the file
            value = getattr(self, name)
            if value is not None and not _PLACEHOLDER.match(value):
                raise ValueError(f"{name} must be a ${{SECRET}} reference, not the value itself")
        if self.channel == "email":
            missing = [name for name in ("host", "sender") if not getattr(self, name)]
            if not self.recipients:
                missing.append("recipients")
            if self.username and not self.password:
                missing.append("password")
            if missing:
                raise ValueError(f"email channel needs {', '.join(missing)}")
            return self
        if not self.webhook_url:
            raise ValueError(f"{self.channel} channel needs webhook_url")
        # A URL written in the file is checked now; a ${…} one when it is resolved and sent
        # (yecai.alerts.outbound, which also decides the host and the addresses).
        if not _PLACEHOLDER.match(self.webhook_url) and not re.match(r"^https?://[^/?#]+", self.webhook_url):
            raise ValueError("webhook_url must be an https:// URL")
        # The WeCom key in the URL is the robot's only credential: it must not sit in the file.
        if self.channel == "wecom" and not _PLACEHOLDER.match(self.webhook_url):
            raise ValueError("wecom webhook_url carries the robot key: write it as a ${SECRET} reference")
        if self.channel == "wecom" and self.secret:
            raise ValueError("wecom robots have no signing secret; remove `secret`")
        return self


_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?\.?$|^[0-9A-Fa-f:.]+$")


class OutboundHost(_Model):
    """A host alert channels may reach beyond the platforms' own (see docs/security.md)."""

    host: str = Field(description="a host name or IP address, no scheme, port or path")
    private: bool = Field(False, description="may resolve to a private/loopback address (on-premise)")
    http: bool = Field(False, description="plain http is accepted for this host (on-premise only)")

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return {"host": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _name(self) -> OutboundHost:
        if not _HOST_NAME.match(self.host.strip()):
            raise ValueError(
                f"allow_hosts: {self.host!r} is not a host name or IP address (no scheme, port or path)"
            )
        return self


class AlertsOutbound(_Model):
    allow_hosts: tuple[OutboundHost, ...] = ()


class AlertsSettings(_Model):
    """Workspace-wide alert settings: where channels may connect (`outbound`)."""

    outbound: AlertsOutbound = Field(default_factory=AlertsOutbound)


def _connection_tag(value: Any) -> str:
    # Any kind other than kingdee and alert is a source kind, so that a source connection
    # without `kind` (or with the legacy `source`) keeps working and the registry judges the rest.
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in ("kingdee", "alert") else "source"


Connection = Annotated[
    Annotated[SourceConnection, Tag("source")]
    | Annotated[KingdeeConnection, Tag("kingdee")]
    | Annotated[AlertConnection, Tag("alert")],
    Discriminator(_connection_tag),
]


class Schedule(_Model):
    cron: str = Field(
        "0 2 * * *", description="minute hour day month weekday, Beijing time; nightly by default"
    )
    holidays: Literal["run", "skip", "next_workday"] = "run"


class SyncJob(_Model):
    """Pull streams from a source, post them by rule sets into a Kingdee connection."""

    source: str
    target: str
    streams: tuple[str, ...] = ("projects", "cost_records")
    rule_sets: tuple[str, ...] = ("cost_actuals",)
    related: tuple[str, ...] = ()
    mapping: str | None = None
    schedule: Schedule | None = None
    # Reconcile the target's current month (Beijing time) right after every queued run of the job:
    # nightly when the job is scheduled nightly (docs/reconciliation.md).
    reconcile: bool = False
    batch_size: int = Field(50, ge=1, le=500)
    max_attempts: int = Field(3, ge=1)
    # Queued runs share their sending among this many workers (docs/jobs.md, "Fan-out"); 1: one.
    parts: int = Field(1, ge=1, le=64)
    # With parts: the job plans (cost rule sets) a few projects at a time, about this many documents
    # each; the parts send the first while the rest is planned.
    plan_part_documents: int = Field(2000, ge=1)


class MonthlyReportSchedule(_Model):
    """The monthly operating analysis written on a schedule: the previous month's, by default on
    the 1st at 07:00 Beijing time, into `out` (relative to the workspace file)."""

    job: str | None = Field(None, description="the sync job whose Kingdee books and rules define it")
    schedule: Schedule = Schedule(cron="0 7 1 * *", holidays="run")
    out: str = Field("reports", description="output folder, relative to the workspace file")


class Reports(_Model):
    monthly: MonthlyReportSchedule | None = None


class Workspace(_Model):
    connections: dict[str, Connection]
    syncs: dict[str, SyncJob] = Field(default_factory=dict)
    reports: Reports = Field(default_factory=Reports)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    timezone: str | None = Field(
        None,
        description="IANA zone of the times shown to people (CLI, reports, console); default Asia/Shanghai",
    )
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _references(self) -> Workspace:
        if self.timezone is not None:
            try:
                zone_named(self.timezone)
            except ConfigurationError as exc:
                raise ValueError(exc.en) from None
        for name, job in self.syncs.items():
            if "#" in name:
                # `<job>#<n>` names the leases of a job's parts (yecai/jobs/parts.py)
                raise ValueError(f"sync {name}: a job's name cannot contain '#'")
            source = self.connections.get(job.source)
            target = self.connections.get(job.target)
            if not isinstance(source, SourceConnection):
                raise ValueError(f"sync {name}: source {job.source!r} is not a source connection")
            if not isinstance(target, KingdeeConnection):
                raise ValueError(f"sync {name}: target {job.target!r} is not a kingdee connection")
        monthly = self.reports.monthly
        if monthly is not None and monthly.job is not None and monthly.job not in self.syncs:
            raise ValueError(f"reports.monthly: job {monthly.job!r} is not a sync job")
        return self

    # --- opening connections ------------------------------------------------------------------

    def resolve(self, connection: str, value: str | None, secrets: SecretBox | None) -> str | None:
        """A `${NAME}` reference → the stored secret of the connection, else the environment."""
        if value is None:
            return None
        match = _PLACEHOLDER.match(value)
        if not match:
            return value
        name = match.group(1)
        found = secrets.get(connection, name) if secrets else None
        if found is None:
            found = os.environ.get(name)
        if found is None:
            raise ConfigurationError(
                f"连接 {connection} 缺少密钥 {name}：请用 yecai connections set-secret {connection} {name} 保存，或设置环境变量 {name}",
                f"connection {connection} lacks secret {name}: store it with `yecai connections set-secret {connection} {name}` or set the environment variable {name}",
            )
        register_secret(found)  # also when it came from the environment: never in a log line
        return found

    def source(
        self, name: str, secrets: SecretBox | None, *, transport: httpx.BaseTransport | None = None
    ) -> Connector:
        """Open the source connection `name` as a connector of its kind."""
        connection = self.connections[name]
        assert isinstance(connection, SourceConnection)
        path = None
        if connection.connector:
            path = BUILTIN_CONNECTORS.get(connection.connector) or self.base_dir / connection.connector
        resolved = _ConnectorSecrets(
            {key: self.resolve(name, value, secrets) or "" for key, value in connection.secrets.items()},
            name,
            secrets,
        )
        request = ConnectorRequest(name, path, connection.base_url, resolved, transport)
        return build_connector(connection.kind, request)

    def kingdee(
        self,
        name: str,
        secrets: SecretBox | None,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> KingdeeClient:
        c = self.connections[name]
        assert isinstance(c, KingdeeConnection)
        secret = self.resolve(name, c.app_secret, secrets)
        timeout = httpx.Timeout(c.timeout_seconds, connect=min(10.0, c.timeout_seconds))
        identity = (
            Identity(c.acct_id, c.user_name, c.app_id or "", secret or "", c.lcid, c.org_num)
            if c.app_id
            else None
        )
        auth = None
        if c.auth == "password":
            auth = password_login(
                c.acct_id, c.user_name, self.resolve(name, c.password, secrets) or "", c.lcid
            )
        elif c.auth == "app_secret" and identity:
            auth = app_secret_login(identity)
        elif c.auth == "sign" and identity:
            auth = sign_login(identity)
        return KingdeeClient(
            c.server_url,
            identity,
            auth=auth,
            timeout=timeout,
            verify=c.verify_tls,
            connection=name,
            transport=transport,
            limiter=limiter,
        )

    def rule_sets(self, job: SyncJob) -> list[RuleSet]:
        return [load_rule_set(self._find(name, DEFAULTS)) for name in job.rule_sets]

    def mapping(self, job: SyncJob) -> MappingTable:
        return load_mapping(self._find(job.mapping, DEFAULTS)) if job.mapping else default_mapping()

    def _find(self, name: str, defaults: Path) -> Path:
        builtin = defaults / f"{name}.yaml"
        if builtin.exists() and "/" not in name and not name.endswith(".yaml"):
            return builtin
        return self.base_dir / name


def _check_kinds(data: Mapping[str, object]) -> None:
    """An unknown source kind is refused by name, before pydantic's generic wording can."""
    connections = data.get("connections")
    if not isinstance(connections, Mapping):
        return
    for name, raw in connections.items():
        if isinstance(raw, Mapping) and raw.get("kind") not in ("kingdee", "alert"):
            kind = raw.get("kind")
            connector_kind(kind if isinstance(kind, str) or kind is None else str(kind), connection=str(name))


def parse_workspace(data: Mapping[str, object], base_dir: Path, origin: str = "yecai.yaml") -> Workspace:
    _check_kinds(data)
    try:
        return Workspace.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"工作区 {origin} 配置有误：{detail}", f"workspace {origin} is invalid: {detail}"
        ) from None


def load_workspace(path: Path) -> Workspace:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"无法读取工作区文件 {path}：{exc}", f"cannot read workspace file {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"工作区文件 {path} 不是映射结构", f"workspace file {path} is not a mapping")
    workspace = parse_workspace(data, path.parent, str(path))
    # one process serves one workspace: its zone is the one times are shown in (yecai.localtime)
    use_zone(workspace.timezone)
    return workspace


def adopt_zone(path: Path) -> None:
    """The zone of the workspace at `path` for the times this process shows (yecai.localtime), for
    commands that print times but need nothing else of the workspace (`postings list`, `import`).

    Only `timezone:` is read: a workspace that is missing or wrong elsewhere leaves the default
    zone, and is reported by the commands that need it. A wrong zone name raises ConfigurationError.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    zone = data.get("timezone") if isinstance(data, dict) else None
    use_zone(str(zone) if zone else None)

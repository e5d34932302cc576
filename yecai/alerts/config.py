"""Alert channels from the workspace: each `kind: alert` connection becomes a robot or an email
channel, its `${SECRET}` references resolved like every connection's (encrypted store, then the
environment), and the set of secret values the dispatcher must redact from every message.

`WorkspaceChannels` reads the workspace file at each event, so edited channels and newly stored
secrets apply without a restart (the worker does the same for jobs); alerts are rare enough.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from yecai.alerts.channels import AlertChannel, ChannelPolicy
from yecai.alerts.mail import EmailChannel
from yecai.alerts.outbound import OutboundPolicy
from yecai.alerts.robots import DingTalkRobot, FeishuRobot, WeComRobot
from yecai.errors import ConfigurationError, YecaiError
from yecai.secrets import SecretBox
from yecai.workspace import AlertConnection, KingdeeConnection, SourceConnection, Workspace, load_workspace

log = logging.getLogger("yecai.alerts")

ROBOTS = {"dingtalk": DingTalkRobot, "feishu": FeishuRobot, "wecom": WeComRobot}


@dataclass(slots=True)
class ChannelSet:
    """The channels to tell, and every secret value known to the workspace (for redaction)."""

    channels: list[AlertChannel] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


ChannelSource = Callable[[], ChannelSet]


def policy_of(connection: AlertConnection) -> ChannelPolicy:
    return ChannelPolicy(
        events=connection.events,
        min_severity=connection.min_severity,
        dedupe_minutes=connection.dedupe_minutes,
        max_per_hour=connection.max_per_hour,
        language=connection.language,
    )


def open_channel(
    workspace: Workspace,
    name: str,
    secrets: SecretBox | None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> AlertChannel:
    """The alert connection `name`, its secrets resolved (ConfigurationError when one is missing)."""
    connection = workspace.connections.get(name)
    if not isinstance(connection, AlertConnection):
        raise ConfigurationError(
            f"工作区中没有告警通道 {name}（kind: alert）",
            f"the workspace has no alert channel {name} (kind: alert)",
        )
    policy = policy_of(connection)
    outbound = OutboundPolicy.of(workspace)  # the workspace's allow-list; checked at each send
    if connection.channel == "email":
        assert connection.host and connection.sender
        return EmailChannel(
            name,
            policy,
            host=connection.host,
            port=connection.port,
            security=connection.security,
            username=connection.username,
            password=workspace.resolve(name, connection.password, secrets),
            sender=connection.sender,
            recipients=connection.recipients,
            timeout=connection.timeout_seconds,
            outbound=outbound,
        )
    url = workspace.resolve(name, connection.webhook_url, secrets)
    assert url
    return ROBOTS[connection.channel](
        name,
        policy,
        webhook_url=url,
        secret=workspace.resolve(name, connection.secret, secrets),
        timeout=connection.timeout_seconds,
        transport=transport,
        outbound=outbound,
    )


def known_secrets(workspace: Workspace, secrets: SecretBox | None) -> list[str]:
    """Every `${…}` value of every connection that resolves (a missing one cannot leak)."""
    found: list[str] = []
    for name, connection in workspace.connections.items():
        if isinstance(connection, SourceConnection):
            references = list(connection.secrets.values())
        elif isinstance(connection, KingdeeConnection):
            references = [connection.app_secret, connection.password]
        else:
            references = [connection.webhook_url, connection.secret, connection.password]
        for reference in references:
            try:
                value = workspace.resolve(name, reference, secrets)
            except YecaiError:
                continue
            if value and value != reference:
                found.append(value)
    return found


def workspace_channels(
    workspace: Workspace, secrets: SecretBox | None, *, transport: httpx.BaseTransport | None = None
) -> ChannelSet:
    """Every alert channel of the workspace that can be opened; one that cannot is logged and left
    out (the others still speak)."""
    opened: list[AlertChannel] = []
    for name, connection in workspace.connections.items():
        if not isinstance(connection, AlertConnection):
            continue
        try:
            opened.append(open_channel(workspace, name, secrets, transport=transport))
        except YecaiError as exc:
            log.error("告警通道 %s 无法使用：%s / alert channel %s cannot be used", name, exc, name)
    return ChannelSet(opened, known_secrets(workspace, secrets))


class WorkspaceChannels:
    """A channel source that reads the workspace file afresh for every event."""

    def __init__(
        self, path: Path, secrets: SecretBox | None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.path = path
        self.secrets = secrets
        self.transport = transport

    def __call__(self) -> ChannelSet:
        try:
            workspace = load_workspace(self.path)
        except YecaiError as exc:
            log.error("告警：无法读取工作区 %s / alerts: cannot read the workspace: %s", self.path, exc)
            return ChannelSet()
        return workspace_channels(workspace, self.secrets, transport=self.transport)

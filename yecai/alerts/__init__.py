"""Alerts: 钉钉, 飞书 and 企业微信 group robots and email, told of what goes wrong in the jobs.

Channels are `kind: alert` connections of the workspace (`config.py`); each speaks its platform's
protocol and signature (`robots.py`, `signing.py`, `mail.py`). The dispatcher (`dispatcher.py`)
is a hook on `yecai.observability.events`: it renders the event (`messages.py`) and lets the store decide
what is a duplicate or over the hourly limit (`deliveries.py`). See docs/alerts.md.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from yecai.alerts.channels import AlertChannel, AlertSendError, ChannelPolicy
from yecai.alerts.config import ChannelSet, WorkspaceChannels, known_secrets, open_channel, workspace_channels
from yecai.alerts.deliveries import Delivery, recent_deliveries
from yecai.alerts.dispatcher import HOOK_NAME, AlertDispatcher
from yecai.alerts.mail import EmailChannel
from yecai.alerts.messages import AlertText, dedupe_key, render, severity_of
from yecai.alerts.outbound import AllowedHost, OutboundPolicy
from yecai.alerts.robots import DingTalkRobot, FeishuRobot, WeComRobot
from yecai.errors import YecaiError
from yecai.observability.events import AlertHooks
from yecai.secrets import SecretBox
from yecai.store.db import Store
from yecai.workspace import Workspace


def install(
    hooks: AlertHooks,
    store: Store,
    workspace: Path,
    secrets: SecretBox | None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> AlertDispatcher:
    """Register a dispatcher for the workspace's alert channels on `hooks` (what `yecai serve` and
    `yecai worker` do when they start)."""
    return AlertDispatcher(store, WorkspaceChannels(workspace, secrets, transport=transport)).register(hooks)


def send_test(
    store: Store, workspace: Workspace, secrets: SecretBox | None, channel: str, *, who: str
) -> Delivery:
    """Send a test alert through one configured channel (CLI, API and console all call this)."""
    opened = open_channel(workspace, channel, secrets)
    dispatcher = AlertDispatcher(store, [opened], secrets=known_secrets(workspace, secrets))
    delivery = dispatcher.test(channel, who=who)
    if delivery is None:  # the store could not record it (logged by the dispatcher)
        raise YecaiError(f"无法记录告警通道 {channel} 的测试", f"cannot record the test of {channel}")
    return delivery


__all__ = [
    "HOOK_NAME",
    "AlertChannel",
    "AlertDispatcher",
    "AlertSendError",
    "AlertText",
    "AllowedHost",
    "ChannelPolicy",
    "ChannelSet",
    "Delivery",
    "DingTalkRobot",
    "EmailChannel",
    "FeishuRobot",
    "OutboundPolicy",
    "WeComRobot",
    "WorkspaceChannels",
    "dedupe_key",
    "install",
    "open_channel",
    "recent_deliveries",
    "render",
    "send_test",
    "severity_of",
    "workspace_channels",
]

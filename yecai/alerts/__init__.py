"""Alerts: 钉钉, 飞书 and 企业微信 group robots and email, told of what goes wrong in the jobs.

Channels are `kind: alert` connections of the workspace (`config.py`); each speaks its platform's
protocol and signature (`robots.py`, `signing.py`, `mail.py`). The dispatcher (`dispatcher.py`)
is a hook on `yecai.jobs.alerts`: it renders the event (`messages.py`) and lets the store decide
what is a duplicate or over the hourly limit (`deliveries.py`). See docs/alerts.md.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from yecai.alerts.channels import AlertChannel, AlertSendError, ChannelPolicy
from yecai.alerts.config import ChannelSet, WorkspaceChannels, open_channel, workspace_channels
from yecai.alerts.deliveries import Delivery, recent_deliveries
from yecai.alerts.dispatcher import HOOK_NAME, AlertDispatcher
from yecai.alerts.mail import EmailChannel
from yecai.alerts.messages import AlertText, dedupe_key, render, severity_of
from yecai.alerts.robots import DingTalkRobot, FeishuRobot, WeComRobot
from yecai.jobs.alerts import AlertHooks
from yecai.secrets import SecretBox
from yecai.store.db import Store


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


__all__ = [
    "HOOK_NAME",
    "AlertChannel",
    "AlertDispatcher",
    "AlertSendError",
    "AlertText",
    "ChannelPolicy",
    "ChannelSet",
    "Delivery",
    "DingTalkRobot",
    "EmailChannel",
    "FeishuRobot",
    "WeComRobot",
    "WorkspaceChannels",
    "dedupe_key",
    "install",
    "open_channel",
    "recent_deliveries",
    "render",
    "severity_of",
    "workspace_channels",
]

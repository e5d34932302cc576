"""`yecai alerts test CHANNEL` and `yecai alerts list`: try an alert channel; see what was sent.

`test` sends a test alert through one `kind: alert` connection of the workspace (whatever its
event filter; the hourly limit still applies) and prints the outcome, exit 1 unless it was sent.
`list` shows the newest deliveries — sent, failed, duplicate, rate-limited — with their errors.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from yecai import labels
from yecai.alerts import recent_deliveries, send_test
from yecai.cli.context import fail, opened, os_user
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import KEY, new_table
from yecai.errors import YecaiError
from yecai.localtime import shown

alerts_app = typer.Typer(help="告警 · alerts: 钉钉, 飞书, 企业微信 robots and email")

STATUS_STYLE = {"sent": "green", "failed": "red", "duplicate": "dim", "rate_limited": "yellow"}


@alerts_app.command("test")
def test_channel(
    channel: str = typer.Argument(..., help="告警通道（连接名）· alert channel (connection name)"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """发送测试告警 · send a test alert through a configured channel and print the outcome."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        space = ctx.workspace_or_exit(console)
        try:
            delivery = send_test(ctx.store, space, ctx.secrets, channel, who=os_user())
        except YecaiError as exc:
            raise fail(console, exc) from None
    style = STATUS_STYLE.get(delivery.status, "white")
    platform = getattr(space.connections.get(channel), "channel", "?")
    shown = labels.both("state", delivery.status)
    console.print(f"{channel} ({labels.both('channel', platform)}): [{style}]{shown}[/{style}]")
    if delivery.error:
        console.print(f"[red]{delivery.error}[/red]")
    if delivery.status == "rate_limited":
        console.print(
            "[yellow]本小时发送次数已达上限（max_per_hour）/ the channel reached its hourly limit (max_per_hour)[/yellow]"
        )
    if delivery.status != "sent":
        raise typer.Exit(1)


@alerts_app.command("list")
def list_deliveries(
    channel: str | None = typer.Option(None, "--channel", help="只看该通道 · this channel only"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="条数 · how many"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """最近的告警 · recent alert deliveries, newest first."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        rows = recent_deliveries(ctx.store, limit=limit, channel=channel)
    table = new_table(
        "告警 alert deliveries",
        "时间 at",
        ("通道 channel", KEY),
        "事件 event",
        ("状态 status", KEY),
        "标题 title",
        "错误 error",
    )
    for row in rows:
        style = STATUS_STYLE.get(row.status, "white")
        table.add_row(
            shown(row.at, seconds=True),
            row.channel,
            labels.both("alert_event", row.event),
            f"[{style}]{labels.both('state', row.status)}[/{style}]",
            row.title,
            row.error or "",
        )
    console.print(table)

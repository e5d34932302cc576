"""`yecai sync` and `yecai connections`: run a workspace's sync jobs now; manage connection secrets.

`yecai sync [--connection NAME] [--job NAME] [--since DATE]` runs the jobs (all, or those touching
a connection) once, in the foreground, with progress bars and a summary per job; it exits 1 when a
job failed or Kingdee does not match what yecai posted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from yecai import labels
from yecai.auth.principal import cli_principal
from yecai.cli.context import fail, once, opened, os_user
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.progress import step_progress
from yecai.cli.tables import FIGURE, KEY, new_table
from yecai.errors import YecaiError
from yecai.services import connections as connection_service
from yecai.sync.launch import jobs_for, run_sync
from yecai.sync.pipeline import SyncReport
from yecai.workspace import KingdeeConnection, SourceConnection

connections_app = typer.Typer(help="连接 · connections: list them, store their secrets encrypted")


def _summary(name: str, report: SyncReport) -> Table:
    table = new_table(f"同步 sync · {name} · run {report.run_id}", "项目 item", ("数值 value", FIGURE))
    for pull in report.pulls:
        table.add_row(f"拉取 pulled {pull.stream}", f"{pull.fetched:,} (新 new {pull.new:,})")
    invalid = sum(v.invalid for v in report.validations)
    table.add_row("无效记录 invalid records", f"{invalid:,}")
    for rule_set, plan in report.plans.items():
        table.add_row(f"计划 planned · {rule_set}", f"{plan.planned:,}")
        if plan.unmapped:
            table.add_row(f"未映射 unmapped · {rule_set}", f"{len(plan.unmapped):,}")
        if plan.held:
            table.add_row(f"暂缓 held · {rule_set}", f"{sum(len(h.document_ids) for h in plan.held):,}")
    table.add_row("过账 posted", f"{report.send.posted + report.send.found_after_unknown:,}")
    if report.send.found_after_restore:  # the first syncs after `yecai restore`
        table.add_row(
            "恢复后按键找到（不再发送） found by key after a restore (not sent again)",
            f"{report.send.found_after_restore:,}",
        )
    table.add_row("失败 failed", f"{report.send.failed:,}")
    table.add_row("待处理 still pending", f"{report.pending:,}")
    check = report.check
    table.add_row("核对凭证 vouchers checked in Kingdee", f"{check.vouchers:,}")
    table.add_row("缺失 / 重复 missing / duplicated", f"{len(check.missing)} / {len(check.duplicated)}")
    return table


def sync_command(
    connection: str | None = typer.Option(
        None, "--connection", help="只运行涉及该连接的作业 · jobs touching this connection"
    ),
    job: str | None = typer.Option(None, "--job", help="只运行该作业 · just this job"),
    since: str | None = typer.Option(
        None, "--since", help="从该日期重新读取 · re-read the source from DATE (YYYY-MM-DD)"
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """同步 · run the workspace's sync jobs now."""
    console = Console()
    with opened(database_url, workspace) as ctx, ctx.sandboxes(console):
        space = ctx.workspace_or_exit(console)
        names = [job] if job else jobs_for(space, connection)
        unknown = [n for n in names if n not in space.syncs]
        if unknown or not names:
            raise fail(
                console,
                YecaiError(
                    f"没有可运行的同步作业：{unknown or '-'}", f"no sync job to run: {unknown or '-'}"
                ),
            )
        ok = True
        for name in names:
            with step_progress(console) as bar:

                def step(label: str, total: int | None, job_name: str = name) -> Callable[[int], None]:
                    task = bar.add_task(f"{job_name} · {label}", total=total)
                    return lambda n: bar.advance(task, n)

                try:
                    report = run_sync(ctx.store, space, name, secrets=ctx.secrets, since=since, step=step)
                except YecaiError as exc:
                    console.print(f"[red]{name}: {once(exc)}[/red]", soft_wrap=True, highlight=False)
                    ok = False
                    continue
            console.print(_summary(name, report))
            for item in report.plan.unmapped[:20]:
                console.print(f"[yellow]{name}: {item.zh} / {item.en}[/yellow]")
            for held in report.plan.held[:20]:
                console.print(f"[yellow]{name}: {held.zh} / {held.en}[/yellow]")
            # Done means everything postable is in Kingdee: nothing failed, pending or unmapped.
            # (Held documents wait for the business — an unapproved valuation — not for us.)
            waiting = report.plan.unmapped
            ok = ok and report.check.clean and not report.send.failed and report.pending == 0 and not waiting
    if not ok:
        raise typer.Exit(1)


@connections_app.command("list")
def list_connections(
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """列出连接 · list connections and which secrets are stored (never their values)."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        space = ctx.workspace_or_exit(console)
        table = new_table(
            "连接 connections",
            ("名称 name", KEY),
            ("类型 kind", KEY),
            "地址 address",
            "已存密钥 stored secrets",
        )
        for name, c in space.connections.items():
            if isinstance(c, KingdeeConnection):
                address = c.server_url
            elif isinstance(c, SourceConnection):
                address = c.base_url or c.connector
            else:  # an alert channel: its webhook URL is usually a secret reference itself
                address = f"{c.channel} " + (c.webhook_url or f"{c.host}:{c.port or '-'}")
            table.add_row(
                name, labels.both("kind", c.kind), address, ", ".join(ctx.secrets.names(name)) or "-"
            )
        console.print(table)


@connections_app.command("set-secret")
def set_secret(
    connection: str = typer.Argument(..., help="连接名 · connection name"),
    name: str = typer.Argument(..., help="密钥名 · secret name, as in ${NAME}"),
    value: str = typer.Option(
        ..., "--value", prompt=True, hide_input=True, help="密钥值 · the value (prompted, hidden)"
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """保存密钥（加密） · store a connection secret, encrypted at rest."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            connection_service.set_secret(
                ctx.store,
                ctx.secrets,
                None,
                connection=connection,
                key=name,
                value=value,
                by=cli_principal(os_user()),
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"已加密保存 stored (encrypted): {connection}.{name}")


@connections_app.command("delete-secret")
def delete_secret(
    connection: str = typer.Argument(...),
    name: str = typer.Argument(...),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """删除密钥 · delete a stored secret."""
    with opened(database_url, workspace) as ctx:
        found = connection_service.delete_secret(
            ctx.store, ctx.secrets, connection=connection, key=name, by=cli_principal(os_user())
        )
    Console().print("已删除 deleted" if found else "不存在 not found")
    if not found:
        raise typer.Exit(1)

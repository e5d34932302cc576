"""`yecai postings …`: list postings by state, approve, replay, skip with a reason."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from yecai import labels
from yecai.auth.principal import cli_principal
from yecai.cli.context import fail, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.domain.posting_states import STATES
from yecai.errors import YecaiError
from yecai.services import postings as service

postings_app = typer.Typer(help="过账 · postings: list, approve, replay, skip")


@postings_app.command("list")
def list_command(
    state: str | None = typer.Option(None, "--state", help=f"状态 · one of {', '.join(STATES)}"),
    connection: str | None = typer.Option(None, "--connection"),
    limit: int = typer.Option(200, "--limit", min=1),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """列出过账 · list postings, newest first."""
    console = Console()
    if state is not None and state not in (*STATES, "sending"):
        raise fail(console, YecaiError(f"未知状态 {state}", f"unknown state {state}"), 2)
    with opened(database_url, workspace) as ctx:
        rows = service.list_postings(ctx.store, state=state, connection=connection, limit=limit)
        counts = service.counts_by_state(ctx.store, connection=connection)
    table = Table(
        title="过账 postings · "
        + ", ".join(f"{labels.both('state', k)} {v}" for k, v in sorted(counts.items()))
    )
    for column in (
        "ID",
        "日期 date",
        "规则 rule set",
        "状态 state",
        "金额 amount",
        "凭证字号/单据编号 number",
        "尝试 tries",
        "说明 message",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.business_date.isoformat(),
            labels.both("rule_set", row.rule_set),
            labels.both("state", row.state),
            row.debit_total,
            row.kingdee_number or "-",
            str(row.attempts),
            (row.message or "")[:80],
        )
    console.print(table)


@postings_app.command("approve")
def approve_command(
    ids: list[int] = typer.Argument(
        None, help="过账ID（省略则按条件全部） · posting ids (omit: all that match)"
    ),
    rule_set: str | None = typer.Option(None, "--rule-set"),
    connection: str | None = typer.Option(None, "--connection"),
    who: str = typer.Option(getpass.getuser(), "--who", help="审批人 · approver"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """审批放行 · release postings waiting at the approval gate."""
    with opened(database_url, workspace) as ctx:
        count = service.approve(
            ctx.store, who=who, ids=ids or (), rule_set=rule_set, connection=connection, by=cli_principal(who)
        )
    Console().print(f"已审批 approved: {count}")


@postings_app.command("replay")
def replay_command(
    posting_id: int = typer.Argument(..., help="过账ID · posting id"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """重放 · put a failed, dead, held or skipped posting back (looked up in Kingdee first if needed)."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            state = service.replay(ctx.store, posting_id=posting_id, by=cli_principal(getpass.getuser()))
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"已重放 replayed: {posting_id} → {state}（下次同步时处理 / sent by the next sync）")


@postings_app.command("skip")
def skip_command(
    posting_id: int = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="原因 · why"),
    who: str = typer.Option(getpass.getuser(), "--who"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """跳过 · set a posting aside with a reason."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            service.skip(ctx.store, posting_id=posting_id, reason=reason, who=who, by=cli_principal(who))
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"已跳过 skipped: {posting_id}")

"""`yecai postings …`: list postings by state, approve, replay, skip with a reason."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.console import Console

from yecai import labels
from yecai.auth.principal import cli_principal
from yecai.cli.context import fail, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import FIGURE, KEY, TEXT, new_table
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
    # Five narrow columns fit 80 columns with every amount and number whole; the messages, long and
    # bilingual, follow the table as lines of their own instead of a column one word wide.
    table = new_table(
        "过账 postings · " + ", ".join(f"{labels.both('state', k)} {v}" for k, v in sorted(counts.items())),
        ("ID", KEY),
        ("日期 date", KEY),
        ("规则集/状态\nrule set / state", TEXT),  # words, not codes: they may wrap
        ("金额 amount", FIGURE),
        ("凭证字号/单据编号 number", KEY),
    )
    for row in rows:
        tries = f" · {row.attempts} 次 tries" if row.attempts else ""
        table.add_row(
            str(row.id),
            row.business_date.isoformat(),
            f"{labels.both('rule_set', row.rule_set)}\n{labels.both('state', row.state)}{tries}",
            row.debit_total,
            row.kingdee_number or "-",
        )
    console.print(table)
    messages = [row for row in rows if row.message]
    if messages:
        console.print("说明 messages:", highlight=False)
    for row in messages:
        console.print(f"  {row.id}: {row.message}", highlight=False)


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

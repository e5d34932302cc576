"""`yecai reconcile`: reconcile a sync job's Kingdee connection now and print the differences by type.

`yecai reconcile [--period YYYY-MM|all] [--job NAME] [--workspace F] [--database-url U] [--excel OUT]`
prints a table with the count of every difference type (all five, zeros included) and exits 0
when the run completed — differences are findings, not failures — and 1 only when it could not run.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from yecai.auth.principal import cli_principal
from yecai.cli.context import EXIT_USAGE, fail, opened
from yecai.cli.options import DATABASE, JOB, WORKSPACE
from yecai.cli.tables import FIGURE, KEY, new_table
from yecai.errors import YecaiError
from yecai.reconcile.classify import KINDS, TITLES
from yecai.reconcile.service import ReconcileReport, parse_period, reconcile_job, run_detail
from yecai.reconcile.workbook import workbook


def _table(job: str | None, report: ReconcileReport) -> Table:
    table = new_table(
        f"对账 reconciliation · {job or '-'} · {report.period} · run {report.run_id}",
        "差异类型 difference type",
        ("代码 code", KEY),
        ("数量 count", FIGURE),
    )
    for kind in KINDS:
        zh, en = TITLES[kind]
        table.add_row(f"{zh} {en}", kind, f"{report.counts.get(kind, 0):,}")
    table.add_row("合计 total", "", f"{report.total:,}")
    return table


def reconcile_command(
    period: str | None = typer.Option(
        None, "--period", help="会计期间 YYYY-MM，或 all（默认本月，北京时间）· period YYYY-MM or all"
    ),
    job: str | None = JOB,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    excel: Path | None = typer.Option(
        None, "--excel", help="差异导出到 Excel · write the differences to OUT.xlsx"
    ),
) -> None:
    """对账 · reconcile source ↔ yecai ↔ Kingdee per project × account × period."""
    console = Console()
    try:  # a bad period is bad input (exit 2), found before anything is opened
        chosen = parse_period(period)
    except YecaiError as exc:
        raise fail(console, exc, EXIT_USAGE) from None
    with opened(database_url, workspace) as ctx, ctx.sandboxes(console):
        space = ctx.workspace_or_exit(console)
        try:
            report = reconcile_job(ctx.store, space, job, secrets=ctx.secrets, period=chosen)
        except YecaiError as exc:
            raise fail(console, exc) from None
        except Exception as exc:  # the run could not complete: say why, exit non-zero
            raise fail(console, exc) from None
        console.print(_table(report.job, report))
        mismatched = report.balance.get("mismatched") or []
        if mismatched:
            console.print(
                f"[yellow]科目余额表与凭证查询不一致的科目 {len(mismatched)} 个 / "
                f"{len(mismatched)} account(s) differ between the account-balance report and the vouchers read[/yellow]"
            )
        if report.balance.get("unavailable"):
            console.print(
                f"[yellow]科目余额表不可用 / account-balance report unavailable: {report.balance['unavailable']}[/yellow]"
            )
        if excel is not None:
            detail = run_detail(ctx.store, cli_principal("cli"), report.run_id, limit=None)
            assert detail is not None
            excel.write_bytes(workbook(detail.run, detail.differences))
            console.print(f"已写出 written: {excel}")

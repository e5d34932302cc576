"""`yecai report`: the monthly operating analysis and a project's P&L, from Kingdee's books.

`yecai report monthly [--period YYYY-MM] --out DIR` writes exactly one .xlsx and one .html
(monthly-YYYY-MM.*) and prints where; `yecai report pnl --project CODE [--period]` prints the
project's P&L table. Without --period both report the latest period with data and say which
(`service.default_period`). A bad period exits 2; Kingdee unreadable or bad configuration exits 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from yecai.auth.principal import cli_principal
from yecai.cli.context import EXIT_USAGE, CommandContext, fail, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import FIGURE, new_table
from yecai.errors import YecaiError
from yecai.reports import service
from yecai.reports.latest import PeriodChoice, asked
from yecai.reports.periods import Period
from yecai.workspace import Workspace

report_app = typer.Typer(help="报表 · reports: monthly operating analysis, project P&L", no_args_is_help=True)

JOB = typer.Option(
    None, "--job", help="同步作业（决定账套与科目）· sync job naming the data centre and accounts"
)


def _asked(console: Console, text: str | None) -> PeriodChoice | None:
    """The period named on the command line (a bad one exits 2), or None for the default."""
    try:
        return asked(Period.parse(text)) if text else None
    except YecaiError as exc:
        raise fail(console, exc, EXIT_USAGE) from None


@contextmanager
def _reading(
    period: str | None, job: str | None, workspace: Path | None, database_url: str | None
) -> Iterator[tuple[Console, PeriodChoice, CommandContext, Workspace]]:
    """What both reports read with: the console, the period, the store and the workspace.

    The period is checked before the store is opened (a bad one exits 2); without one, the latest
    period with data is reported and named. A YecaiError while the report is read or written
    exits 1, closing the store on the way out.
    """
    console = Console()
    named = _asked(console, period)
    with opened(database_url, workspace) as ctx, ctx.sandboxes(console):
        space = ctx.workspace_or_exit(console)
        chosen = named or service.default_period(ctx.store, space, job=job)
        if chosen.defaulted:
            console.print(str(chosen), soft_wrap=True)
        try:
            yield console, chosen, ctx, space
        except YecaiError as exc:
            raise fail(console, exc) from None


@report_app.command("monthly")
def monthly_command(
    period: str | None = typer.Option(
        None, "--period", help="期间 · period YYYY-MM (default: the latest with data)"
    ),
    out: Path = typer.Option(..., "--out", help="输出目录 · output directory"),
    job: str | None = JOB,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """月度经营分析 · write the monthly operating analysis (.xlsx and .html)."""
    with _reading(period, job, workspace, database_url) as (console, chosen, ctx, space):
        report = service.monthly(
            ctx.store,
            space,
            period=chosen.period,
            choice=chosen,
            who=cli_principal("cli"),
            secrets=ctx.secrets,
            job=job,
        )
        written = service.write_monthly(report, out)
    console.print(f"已生成 written: {written.xlsx}", soft_wrap=True)
    console.print(f"已生成 written: {written.html}", soft_wrap=True)


@report_app.command("pnl")
def pnl_command(
    project: str = typer.Option(..., "--project", help="项目编码 · project code"),
    period: str | None = typer.Option(
        None, "--period", help="期间 · period YYYY-MM (default: the latest with data)"
    ),
    job: str | None = JOB,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """项目损益 · print a project's P&L."""
    with _reading(period, job, workspace, database_url) as (console, chosen, ctx, space):
        view = service.pnl(
            ctx.store,
            space,
            code=project,
            period=chosen.period,
            who=cli_principal("cli"),
            secrets=ctx.secrets,
            job=job,
        )
    if view is None:
        raise fail(console, YecaiError(f"没有项目 {project}", f"no project {project}"))
    p = view.project
    table = new_table(
        f"项目损益 P&L · {p.code} {p.name} · {view.period}",
        "成本项目 category",
        *(
            (title, FIGURE)
            for title in ("目标成本 budget", "至今预算 to date", "本月 month", "累计 cost", "偏差 %")
        ),
    )
    for r in view.rows:
        table.add_row(
            r.name,
            f"{r.budget:,.2f}",
            f"{r.budget_to_date:,.2f}",
            f"{r.cost_period:,.2f}",
            f"{r.cost_to_date:,.2f}",
            "—" if r.variance_pct is None else f"{r.variance_pct}%",
        )
    console.print(table)
    console.print(
        f"合同额 contract {p.contract_value or 0:,.2f} · 累计收入 revenue {p.revenue_to_date:,.2f} · "
        f"累计成本 cost {p.cost_to_date:,.2f} · 毛利 margin {p.margin_to_date:,.2f} "
        f"({'—' if p.margin_pct is None else f'{p.margin_pct}%'})"
    )

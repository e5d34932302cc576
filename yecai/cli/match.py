"""`yecai match`: invoice matching (三单匹配) of a sync job's source documents for one period.

`yecai match --period YYYY-MM [--project CODE] [--job NAME] [--workspace F] [--database-url U]
[--excel OUT.xlsx]` prints a table per supplier contract (cost, invoices received, payments), then
the unmatched items with their documents, then a one-line count. It reads the store only (what the
PM system sent), never Kingdee. Exit 0 when it ran — differences are findings, not failures — 1
when it could not (no workspace, unknown job), 2 for a bad period, as `yecai report` does.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from yecai.auth.principal import cli_principal
from yecai.cli.context import fail, opened
from yecai.cli.options import DATABASE, JOB, WORKSPACE
from yecai.errors import YecaiError
from yecai.reconcile.matching import MISMATCH_ZH
from yecai.reconcile.matching_service import MISMATCH_EN, MatchingReport, match_job
from yecai.reconcile.matching_workbook import matching_workbook
from yecai.reports.periods import Period

# two-line headers (中文 over English) keep the table inside an ordinary terminal
AMOUNT_COLUMNS = (
    "成本(不含税)\ncost ex-VAT",
    "到票金额\ninvoiced net",
    "到票税额\nVAT",
    "价税合计\ninvoiced total",
    "已付款\npaid",
    "未到票\nnot invoiced",
    "未付款\nnot paid",
)


SHOWN_DOCUMENTS = 2  # a month's daily costs are dozens of records: the Excel export lists them all


def _money(value: object) -> str:
    return f"{value:,.2f}"


def _documents(numbers: tuple[str, ...]) -> str:
    if len(numbers) <= SHOWN_DOCUMENTS:
        return "、".join(numbers)
    return "、".join(numbers[:SHOWN_DOCUMENTS]) + f" 等 {len(numbers)} 张 ({len(numbers)} documents)"


def _text_columns(table: Table, *titles: str) -> None:
    # fold, not "…": a supplier's full name is what the accountant looks for
    for title in titles:
        table.add_column(title, overflow="fold", min_width=8)


def _amount_columns(table: Table, *titles: str) -> None:
    # folded too when the terminal is narrow: a wrapped amount beats a truncated one
    for title in titles:
        table.add_column(title, justify="right", overflow="fold")


def _rows_table(report: MatchingReport) -> Table:
    result = report.result
    scope = report.project or "全部项目 all projects"
    table = Table(title=f"三单匹配 invoice matching · {report.job} · {result.period} · {scope}")
    one = report.project is not None  # the project is in the title: no column for it
    _text_columns(table, "合同/供应商\ncontract", *(() if one else ("项目\nproject",)), "往来单位\nsupplier")
    _amount_columns(table, *AMOUNT_COLUMNS)
    for r in result.rows:
        # Text(), not str: a supplier name like "[red]…" is data, never Rich markup
        table.add_row(
            Text(r.key),
            *(() if one else (Text(r.project_code),)),
            Text(r.counterparty),
            *(
                _money(v)
                for v in (
                    r.cost,
                    r.invoiced_net,
                    r.invoiced_tax,
                    r.invoiced_total,
                    r.paid,
                    r.uninvoiced,
                    r.unpaid,
                )
            ),
        )
    return table


def _unmatched_table(report: MatchingReport) -> Table:
    table = Table(title=f"未匹配 unmatched · {len(report.result.unmatched)}")
    _text_columns(table, "类型\ntype", "合同/供应商\ncontract", "项目\nproject", "往来单位\nsupplier")
    _amount_columns(table, "金额\namount")
    _text_columns(table, "单据\ndocuments")
    for u in report.result.unmatched:
        table.add_row(
            f"{MISMATCH_ZH[u.kind]} {MISMATCH_EN[u.kind]}",
            Text(u.key),
            Text(u.project_code),
            Text(u.counterparty),
            _money(u.amount),
            Text(_documents(u.documents)),
        )
    return table


def match_command(
    period: str = typer.Option(..., "--period", help="会计期间 · period YYYY-MM"),
    project: str | None = typer.Option(None, "--project", help="只看一个项目 · one project only"),
    job: str | None = JOB,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    excel: Path | None = typer.Option(None, "--excel", help="导出到 Excel · write the matching to OUT.xlsx"),
) -> None:
    """三单匹配 · match cost ↔ invoice ↔ payment per supplier contract for a period."""
    console = Console()
    try:
        chosen = Period.parse(period)
    except YecaiError as exc:
        raise fail(console, exc, code=2) from None
    with opened(database_url, workspace) as ctx:
        space = ctx.workspace_or_exit(console)
        try:
            report = match_job(
                ctx.store, space, job, period=chosen, who=cli_principal("cli"), project=project
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(_rows_table(report))
    if report.result.unmatched:
        console.print(_unmatched_table(report))
    else:
        console.print("全部匹配 · everything matches")
    console.print(report.summary(), soft_wrap=True)
    if excel is not None:
        try:
            excel.write_bytes(matching_workbook(report))
        except OSError as exc:
            raise fail(
                console, YecaiError(f"无法写出 {excel}：{exc}", f"cannot write {excel}: {exc}")
            ) from None
        console.print(f"已写出 written: {excel}", soft_wrap=True)

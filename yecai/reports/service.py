"""Reports as a service: open a sync job's connections, read the figures, write the files.

What the CLI, the API, the console and the schedule call. The job (by name, or the first one that
posts costs) says which source's documents, which Kingdee data centre, and — through its rule sets
and mapping table — which accounts. The caller's `Principal` narrows every figure to their
projects. Nothing is cached: each report reads Kingdee afresh, so it equals the books right now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict, Unpack

import httpx

from yecai.auth.principal import Principal
from yecai.errors import ConfigurationError, YecaiError
from yecai.mapping.rules import Event, default_job_rule_sets, default_mapping
from yecai.reports.accounts import report_accounts
from yecai.reports.documents import load_documents
from yecai.reports.excel import monthly_workbook, pnl_workbook
from yecai.reports.figures import Figures, compute_figures
from yecai.reports.html import monthly_html
from yecai.reports.latest import PeriodChoice, latest_with_data
from yecai.reports.ledger import read_ledger
from yecai.reports.monthly import MonthlyOptions, MonthlyReport, monthly_report
from yecai.reports.periods import Period
from yecai.reports.pnl import ProjectPnl, project_pnl
from yecai.secrets import SecretBox
from yecai.store.db import Store
from yecai.workspace import Workspace


@dataclass(frozen=True, slots=True)
class WrittenReport:
    xlsx: Path
    html: Path


class FigureQuery(TypedDict):
    """What a report reads its figures for, as `read_figures` takes it: a report passes it through.

    Declared once so the monthly report and the P&L cannot ask for figures differently.
    """

    period: Period
    who: Principal
    secrets: SecretBox | None
    job: NotRequired[str | None]


def choose_job(workspace: Workspace, job: str | None = None) -> str:
    """The named sync job, else the first that posts costs, else the only one."""
    if job is not None:
        if job not in workspace.syncs:
            raise ConfigurationError(f"没有名为 {job} 的同步作业", f"there is no sync job named {job}")
        return job
    for name in workspace.syncs:
        if any(rules.event is Event.COST for rules in workspace.rule_sets(workspace.syncs[name])):
            return name
    if workspace.syncs:
        return next(iter(workspace.syncs))
    raise ConfigurationError(
        "工作区没有同步作业，无法确定报表读取的金蝶账套",
        "the workspace has no sync job, so there is no Kingdee data centre to read the report from",
    )


def default_period(
    store: Store, workspace: Workspace | None, *, job: str | None = None, today: dt.date | None = None
) -> PeriodChoice:
    """The period a report shows when none is asked for: the latest with data (`reports.latest`).

    The one place every report's default comes from — console pages, API, CLI. The job (as for
    the figures) names the Kingdee connection, the source and the accounts; without a usable job
    the whole store counts, with the default rule sets' accounts.
    """
    kingdee = source = None
    rule_sets, mapping = list(default_job_rule_sets().values()), default_mapping()
    if workspace is not None:
        try:
            sync = workspace.syncs[choose_job(workspace, job)]
            kingdee, source = sync.target, sync.source
            rule_sets, mapping = workspace.rule_sets(sync), workspace.mapping(sync)
        except YecaiError:
            pass  # no job to read from: the report itself says so; the default still helps
    accounts = report_accounts(rule_sets, mapping)
    return latest_with_data(
        store,
        kingdee=kingdee,
        source=source,
        accounts={*accounts.cost, *accounts.revenue},
        today=today,
    )


def read_figures(
    store: Store,
    workspace: Workspace,
    *,
    period: Period,
    who: Principal,
    secrets: SecretBox | None,
    job: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Figures:
    """The figures of every project the caller sees, read from Kingdee and the PM documents now."""
    name = choose_job(workspace, job)
    sync = workspace.syncs[name]
    mapping = workspace.mapping(sync)
    accounts = report_accounts(workspace.rule_sets(sync), mapping)
    docs = load_documents(store, connection=sync.source, who=who)
    with workspace.kingdee(sync.target, secrets, transport=transport) as client:
        ledger = read_ledger(client, accounts, until=period.last_day)
    if who.projects is not None:  # never a figure of another manager's project
        allowed = {mapping.project_number(code) or code for code in docs.projects}
        ledger.entries = {number: rows for number, rows in ledger.entries.items() if number in allowed}
    return compute_figures(
        docs=docs,
        ledger=ledger,
        accounts=accounts,
        mapping=mapping,
        period=period,
        job=name,
        kingdee=sync.target,
        company_wide=who.projects is None,
    )


def monthly(
    store: Store,
    workspace: Workspace,
    *,
    options: MonthlyOptions | None = None,
    choice: PeriodChoice | None = None,
    **query: Unpack[FigureQuery],
) -> MonthlyReport:
    """The monthly operating analysis of the figures `query` asks for (`read_figures`).

    `choice` is how the period was chosen: a default one is named in the report's header.
    """
    report = monthly_report(read_figures(store, workspace, **query), options or MonthlyOptions())
    if choice is not None and choice.defaulted:
        report.period_note = (choice.zh, choice.en)
    return report


def pnl(store: Store, workspace: Workspace, *, code: str, **query: Unpack[FigureQuery]) -> ProjectPnl | None:
    """One project's P&L, or None when the caller may not see it (or it does not exist)."""
    if not query["who"].sees_project(code):
        return None
    figures = read_figures(store, workspace, **query)
    found = figures.project(code)
    return project_pnl(figures, found) if found is not None else None


def file_names(period: Period) -> tuple[str, str]:
    """ASCII names (safe in every file system, zip and download header): monthly-2026-10.xlsx / .html."""
    return f"monthly-{period}.xlsx", f"monthly-{period}.html"


def write_monthly(report: MonthlyReport, out: Path) -> WrittenReport:
    """Exactly one .xlsx and one .html of the report in `out` (replaced if they exist)."""
    out.mkdir(parents=True, exist_ok=True)
    xlsx_name, html_name = file_names(Period.parse(report.period))
    xlsx, html = out / xlsx_name, out / html_name
    xlsx.write_bytes(monthly_workbook(report))
    html.write_text(monthly_html(report), encoding="utf-8")
    return WrittenReport(xlsx, html)


def pnl_xlsx(view: ProjectPnl) -> bytes:
    return pnl_workbook(view)

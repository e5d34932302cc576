"""Excel and CSV exports of sandbox.pm, in the layouts construction PM systems produce.

`write_exports` writes one sample per kind (cost, attendance, invoice, payment_request, budget,
worker — what `yecai import --kind` reads): .xlsx, CSV (GBK, UTF-8 BOM, GB18030) and one legacy
.xls; `write_big_cost_ledger` streams a ledger of any length in bounded memory for benchmarks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from yecai.sandbox.pm.exports.delimited import write_csv
from yecai.sandbox.pm.exports.layouts import (
    Layout,
    attendance_layout,
    budget_layout,
    cost_layout,
    invoice_layout,
    payment_request_layout,
    worker_layout,
)
from yecai.sandbox.pm.exports.ledger import ledger_rows
from yecai.sandbox.pm.exports.legacy_xls import write_xls, xlwt_available
from yecai.sandbox.pm.exports.xlsx import write_xlsx
from yecai.sandbox.pm.models import CHINA_TZ, Dataset, Project
from yecai.sandbox.pm.names import CONTRACTOR_NAME

KINDS: tuple[str, ...] = ("cost", "attendance", "invoice", "payment_request", "budget", "worker")

__all__ = ["KINDS", "ExportFile", "period_label", "write_big_cost_ledger", "write_exports"]


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: Path
    kind: str
    format: str  # xlsx | xls | csv
    encoding: str | None  # for CSV: gbk, utf-8-sig, gb18030
    rows: int
    layout: Layout
    title: str | None  # spreadsheet title row (CSV has none)


def period_label(first: date, last: date) -> tuple[str, str]:
    """(for file names, for titles): 2026-10 / 2026年10月, or a range of months."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first:%Y-%m}", f"{first.year}年{first.month}月"
    return f"{first:%Y-%m}至{last:%Y-%m}", f"{first.year}年{first.month}月至{last.year}年{last.month}月"


def write_exports(dataset: Dataset, directory: Path, *, now: datetime | None = None) -> list[ExportFile]:
    """Write every sample export of `dataset` (as of `now`, default the end of its timeline)."""
    directory.mkdir(parents=True, exist_ok=True)
    moment = now or dataset.timeline_end
    state = dataset.at(moment)
    exported_at = moment.astimezone(CHINA_TZ)
    stem_period, title_period = period_label(dataset.first_day, dataset.last_day)
    projects = {p.project_code: p for p in state.projects}
    workers = {w.worker_id: w for w in state.workers}
    files: list[ExportFile] = []

    def title(layout: Layout, name: str = CONTRACTOR_NAME) -> str:
        return layout.title.format(name=name, period=title_period)

    def xlsx(layout: Layout, rows: list[object]) -> None:
        path = directory / f"{layout.file_stem}_{stem_period}.xlsx"
        text = title(layout)
        count = write_xlsx(path, layout, rows, text, exported_at)
        files.append(ExportFile(path, layout.kind, "xlsx", None, count, layout, text))

    def csv(layout: Layout, rows: list[object], encoding: str) -> None:
        path = directory / f"{layout.file_stem}_{stem_period}.csv"
        count = write_csv(path, layout, rows, encoding)
        files.append(ExportFile(path, layout.kind, "csv", encoding, count, layout, None))

    costs = sorted(state.all_cost_records, key=lambda r: (r.project_code, r.business_date, r.record_id))
    layout = cost_layout(projects)
    xlsx(layout, list(costs))
    csv(layout, list(costs), "gbk")
    costed = next((p for p in state.projects if any(r.project_code == p.project_code for r in costs)), None)
    if costed is not None and xlwt_available():
        own = [r for r in costs if r.project_code == costed.project_code]
        path = directory / f"{layout.file_stem}_{costed.project_code}_{stem_period}.xls"
        text = title(layout, f"{costed.project_name} ")
        count = write_xls(path, layout, own, text, exported_at)
        files.append(ExportFile(path, layout.kind, "xls", None, count, layout, text))

    layout = attendance_layout(projects, workers)
    attendance = list(state.attendance)
    xlsx(layout, attendance)
    csv(layout, attendance, "utf-8-sig")

    layout = invoice_layout()
    invoices = sorted(state.invoices, key=lambda r: (r.project_code, r.issue_date, r.invoice_no))
    xlsx(layout, list(invoices))
    csv(layout, list(invoices), "gbk")

    layout = payment_request_layout(projects)
    xlsx(layout, list(state.payment_requests))
    csv(layout, list(state.payment_requests), "gbk")

    layout = budget_layout(projects)
    xlsx(layout, list(state.budget_lines))
    csv(layout, list(state.budget_lines), "gbk")

    layout = worker_layout()
    xlsx(layout, list(state.workers))
    csv(layout, list(state.workers), "gb18030")
    return files


def write_big_cost_ledger(
    path: Path,
    rows: int,
    *,
    seed: int = 42,
    start_month: str = "2016-01",
    exported_at: datetime | None = None,
) -> int:
    """Write a cost ledger of exactly `rows` data rows (cost layout, 成本台账 sheet) to `path`.

    Memory stays bounded whatever `rows` is: the rows are drawn lazily, one project at a time,
    and XlsxWriter's constant_memory mode flushes each row as it goes. Returns `rows`.
    """
    if rows < 0:
        raise ValueError(f"rows must not be negative, got {rows}")
    projects: dict[str, Project] = {}
    layout = cost_layout(projects)
    text = layout.title.format(name=CONTRACTOR_NAME, period=f"{rows:,} 行")
    moment = exported_at or datetime(2026, 1, 1, 9, 0, tzinfo=CHINA_TZ)
    source = itertools.islice(ledger_rows(seed, start_month, projects), rows)
    return write_xlsx(path, layout, source, text, moment)

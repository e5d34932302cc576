"""Issue 14 item 8: one time zone for people, labelled, wherever a time is shown.

The store keeps UTC; the import CLI and its report used to print that UTC unlabelled (22:19) while
the console showed Beijing time (06:19 the next day) for the same moment. Now every time shown is
in the workspace's zone (Asia/Shanghai unless `timezone:` says otherwise) with its offset.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.support.spreadsheets import GOOD, sheet_rows, write_xlsx
from yecai.cli.main import app
from yecai.errors import ConfigurationError
from yecai.localtime import people_zone, shown, use_zone
from yecai.reconcile.service import RunView
from yecai.reconcile.workbook import workbook
from yecai.reports.figures import Figures
from yecai.reports.html import monthly_html
from yecai.reports.monthly import MonthlyOptions, monthly_report
from yecai.web.console.rendering import _env as console_templates
from yecai.workspace import load_workspace

LATE_EVENING_UTC = dt.datetime(2026, 10, 5, 22, 19, tzinfo=dt.UTC)  # 06:19 next morning in Beijing
SEEN_IN_BEIJING = "2026-10-06 06:19 (UTC+8)"


@pytest.fixture(autouse=True)
def _default_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("YECAI_TIMEZONE", "YECAI_WORKDIR", "YECAI_WORKSPACE", "YECAI_DATABASE_URL", "TZ"):
        monkeypatch.delenv(name, raising=False)
    use_zone(None)
    yield
    use_zone(None)


def test_a_stored_moment_is_shown_in_beijing_time_with_its_label() -> None:
    assert shown(LATE_EVENING_UTC) == SEEN_IN_BEIJING
    assert shown(LATE_EVENING_UTC.replace(tzinfo=None)) == SEEN_IN_BEIJING  # SQLite's naive UTC
    assert shown(LATE_EVENING_UTC, seconds=True) == "2026-10-06 06:19:00 (UTC+8)"
    assert shown(None) == "—"
    use_zone("Asia/Kolkata")
    assert shown(LATE_EVENING_UTC) == "2026-10-06 03:49 (UTC+5:30)"
    use_zone("UTC")
    assert shown(LATE_EVENING_UTC) == "2026-10-05 22:19 (UTC)"


def test_the_workspace_chooses_the_zone(tmp_path: Path) -> None:
    path = tmp_path / "yecai.yaml"
    path.write_text("connections: {}\ntimezone: Europe/London\n", encoding="utf-8")
    assert load_workspace(path).timezone == "Europe/London"
    assert people_zone().key == "Europe/London"
    assert shown(LATE_EVENING_UTC) == "2026-10-05 23:19 (UTC+1)"  # British summer time
    path.write_text("connections: {}\n", encoding="utf-8")
    load_workspace(path)
    assert people_zone().key == "Asia/Shanghai"  # said nothing: the default again
    path.write_text("connections: {}\ntimezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="Mars/Olympus"):
        load_workspace(path)


def _cost_file(folder: Path) -> Path:
    header, rows, _ = GOOD["cost"]
    return write_xlsx(folder / "成本台账.xlsx", sheet_rows(header, rows))


def _stamp_of(output: str) -> tuple[dt.datetime, str]:
    found = re.search(r"已于 (\d{4}-\d\d-\d\d \d\d:\d\d) \((UTC[^)]*)\)", output)
    assert found, output
    return dt.datetime.strptime(found[1], "%Y-%m-%d %H:%M"), found[2]


@pytest.mark.parametrize(("zone", "label", "hours"), [(None, "UTC+8", 8), ("UTC", "UTC", 0)])
def test_the_import_cli_and_its_report_show_the_workspace_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str | None, label: str, hours: int
) -> None:
    (tmp_path / "yecai.yaml").write_text(
        "connections: {}\n" + (f"timezone: {zone}\n" if zone else ""), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    path = _cost_file(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["import", path.name, "--kind", "cost"], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        app, ["import", path.name, "--kind", "cost", "--report", "r.xlsx"], env={"COLUMNS": "200"}
    )
    assert again.exit_code == 0, again.output
    # "already imported on 2026-10-06 06:19 (UTC+8)": the workspace's clock, said so; the note is
    # written in the import worker process, so the zone must have travelled there too
    when, shown_label = _stamp_of(again.output)
    assert shown_label == label
    expected = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=hours)
    assert abs(when - expected) < dt.timedelta(minutes=5)
    summary = CalamineWorkbook.from_path(str(tmp_path / "r.xlsx")).get_sheet_by_name("汇总 Summary")
    values = {row[0]: row[1] for row in summary.to_python() if row and row[0]}
    assert values["开始 started"].endswith(f"({label})"), values
    started = dt.datetime.strptime(values["开始 started"][:19], "%Y-%m-%d %H:%M:%S")
    assert abs(started - expected) < dt.timedelta(minutes=5)


def test_the_reconciliation_workbook_and_the_monthly_report_are_labelled() -> None:
    run = RunView(7, "succeeded", "kd", "books", "2026-10", LATE_EVENING_UTC, None, {}, None, {})
    rows = CalamineWorkbook.from_filelike(io.BytesIO(workbook(run, []))).get_sheet_by_index(0)
    facts = {row[0]: row[1] for row in rows.to_python() if row and row[0]}
    assert facts["开始 started"] == "2026-10-06 06:19:00 (UTC+8)"
    figures = Figures(
        period="2026-10", job="books", kingdee="kd", cash_source="kingdee", generated_at=LATE_EVENING_UTC
    )
    html = monthly_html(monthly_report(figures, MonthlyOptions()))
    assert f"生成于 generated {SEEN_IN_BEIJING}" in html
    assert "UTC</p>" not in html


def test_the_console_shows_the_same_text_as_the_cli() -> None:
    when = console_templates.filters["when"]
    assert when(LATE_EVENING_UTC) == SEEN_IN_BEIJING
    assert when(None) == "—"

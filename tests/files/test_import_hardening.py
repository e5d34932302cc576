"""Hostile file imports: where the store is, what the report echoes, and times of day out of range.

`yecai import` must write to the store of `YECAI_WORKDIR` (the one the console reads); the import
report must never hand a formula to Excel; `2026-10-05T25:00` is refused, never truncated to a date.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from python_calamine import CalamineWorkbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.spreadsheets import GOOD, sheet_rows, write_xlsx
from yecai import jsonutil
from yecai.cli.import_file import import_command
from yecai.files import first_issues, import_file
from yecai.files.cells import CellError, text_date
from yecai.store.db import Store
from yecai.store.tables import Document

app = typer.Typer()
app.command("import")(import_command)
app.command("noop")(lambda: None)  # two commands, so `import` stays a sub-command


def test_yecai_import_uses_the_workdir_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YECAI_DATABASE_URL", raising=False)
    header, rows, _ = GOOD["cost"]
    path = write_xlsx(tmp_path / "成本.xlsx", sheet_rows(header, rows))
    workdir = tmp_path / "console-workdir"
    result = CliRunner().invoke(
        app, ["import", str(path), "--kind", "cost"], env={"YECAI_WORKDIR": str(workdir), "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert (workdir / "yecai.sqlite").exists()
    assert not (tmp_path / ".yecai").exists()


def test_the_import_report_never_holds_a_formula(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["cost"]
    hostile = list(rows[0])
    hostile[1], hostile[3] = "CB-EVIL", '=HYPERLINK("http://x","点我")'
    path = write_xlsx(tmp_path / "=cmd成本.xlsx", sheet_rows(header, [*rows, hostile]))
    result = import_file(store, path, kind="cost", report=tmp_path / "report.xlsx")
    assert result.counts.rejected == 1
    report = CalamineWorkbook.from_path(str(result.report))
    errors = report.get_sheet_by_name("错误 Rejected").to_python()
    values = [row[4] for row in errors[1:]]
    assert '\'=HYPERLINK("http://x","点我")' in values
    summary = {row[0]: row[1] for row in report.get_sheet_by_name("汇总 Summary").to_python() if row}
    assert summary["文件 file"] == "'=cmd成本.xlsx"
    for sheet in report.sheet_names:
        for row in report.get_sheet_by_name(sheet).to_python():
            assert not any(isinstance(v, str) and v.startswith(("=", "+", "@")) for v in row)


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-05T25:00",
        "2026-10-05 24:00:00",
        "2026/10/5 23:60",
        "2026-10-05 12:00:61",
        "2026年10月5日 25:00",
    ],
)
def test_a_time_of_day_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(CellError) as caught:
        text_date(text)
    assert "时间" in caught.value.zh
    assert "time" in caught.value.en


@pytest.mark.parametrize("text", ["2026-10-05T23:59", "2026-10-05 00:00:00", "2026年10月5日 8:30"])
def test_a_time_of_day_in_range_keeps_the_date(text: str) -> None:
    assert text_date(text).isoformat() == "2026-10-05"


def _ledger(folder: Path, extra: list[list[object]]) -> Path:
    header, rows, _ = GOOD["cost"]
    return write_xlsx(folder / "成本.xlsx", sheet_rows(header, [*rows, *extra]))


def _row(key: str, project: str, day: str) -> list[object]:
    return [9, key, project, "人工费", day, "班组 工日", 1, "工日", 100, 100, "3%", "宏达劳务"]


def test_a_lookalike_project_code_or_an_impossible_date_rejects_only_its_row(
    store: Store, tmp_path: Path
) -> None:
    path = _ledger(
        tmp_path,
        [
            _row("CB-ZW", "XM2026001\u200b", "2026-10-08"),
            _row("CB-OLD", "XM2026001", "0001-01-01"),
            _row("CB-FAR", "XM2026001", "9999-12-31"),
            _row("CB-WIDE", "ＸＭ２０２６００１", "2026-10-08"),
        ],
    )
    result = import_file(store, path, kind="cost")
    assert result.counts.rejected == 3
    assert result.counts.imported == len(GOOD["cost"][1]) + 1  # the full-width code is XM2026001
    with store.transaction() as session:
        codes = {
            jsonutil.loads(data)["project_code"]
            for (data,) in session.execute(select(Document.data).where(Document.source_key == "CB-WIDE"))
        }
    assert codes == {"XM2026001"}


def test_the_file_way_in_reads_the_business_date_setting(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YECAI_BUSINESS_DATE_MAX", "2026-10-05")
    path = _ledger(tmp_path, [_row("CB-LATE", "XM2026001", "2026-10-06")])
    result = import_file(store, path, kind="cost")
    problems = [i for i in first_issues(store, result.import_id or 0) if i.field == "business_date"]
    assert problems
    assert any("2026-10-05" in p.en for p in problems)

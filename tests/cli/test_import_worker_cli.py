"""`yecai import` parses in a memory-capped worker: a file it cannot read within the limits exits 1.

Exit codes stay as documented (0 processed, 1 unreadable, 3 locked); a worker stopped at its
memory limit is "unreadable" with the reason and the limit named, and the same file imports with
room to spare once the limit allows, printing the usual table.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.support.memory_bombs import far_cell_workbook
from tests.support.spreadsheets import GOOD, sheet_rows, write_xlsx
from yecai.cli.import_file import EXIT_UNREADABLE, import_command

pytestmark = pytest.mark.slow  # worker processes and subprocesses: seconds apiece

app = typer.Typer()
app.command("import")(import_command)
app.command("noop")(lambda: None)  # two commands: `import` stays a sub-command as in yecai/cli/main.py
runner = CliRunner()


def run(*args: str, **env: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", **env})
    return result.exit_code, result.output


def test_a_worker_out_of_memory_exits_one_naming_the_limit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    header, rows, _ = GOOD["cost"]
    path = write_xlsx(tmp_path / "成本.xlsx", sheet_rows(header, rows))
    report = tmp_path / "报告.xlsx"
    code, out = run(
        "import",
        str(path),
        "--kind",
        "cost",
        "--database-url",
        db,
        "--report",
        str(report),
        YECAI_IMPORT_MEMORY_MB="64",
    )
    assert code == EXIT_UNREADABLE, out
    assert "成本.xlsx" in out
    assert "64 MB" in out
    assert "memory limit" in out
    # the report asked for is there all the same, with the reason
    summary = dict(CalamineWorkbook.from_path(str(report)).get_sheet_by_name("汇总 Summary").to_python())
    assert summary["问题 problem"] == "worker_memory"
    assert "64 MB" in summary["reason"]
    code, out = run("import", str(path), "--kind", "cost", "--database-url", db)
    assert code == 0, out
    line = next(line for line in out.splitlines() if "已导入 imported" in line)
    assert line.split("│")[-2].strip() == "3"


def test_a_workbook_that_aborted_the_command_imports_its_real_cells(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    code, out = run(
        "import", str(far_cell_workbook(tmp_path / "xfd.xlsx")), "--kind", "cost", "--database-url", db
    )
    # before: the command itself aborted (SIGABRT, calamine asked for 512 GB); now the far cell is
    # one rejected row beside the real one
    assert code == 0, out
    assert "xfd.xlsx" in out
    assert "Sheet1!1048576" in out

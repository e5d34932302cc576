"""`yecai import FILE --kind …`: exit codes, printed counts, templates and column mappings."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import typer
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.support.spreadsheets import GOOD, put, sheet_rows, write_xlsx
from yecai.cli.import_file import column_templates_app, import_command
from yecai.files import acquire
from yecai.store.db import open_store

app = typer.Typer()
app.command("import")(import_command)
app.add_typer(column_templates_app, name="column-templates")
runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def ledger_with_bad_rows(folder: Path) -> Path:
    header, rows, _ = GOOD["cost"]
    bad = [*rows, [4, "CB-0004", "XM2026001", "飞机费", "2026-10-07", "?", None, None, None, 100, None, "x"]]
    return write_xlsx(folder / "成本.xlsx", sheet_rows(header, bad))


def test_bad_rows_exit_zero_and_print_the_counts(tmp_path: Path, db_url: str) -> None:
    path = ledger_with_bad_rows(tmp_path)
    code, out = run(
        "import", str(path), "--kind", "cost", "--database-url", db_url, "--report", str(tmp_path / "r.xlsx")
    )
    assert code == 0, out
    for label, count in (("已导入 imported", "3"), ("已拒绝 rejected", "1"), ("重复 duplicate", "0")):
        line = next(line for line in out.splitlines() if label in line)
        assert line.split("│")[-2].strip() == count
    assert "飞机费" in out
    assert "成本.xlsx" in out
    assert (tmp_path / "r.xlsx").exists()
    code, out = run("import", str(path), "--kind", "cost", "--database-url", db_url)
    assert code == 0
    assert "already imported" in out
    assert "本次未导入任何行" in out


def test_an_unreadable_file_exits_two_with_the_reason(tmp_path: Path, db_url: str) -> None:
    # a bad file is bad input: exit 2, as in every command (docs/cli.md)
    code, out = run("import", str(tmp_path / "missing.xlsx"), "--kind", "cost", "--database-url", db_url)
    assert code == 2
    assert "找不到文件" in out
    assert "does not exist" in out
    broken = put(tmp_path / "broken.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    code, out = run("import", str(broken), "--kind", "cost", "--database-url", db_url)
    assert code == 2
    assert "damaged" in out


def not_spreadsheets(folder: Path) -> dict[str, Path]:
    """Files named like workbooks that are none: what a failed download or a renamed file leaves."""
    good = write_xlsx(folder / "good.xlsx", sheet_rows(*GOOD["cost"][:2])).read_bytes()
    noise = random.Random(14).randbytes(4000)
    return {
        "random": put(folder / "随机.xlsx", noise),
        "text": put(folder / "说明.xlsx", "这不是表格，是一段说明文字。\nplain text, no workbook\n".encode()),
        "truncated": put(folder / "截断.xlsx", good[: len(good) // 2]),
        "xls": put(folder / "随机.xls", noise),
        "ods": put(folder / "随机.ods", noise),
    }


@pytest.mark.parametrize("case", ["random", "text", "truncated", "xls", "ods"])
def test_a_file_that_is_no_workbook_says_so_exits_two_and_still_writes_the_report(
    tmp_path: Path, db_url: str, case: str
) -> None:
    path = not_spreadsheets(tmp_path)[case]
    report = tmp_path / "报告" / "导入报告.xlsx"
    code, out = run("import", str(path), "--kind", "cost", "--database-url", db_url, "--report", str(report))
    assert code == 2, out
    flat = " ".join(out.split())
    # never the advice for a CSV whose encoding is odd: it is a workbook that is not one
    assert "编码" not in out, out
    assert "encoding" not in out, out
    assert "CSV 请" not in out
    if case == "truncated":
        assert "已损坏" in out
        assert "不完整" in out
        assert "damaged" in flat
        assert "incomplete" in flat
    else:
        what = "ODS 电子表格文件" if case == "ods" else "Excel 文件"
        assert f"不是有效的 {what}（或已损坏）" in out
        assert ("not a valid ODS spreadsheet file" if case == "ods" else "not a valid Excel file") in flat
    if case == "text":
        assert "改为 .csv" in out
    assert f"报告 report: {report}" in flat
    summary = {
        row[0]: row[1]
        for row in CalamineWorkbook.from_path(str(report)).get_sheet_by_name("汇总 Summary").to_python()
    }
    assert summary["文件 file"] == path.name
    assert summary["问题 problem"] == "corrupt"
    assert summary["状态 status"].startswith("未导入")
    assert "已损坏" in summary["原因"]
    assert "damaged" in summary["reason"]
    assert summary["运行 run"]  # the failed attempt is a run the console lists


def test_a_held_lock_exits_three_naming_the_holder(tmp_path: Path, db_url: str) -> None:
    store = open_store(db_url)
    acquire(store, connection="file", kind="cost", file_name="x.xlsx", holder="李会计@finance-pc pid 7")
    store.close()
    code, out = run("import", str(ledger_with_bad_rows(tmp_path)), "--kind", "cost", "--database-url", db_url)
    assert code == 3
    assert "李会计@finance-pc pid 7" in out


def test_bad_options_exit_two(tmp_path: Path, db_url: str) -> None:
    path = ledger_with_bad_rows(tmp_path)
    assert run("import", str(path), "--kind", "salary", "--database-url", db_url)[0] == 2
    assert run("import", str(path), "--kind", "cost", "--set", "nonsense", "--database-url", db_url)[0] == 2
    assert run("import", "--kind", "cost", "--database-url", db_url)[0] == 2
    code, out = run("import", str(path), "--kind", "cost", "--template", "无此模板", "--database-url", db_url)
    assert code == 2
    assert "无此模板" in out


def test_project_and_constants_from_options(tmp_path: Path, db_url: str) -> None:
    header = [
        "发票号码",
        "发票类型",
        "开票日期",
        "销售方名称",
        "购买方名称",
        "金额",
        "税率",
        "税额",
        "价税合计",
    ]
    rows = [["04512345", "专票", "2026-10-08", "马钢", "合肥建工", 10000, "13%", 1300, 11300]]
    path = write_xlsx(tmp_path / "进项.xlsx", [header, *rows])
    args = ["import", str(path), "--kind", "invoice", "--database-url", db_url]
    code, out = run(*args, "--set", "direction=进项", "--project", "XM2026001", "--save-template", "进项清单")
    assert code == 0, out
    assert "已导入 imported" in out
    code, out = run("column-templates", "export", str(tmp_path / "t.yaml"), "--database-url", db_url)
    assert code == 0
    text = (tmp_path / "t.yaml").read_text(encoding="utf-8")
    assert "进项清单" in text
    assert "direction: 进项" in text
    assert "project_code: XM2026001" in text
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert run("column-templates", "load", str(tmp_path / "t.yaml"), "--database-url", other)[0] == 0
    code, out = run(*args[:4], "--database-url", other, "--template", "进项清单")
    assert code == 0, out
    line = next(line for line in out.splitlines() if "已导入 imported" in line)
    assert line.split("│")[-2].strip() == "1"


def test_blank_templates_are_written(tmp_path: Path) -> None:
    code, out = run("import", "--write-template", str(tmp_path), "--kind", "worker")
    assert code == 0
    assert len(list(tmp_path.glob("*.xlsx"))) == 1
    assert "工人花名册" in out
    code, _ = run("import", "--write-template", str(tmp_path / "all"), "--kind", "cost", "--all-kinds")
    assert code == 0
    assert len(list((tmp_path / "all").glob("*.xlsx"))) == 7  # 期初余额 too
    code, out = run("import", "--write-template", str(tmp_path / "qc"), "--kind", "opening_balance")
    assert code == 0, out
    assert [p.name for p in (tmp_path / "qc").glob("*.xlsx")] == [
        "yecai-opening_balance-期初余额导入模板.xlsx"
    ]

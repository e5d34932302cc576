"""`yecai import FILE --kind …` — import an Excel/CSV export, print the counts, write the report.

Thin over `yecai.files`: parse options, open the store, run the import in a memory-capped worker
process (`import_in_worker`, the limits from YECAI_IMPORT_*), render a Rich table. Exit codes: 0
the file was processed (even with rejected rows, or when it had been imported before); 1 reading
it was stopped (the worker ran out of memory or time, or died) or the OS refused the file; 2 bad
options or a bad file (missing, a wrong type, not a valid or a damaged workbook, empty, no
header) — the `--report` is written all the same, with the reason; 3 another import of the kind
holds the lock. `--write-template DIR` writes blank templates instead; `column_templates_app` manages
saved column mappings (list / export / load / delete).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from yecai import labels
from yecai.cli.context import EXIT_USAGE, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import FIGURE, KEY, new_table
from yecai.files import (
    DEFAULT_CONNECTION,
    ColumnMapping,
    FileProblem,
    ImportResult,
    LockHeld,
    MappingError,
    delete_mapping,
    import_mappings_yaml,
    list_mappings,
    mappings_to_yaml,
    save_mapping,
    write_all_templates,
    write_template,
)
from yecai.files.isolated import WorkerLimits, import_in_worker
from yecai.store.db import Store

# the import could not run: its worker ran out of memory or time, or the OS refused the file
EXIT_UNREADABLE = 1
# the file itself is bad input: missing, a wrong type, not a workbook, damaged, empty
EXIT_INPUT = EXIT_USAGE
EXIT_LOCKED = 3


class ImportKind(StrEnum):
    COST = "cost"
    ATTENDANCE = "attendance"
    INVOICE = "invoice"
    PAYMENT_REQUEST = "payment_request"
    BUDGET = "budget"
    WORKER = "worker"
    OPENING_BALANCE = "opening_balance"  # 期初余额


def _constants(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(
                f"应写作 字段=值，如 direction=进项：{item!r} / write FIELD=VALUE, e.g. direction=进项: {item!r}",
                param_hint="--set",
            )
        out[name.strip()] = value.strip()
    return out


def _exit_code(problem: FileProblem) -> int:
    # the worker's own failures (memory, time, a crash) and an OS refusal are "could not run"; every
    # other problem is the file's: bad input, as in every command (docs/cli.md)
    if problem.code.startswith("worker_") or problem.code == "unreadable":
        return EXIT_UNREADABLE
    return EXIT_INPUT


def _counts_table(result: ImportResult) -> Table:
    counts = result.counts
    title = f"导入 import · {result.file_name} · {labels.both('import_kind', result.kind)}"
    table = new_table(title, "项目 item", ("行数 rows", FIGURE))
    table.add_row("已导入 imported", f"{counts.imported:,}")
    table.add_row("已拒绝 rejected", f"{counts.rejected:,}")
    table.add_row("重复 duplicate", f"{counts.duplicate:,}")
    table.add_row("待确认（近似重复，未导入）held near-duplicates", f"{counts.held:,}")
    table.add_row("警告 warnings", f"{counts.warnings:,}")
    table.add_row("跳过（合计/备注行）skipped (totals, notes)", f"{counts.skipped:,}")
    table.add_row("数据行合计 data rows", f"{counts.rows:,}")
    return table


def _issues_table(result: ImportResult, limit: int = 20) -> Table | None:
    if not result.issues:
        return None
    table = new_table(
        "问题行（前 {0} 条）first {0} problems".format(min(limit, len(result.issues))),
        ("位置 where", KEY),
        "列 column",
        "值 value",
        "原因 reason",
    )
    for issue in result.issues[:limit]:
        table.add_row(f"{issue.sheet}!{issue.row}", issue.column, issue.value[:40], f"{issue.zh}\n{issue.en}")
    return table


def _print_result(console: Console, result: ImportResult) -> None:
    where = f"{result.file_format}" + (f" · {result.encoding}" if result.encoding else "")
    if result.delimiter:
        where += " · " + {"\t": "制表符 tab", ",": "逗号 comma", ";": "分号 semicolon"}.get(
            result.delimiter, result.delimiter
        )
    console.print(
        f"文件 file: {result.file_name} ({where}) · SHA-256 {result.fingerprint[:16]}…", highlight=False
    )
    for sheet in result.sheets:
        rows = ", ".join(str(n) for n in sheet.get("header_rows", []))
        mapped = sum(1 for c in sheet.get("columns", []) if c.get("field"))
        console.print(
            f"工作表 sheet {sheet.get('sheet')}: 表头行 header row(s) {rows}, {mapped} 列已识别 columns mapped",
            highlight=False,
        )
    console.print(_counts_table(result))
    if result.counts.duplicate or result.counts.held:
        console.print(
            "每一行重复或待确认的记录，连同它重复的单据，都列在报告的「重复 Duplicates」表中（--report）\n"
            "every duplicate or held row, with the document it repeats, is listed on the report's "
            "重复 Duplicates sheet (--report)",
            highlight=False,
        )
    for note in result.notes:
        console.print(f"[yellow]{note.zh}\n{note.en}[/yellow]", highlight=False)
    table = _issues_table(result)
    if table is not None:
        console.print(table)
    if result.run_id is not None:
        console.print(f"运行 run {result.run_id}", highlight=False)
    if result.report is not None:
        console.print(f"报告 report: {result.report}", highlight=False)


def _save_detected(store: Store, name: str, result: ImportResult, constants: dict[str, str]) -> None:
    if not result.sheets:
        return
    first = result.sheets[0]
    columns = {c["label"]: c["field"] for c in first.get("columns", []) if c.get("field") and c.get("label")}
    rows = first.get("header_rows") or [1]
    save_mapping(
        store,
        ColumnMapping(
            name=name,
            kind=result.kind,
            columns=columns,
            constants=constants,
            header_row=rows[0],
            header_height=len(rows),
        ),
    )


def import_command(
    file: Path | None = typer.Argument(None, help="导出文件 export file: xlsx, xls, ods, csv, txt"),
    kind: ImportKind = typer.Option(..., "--kind", help="导入类型 what the file holds"),
    project: str | None = typer.Option(
        None, "--project", help="项目编码，用于没有项目列的文件 project code for a file without one"
    ),
    report: Path | None = typer.Option(
        None, "--report", help="写出导入报告 write the Excel report of bad rows here (OUT.xlsx)"
    ),
    template: str | None = typer.Option(
        None, "--template", help="使用已保存的列映射模板 use a saved column template by name"
    ),
    save_template: str | None = typer.Option(
        None,
        "--save-template",
        help="把识别出的列对照另存为模板 save the detected column mapping under this name",
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="只导入此工作表 import only this sheet"),
    set_values: list[str] = typer.Option(
        [], "--set", help="常量 FIELD=VALUE for every row, e.g. --set direction=进项 (repeatable)"
    ),
    connection: str = typer.Option(
        DEFAULT_CONNECTION, "--connection", help="连接名 connection the records belong to"
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    wait: float = typer.Option(
        0.0, "--wait", min=0, help="他人正在导入时最多等待秒数 seconds to wait for another import of the kind"
    ),
    write_template_dir: Path | None = typer.Option(
        None, "--write-template", help="写出空白导入模板到此目录 write the blank template(s) into this folder"
    ),
    all_kinds: bool = typer.Option(False, "--all-kinds", help="与 --write-template 合用：写出全部类型的模板"),
) -> None:
    """导入 Excel/CSV 导出文件 · import an Excel or CSV export into records and documents."""
    console = Console()
    if write_template_dir is not None:
        paths = (
            write_all_templates(write_template_dir)
            if all_kinds
            else [write_template(kind.value, write_template_dir)]
        )
        for path in paths:
            console.print(f"模板 template: {path}", highlight=False)
        return
    if file is None:
        raise typer.BadParameter("请指定要导入的文件 / name the file to import", param_hint="FILE")
    constants = _constants(set_values)
    # the same workspace, work directory and store as every other command (docs/cli.md), said in one line
    with opened(database_url, workspace) as ctx:
        store = ctx.store
        try:
            with Progress(
                SpinnerColumn(),
                TextColumn("[progress.description]{task.description}"),
                TextColumn("{task.completed:,} 行 rows"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"导入 importing {file.name}", total=None)
                result = import_in_worker(
                    store,
                    file,
                    kind=kind.value,
                    connection=connection,
                    project=project,
                    constants=constants,
                    mapping=template,
                    sheet=sheet,
                    report=report,
                    wait=wait,
                    progress=lambda n: bar.advance(task, n),
                    limits=WorkerLimits.from_settings(),
                )
            _print_result(console, result)
            if save_template:
                _save_detected(
                    store,
                    save_template,
                    result,
                    {**constants, **({"project_code": project} if project else {})},
                )
                console.print(f"已保存列映射模板 saved column template: {save_template}", highlight=False)
        except FileProblem as exc:
            console.print(f"[red]{exc.zh}\n{exc.en}[/red]", highlight=False)
            written = report.with_suffix(".xlsx") if report is not None else None
            if written is not None and written.exists():
                console.print(f"报告 report: {written}", highlight=False)
            raise typer.Exit(_exit_code(exc)) from None
        except MappingError as exc:
            console.print(f"[red]{exc.zh}\n{exc.en}[/red]", highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
        except LockHeld as exc:
            console.print(f"[red]{exc.zh}\n{exc.en}[/red]", highlight=False)
            raise typer.Exit(EXIT_LOCKED) from None


column_templates_app = typer.Typer(
    help="列映射模板 · saved column mappings for recurring exports (list, export, load, delete)",
    no_args_is_help=True,
)


@column_templates_app.command("list")
def list_templates_command(
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """列出已保存的列映射模板 · list saved column templates."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        table = new_table(
            "列映射模板 column templates",
            ("名称 name", KEY),
            ("类型 kind", KEY),
            "列 columns",
            "常量 constants",
        )
        for item in list_mappings(ctx.store):
            table.add_row(
                item.name,
                item.kind,
                ", ".join(f"{k}→{v}" for k, v in item.columns.items()),
                ", ".join(f"{k}={v}" for k, v in item.constants.items()),
            )
        console.print(table)


@column_templates_app.command("export")
def export_templates_command(
    out: Path = typer.Argument(..., help="YAML 文件 file to write"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """导出全部列映射模板为 YAML · export every column template as YAML."""
    with opened(database_url, workspace) as ctx:
        out.write_text(mappings_to_yaml(list_mappings(ctx.store)), encoding="utf-8")
    Console().print(f"已导出 exported: {out}", highlight=False)


@column_templates_app.command("load")
def load_templates_command(
    source: Path = typer.Argument(..., help="YAML 文件 file to read"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """从 YAML 载入（新增或替换）列映射模板 · load (add or replace) column templates from YAML."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            names = import_mappings_yaml(ctx.store, source.read_text(encoding="utf-8"))
        except MappingError as exc:
            console.print(f"[red]{exc.zh}\n{exc.en}[/red]", highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
    console.print(f"已载入 loaded: {', '.join(names)}", highlight=False)


@column_templates_app.command("delete")
def delete_template_command(
    name: str = typer.Argument(..., help="模板名称 template name"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """删除列映射模板 · delete a column template."""
    with opened(database_url, workspace) as ctx:
        found = delete_mapping(ctx.store, name)
    if not found:
        Console().print(f"[red]没有该模板 no such template: {name}[/red]", highlight=False)
        raise typer.Exit(1)

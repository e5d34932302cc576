"""`yecai rules list` and `yecai rules check`: see the posting rules, prove them against Kingdee.

`check` loads each sync job's rule sets and mapping table, reads the live chart of accounts from
the job's Kingdee connection and lists every account that is missing, not a detail account,
forbidden, or whose 核算维度 the rules do not fill — plus every value the documents already pulled
still need mapped. It exits 1 when anything is listed, so it can gate a deployment.
"""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console

from yecai.cli.context import fail, once, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import KEY, new_table
from yecai.errors import YecaiError
from yecai.mapping.excel import export_mapping_xlsx, import_mapping_xlsx
from yecai.mapping.rules import default_mapping, default_rule_sets, load_mapping
from yecai.services.rulecheck import RuleCheckReport, check_job
from yecai.sync.launch import jobs_for

rules_app = typer.Typer(help="过账规则 · posting rules: list them, check them against Kingdee")
mapping_app = typer.Typer(help="映射表 · mapping tables: to and from Excel for the people who keep them")


@rules_app.command("list")
def list_rules() -> None:
    """列出内置规则集 · list the built-in rule sets (event, document, Kingdee form)."""
    table = new_table(
        "内置规则集 built-in rule sets",
        ("名称 name", KEY),
        ("事件 event", KEY),
        "单据 document",
        ("金蝶表单 form", KEY),
        "需审批 approval",
        "期间 period",
    )
    for name, rules in sorted(default_rule_sets().items()):
        table.add_row(
            name,
            rules.event.value,
            rules.document,
            rules.form_id,
            "是 yes" if rules.approval else "否 no",
            rules.period_policy.value,
        )
    Console().print(table)


def _render(console: Console, job: str, report: RuleCheckReport) -> None:
    console.print(
        f"{job}: 检查科目 accounts checked {report.accounts_checked}, "
        f"问题 problems {len(report.problems)}, 未映射 unmapped {len(report.unmapped)}"
    )
    if report.problems:
        table = new_table(
            f"{job} · 规则问题 rule problems",
            "规则集 rule set",
            "角色 role",
            ("科目 account", KEY),
            "问题 problem",
        )
        for p in report.problems:
            table.add_row(p.rule_set, p.role, p.account, f"{p.zh}\n{p.en}")
        console.print(table)
    for item in report.unmapped:
        console.print(f"[yellow]{job}: {item.zh} / {item.en}[/yellow]")


def check_command(
    job: str | None = typer.Option(None, "--job", help="只检查该作业 · just this sync job"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """检查规则 · check every job's rules and mapping against the live Kingdee chart of accounts."""
    console = Console()
    clean = True
    with opened(database_url, workspace) as ctx, ctx.sandboxes(console):
        space = ctx.workspace_or_exit(console)
        names = [job] if job else jobs_for(space)
        for name in names:
            if name not in space.syncs:
                raise fail(console, YecaiError(f"没有同步作业 {name}", f"no sync job {name}"))
            try:
                report = check_job(ctx.store, space, ctx.secrets, name)
            except YecaiError as exc:
                console.print(f"[red]{name}: {once(exc)}[/red]", soft_wrap=True, highlight=False)
                clean = False
                continue
            _render(console, name, report)
            clean = clean and report.clean
    if not clean:
        raise typer.Exit(1)
    console.print("[green]规则与映射均可用 rules and mappings fit Kingdee[/green]")


rules_app.command("check")(check_command)


@mapping_app.command("export")
def export_mapping(
    out: Path = typer.Argument(..., help="Excel 文件 · workbook to write (.xlsx)"),
    source: Path | None = typer.Option(
        None, "--from", help="映射表 YAML · mapping table to export (default: the built-in one)"
    ),
) -> None:
    """导出映射表 · write a mapping table to Excel, one sheet per table, Chinese headers."""
    console = Console()
    try:
        mapping = load_mapping(source) if source else default_mapping()
    except YecaiError as exc:
        raise fail(console, exc) from None
    console.print(f"已导出 exported: {export_mapping_xlsx(mapping, out)}")


@mapping_app.command("import")
def import_mapping(
    workbook: Path = typer.Argument(..., help="Excel 文件 · workbook edited by finance"),
    out: Path = typer.Option(..., "--out", help="映射表 YAML · where to write the checked table"),
) -> None:
    """导入映射表 · read a mapping workbook, check every row, write the YAML a sync job names."""
    console = Console()
    try:
        mapping = import_mapping_xlsx(workbook)
    except YecaiError as exc:
        raise fail(console, exc) from None
    data = mapping.model_dump(mode="json", exclude_defaults=True)
    out.write_text(
        "# 由 yecai mapping import 从 Excel 生成 · written by `yecai mapping import`\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    # Read back through the same loader the sync jobs use, so what was written is what will run.
    if load_mapping(out) != mapping:
        raise fail(
            console, YecaiError("写出的映射表与工作簿不一致", "the written table differs from the workbook")
        )
    console.print(
        f"已写入 written: {out} — 项目 projects {len(mapping.projects)}, 供应商 suppliers "
        f"{len(mapping.suppliers)}, 客户 customers {len(mapping.customers)}, 人员 workers {len(mapping.workers)}"
    )

"""`yecai doctor`: check the installation and say, for each finding, what to fix (Chinese, English).

Exit codes (docs/cli.md, docs/operations.md): 0 all well, 1 at least one error, 3 warnings only;
`--json` prints the findings for monitoring. Nothing is changed, migrated or sent. On the demo
workspace the two sandboxes are started for the command's lifetime, as every command does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from yecai import labels
from yecai.cli.context import announce, locate, located_settings
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.services.doctor import DoctorReport, run_doctor
from yecai.services.doctor_checks import Finding, Limits, check_settings
from yecai.settings import Settings

STATUS = {
    "ok": ("green", f"✓ {labels.both('state', 'ok')}"),
    "warning": ("yellow", f"! {labels.both('state', 'warning')}"),
    "error": ("red", f"✗ {labels.both('state', 'error')}"),
}
CHECK_NAMES = {
    "config": "配置 configuration",
    "database": "数据库 database",
    "redis": "Redis",
    "secrets": "密钥 secrets key",
    "kingdee": "金蝶 Kingdee",
    "source": "业务系统 PM system",
    "alert": "告警 alert channel",
    "clock": "时钟 clock",
    "tls": "TLS",
    "disk": "磁盘 disk",
}


def _print(console: Console, finding: Finding) -> None:
    style, label = STATUS[finding.status]
    name = CHECK_NAMES.get(finding.check, finding.check)
    found = (
        finding.found_zh
        if finding.found_zh == finding.found_en
        else f"{finding.found_zh} / {finding.found_en}"
    )
    console.print(
        f"[{style}]{label}[/{style}]  {name} · {escape(finding.subject)}: {escape(found)}",
        soft_wrap=True,
        highlight=False,
    )
    if finding.status != "ok" and (finding.fix_zh or finding.fix_en):
        console.print(
            f"    修复 fix: {escape(finding.fix_zh)} / {escape(finding.fix_en)}",
            soft_wrap=True,
            highlight=False,
        )


def _summary(console: Console, report: DoctorReport) -> None:
    if report.errors:
        console.print(
            f"[red]{report.errors} 个错误，{report.warnings} 个警告 / {report.errors} errors, "
            f"{report.warnings} warnings[/red]"
        )
    elif report.warnings:
        console.print(
            f"[yellow]{report.warnings} 个警告，无错误 / {report.warnings} warnings, no errors[/yellow]"
        )
    else:
        console.print("[green]一切正常 / all is well[/green]")


def doctor_command(
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    as_json: bool = typer.Option(
        False, "--json", help="以 JSON 输出，供监控使用 · print the findings as JSON"
    ),
    timeout: float = typer.Option(
        5.0,
        "--timeout",
        min=0.5,
        envvar="YECAI_DOCTOR_TIMEOUT",
        help="每次远程调用的超时秒数 · seconds per remote call",
    ),
    max_clock_skew: float = typer.Option(
        60.0,
        "--max-clock-skew",
        min=0,
        envvar="YECAI_DOCTOR_MAX_CLOCK_SKEW",
        help="与金蝶服务器允许的最大时钟偏差（秒）· largest clock skew against Kingdee, in seconds",
    ),
    min_free_mb: int = typer.Option(
        1024,
        "--min-free-mb",
        min=0,
        envvar="YECAI_DOCTOR_MIN_FREE_MB",
        help="磁盘剩余低于此值为错误，低于两倍为警告（MB）· free disk below this: error; below twice: warning (MB)",
    ),
) -> None:
    """体检：配置、数据库、Redis、密钥、各连接、时钟、磁盘与 TLS · check the installation and say what to fix. Exit 0 all well, 1 errors, 3 warnings only."""
    console = Console(stderr=as_json)
    limits = Limits(timeout=timeout, max_clock_skew=max_clock_skew, min_free_mb=min_free_mb)
    settings, first = check_settings()
    show: Callable[[Finding], None] | None = None if as_json else (lambda finding: _print(console, finding))
    if settings is None:
        report = DoctorReport([first])
        if show:
            show(first)
    else:
        if database_url:
            settings = settings.model_copy(update={"database_url": database_url})
        located = locate(settings, workspace)
        settings = located_settings(settings, located)
        announce(Console(stderr=True), located, settings)
        report = _run(settings, limits, first, show)
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        _summary(console, report)
    raise typer.Exit(report.exit_code)


def _run(
    settings: Settings, limits: Limits, first: Finding, show: Callable[[Finding], None] | None
) -> DoctorReport:
    from yecai.demo import demo_sandboxes  # the demo pulls in both sandboxes: only when needed

    def started(line: str) -> None:
        Console(stderr=True).print(line, soft_wrap=True, highlight=False)

    with demo_sandboxes(settings.workdir, on_start=started):
        return run_doctor(settings, limits, first=[first], on_finding=show)

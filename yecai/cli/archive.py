"""`yecai archive`: move the raw payloads of old staged records to checksummed files; verify; read.

`yecai archive --older-than 400d` archives (`--dry-run` only counts); `yecai archive verify FILE`
checks a file against its manifest (exit 1 when it does not verify); `yecai archive read FILE
[--key K | --record ID | --line N]` prints archived records as JSON lines for an audit.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import typer
from rich.console import Console

from yecai.cli.context import EXIT_FAILED, EXIT_USAGE, fail, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import FIGURE, KEY, new_table
from yecai.errors import YecaiError
from yecai.services import archive as service

archive_app = typer.Typer(
    help="归档 · archive raw staged records older than an age to checksummed files; verify; read",
    invoke_without_command=True,
)

FILE = typer.Argument(..., help="归档文件 · archive file (.jsonl.gz; its .manifest.json beside it)")


@archive_app.callback()
def archive_command(
    ctx: typer.Context,
    older_than: str = typer.Option(
        "400d", "--older-than", help="期限 · archive records received longer ago than this: 400d, 60w, 2y"
    ),
    connection: str | None = typer.Option(
        None, "--connection", help="仅此连接 · only this source connection"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="只统计，不写不改 · count only, write and change nothing"
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """归档暂存原始记录 · archive the raw payloads of old staged records (postings, bindings, audit are never touched)."""
    if ctx.invoked_subcommand is not None:
        return
    console = Console()
    try:
        age = service.parse_age(older_than)
    except YecaiError as exc:
        raise fail(console, exc, EXIT_USAGE) from None
    with opened(database_url, workspace) as cmd:
        space = cmd.workspace_or_exit(console)
        try:
            result = service.archive(
                cmd.store,
                cmd.settings,
                older_than=age,
                space=space,
                secrets=cmd.secrets,
                connection=connection,
                dry_run=dry_run,
            )
        except (YecaiError, OSError) as exc:
            raise fail(console, exc) from None
    cutoff = result.cutoff.isoformat(timespec="seconds")
    if result.records == 0:
        console.print(
            f"没有早于 {cutoff} 的可归档记录 / nothing received before {cutoff} to archive", highlight=False
        )
        return
    table = new_table(
        f"{'可归档（未执行）would archive' if dry_run else '已归档 archived'} · 接收早于 received before {cutoff}",
        ("连接/数据流 connection/stream", KEY),
        ("记录 records", FIGURE),
    )
    for stream, count in result.by_stream.items():
        table.add_row(stream, str(count))
    console.print(table)
    kept = "; ".join(f"{c}: {', '.join(s) or '-'}" for c, s in result.kept_latest.items() if s)
    if kept:
        console.print(
            f"各键最新记录保留（分区父数据流）· latest record of each key kept: {kept}", highlight=False
        )
    if result.file is not None:
        console.print(
            f"文件 file: {result.file} ({result.file_bytes:,} bytes) · 清单 manifest: {result.manifest}\n"
            f"{result.records} 条记录的原始内容（{result.payload_bytes:,} 字节）已移出数据库；记录行与追溯保留 / "
            f"the raw payloads of {result.records} records ({result.payload_bytes:,} bytes) left the database; "
            "their rows and the trace stay",
            highlight=False,
            soft_wrap=True,
        )
    if result.already_archived:
        console.print(
            f"[yellow]{result.already_archived} 条记录同时被另一次归档处理，本文件中的这些行是副本 / "
            f"{result.already_archived} records were archived by another run at the same time: "
            "their lines in this file are copies[/yellow]",
            highlight=False,
            soft_wrap=True,
        )


@archive_app.command("verify")
def verify_command(path: Path = FILE) -> None:
    """校验归档文件 · check an archive file's sha256, line count and each payload's checksum against its manifest."""
    console = Console()
    result = service.verify(path)
    if result.ok:
        counts = ", ".join(f"{k} {v}" for k, v in result.by_stream.items())
        console.print(
            f"[green]校验通过 / verified[/green]: {path} · {result.records} 条 records ({counts})",
            highlight=False,
        )
        return
    for zh, en in result.problems:
        console.print(f"[red]{zh} / {en}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_FAILED)


@archive_app.command("read")
def read_command(
    path: Path = FILE,
    key: str | None = typer.Option(None, "--key", help="源键 · source key"),
    record: int | None = typer.Option(None, "--record", help="记录 ID · record id"),
    line: int | None = typer.Option(None, "--line", min=1, help="行号 · line (a record's archive_line)"),
) -> None:
    """读取归档记录 · print archived records (one JSON object a line) for an audit."""
    console = Console(stderr=True)
    if not path.is_file():
        raise fail(console, YecaiError(f"文件不存在：{path}", f"no such file: {path}"), EXIT_USAGE)
    found = 0
    try:
        for entry in service.read(path, key=key, record_id=record, line=line):
            typer.echo(json.dumps(entry, ensure_ascii=False))
            found += 1
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # a damaged file: say so, run verify
        error = YecaiError(
            f"归档文件无法读取（请运行 yecai archive verify）：{exc}",
            f"the archive file cannot be read (run yecai archive verify): {exc}",
        )
        raise fail(console, error) from None
    if found == 0:
        raise fail(console, YecaiError("未找到匹配的记录", "no matching record"))

"""`yecai backup` and `yecai restore`: a consistent copy of the store in one file, and putting it back.

`yecai backup --out FILE [--include-key]` copies the store while syncs may be running (SQLite's
online backup API, or `pg_dump --format=custom`) into one 0600 file with a checksummed manifest.
`yecai restore FILE [--force]` verifies it, restores into the workspace's (empty) store and says
what to do next. Neither opens the store through the usual path: a restore must not create the
schema it is about to replace. docs/operations.md has the order of a restore.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from yecai.cli.context import announce, fail, locate, located_settings
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.errors import YecaiError
from yecai.services import backups
from yecai.settings import Settings
from yecai.sync import restored

_STYLE = {"info": "", "warning": "yellow", "danger": "bold red"}


def _settings(database_url: str | None, workspace: Path | None) -> Settings:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    located = locate(settings, workspace)
    settings = located_settings(settings, located)
    announce(Console(stderr=True), located, settings)
    return settings


def _print(console: Console, lines: list[backups.Line]) -> None:
    for zh, en, level in lines:
        console.print(
            f"{zh}\n{en}", style=_STYLE[level] or None, soft_wrap=True, highlight=False, markup=False
        )


def backup_command(
    out: Path = typer.Option(..., "--out", help="备份文件 · the backup file to write (mode 0600)"),
    include_key: bool = typer.Option(
        False,
        "--include-key",
        help="同时备份加密密钥（持有文件者可解密所有连接密钥）· also store the secrets key (the file then decrypts every secret)",
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """备份 · back up the store into one file (consistent while syncs run)."""
    console = Console()
    settings = _settings(database_url, workspace)
    try:
        result = backups.backup(settings, out, include_key=include_key)
    except YecaiError as exc:
        raise fail(console, exc) from None
    _print(console, backups.backup_lines(result, settings))


def restore_command(
    file: Path = typer.Argument(..., help="备份文件 · the backup file"),
    force: bool = typer.Option(
        False,
        "--force",
        help="覆盖非空数据库及不同的密钥文件 · replace a non-empty store (and a different key file)",
    ),
    lookup_days: int = typer.Option(
        restored.LOOKUP_DAYS,
        "--lookup-days",
        min=1,
        help="恢复后多少天内新过账先按键查找 · days after the restore during which new postings are looked up by key first",
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """恢复 · restore a backup into an empty store, then resolve in-flight postings at the next sync."""
    console = Console()
    settings = _settings(database_url, workspace)
    try:
        result = backups.restore(settings, file, force=force, lookup_days=lookup_days)
    except YecaiError as exc:
        raise fail(console, exc) from None
    _print(console, backups.restore_lines(result, settings))

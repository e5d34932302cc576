"""`yecai db check` and `yecai db upgrade`: the store's schema against this release of yecai.

`check` only reads: exit 0 when the schema is current, 3 when it is behind (upgrade it), 4 when a
newer yecai migrated it (run that release), 1 when the database cannot be reached. `upgrade`
applies the pending migrations under the migration lock (docs/operations.md "Upgrades / 升级").
Both open the store without migrating it.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from yecai.cli.context import fail, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.errors import YecaiError
from yecai.services.schema import SchemaState, check_schema, upgrade_schema

db_app = typer.Typer(help="数据库 · the store's schema: check it against this yecai, upgrade it")

EXIT_BEHIND = 3  # the schema is older than the code: `yecai db upgrade`
EXIT_AHEAD = 4  # a newer yecai migrated the schema: run that release
EXIT_CODES = {SchemaState.CURRENT: 0, SchemaState.BEHIND: EXIT_BEHIND, SchemaState.AHEAD: EXIT_AHEAD}
COLOURS = {SchemaState.CURRENT: "green", SchemaState.BEHIND: "yellow", SchemaState.AHEAD: "red"}


@db_app.command("check")
def check_command(workspace: Path | None = WORKSPACE, database_url: str | None = DATABASE) -> None:
    """检查 · is the schema behind, current or ahead of this yecai (exit 0 current, 3 behind, 4 ahead)."""
    console = Console()
    try:
        with opened(database_url, workspace, upgrade=False) as ctx:
            report = check_schema(ctx.store)
    except YecaiError as exc:
        raise fail(console, exc) from None
    colour = COLOURS[report.state]
    console.print(f"[{colour}]{report.zh} / {report.en}[/{colour}]", soft_wrap=True, highlight=False)
    for step in report.pending:
        console.print(f"  · {step}", soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_CODES[report.state])


@db_app.command("upgrade")
def upgrade_command(workspace: Path | None = WORKSPACE, database_url: str | None = DATABASE) -> None:
    """升级 · apply the pending migrations, one process at a time (back up and stop workers first)."""
    console = Console()
    try:
        with opened(database_url, workspace, upgrade=False) as ctx:
            done = upgrade_schema(ctx.store)
    except YecaiError as exc:
        raise fail(console, exc) from None
    before = ", ".join(done.before) or "空库 empty"
    after = ", ".join(done.after)
    if done.changed:
        console.print(f"[green]数据库已升级 · schema upgraded: {before} → {after}[/green]", highlight=False)
    else:
        console.print(f"[green]数据库已是最新 · schema already current: {after}[/green]", highlight=False)

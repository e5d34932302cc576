"""The options every command shares, declared once so that each spells and explains them alike.

`--workspace`, `--database-url` and (where a command works on one sync job) `--job`; how the
workspace is found without `--workspace` is in `yecai.cli.context`; the whole convention, exit
codes included, is in docs/cli.md.
"""

from __future__ import annotations

import typer

WORKSPACE = typer.Option(
    None,
    "--workspace",
    help="工作区文件（默认向上查找）· workspace file (default: found upward, docs/cli.md)",
)
DATABASE = typer.Option(None, "--database-url", help="存储 · store URL (default: in the work directory)")
JOB = typer.Option(None, "--job", help="同步作业（仅一个时可省略）· sync job (omit if only one)")

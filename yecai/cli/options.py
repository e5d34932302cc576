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
    help="工作区文件（默认向上查找 yecai.yaml 或 .yecai-demo/yecai.yaml）· workspace file "
    "(default: the nearest yecai.yaml or .yecai-demo/yecai.yaml, walking up from here)",
)
DATABASE = typer.Option(
    None,
    "--database-url",
    help="存储 · store URL (default: YECAI_DATABASE_URL, else SQLite in the work directory)",
)
JOB = typer.Option(None, "--job", help="同步作业（仅一个时可省略）· the sync job (omit when there is one)")

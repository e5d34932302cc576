"""`yecai sandbox pm` — serve the reference construction PM system until stopped.

Thin: parse options, generate the data set, print where it answers and with which token, then
hand over to uvicorn. Everything else lives in `yecai.sandbox.pm`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.data import MAX_MONTHS, MAX_PROJECTS, generate
from yecai.sandbox.pm.server import serve


def pm_command(
    host: Annotated[str, typer.Option(help="监听地址 · interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="端口 · TCP port")] = 8091,
    projects: Annotated[int, typer.Option(min=0, max=MAX_PROJECTS, help="项目数 · number of projects")] = 50,
    months: Annotated[int, typer.Option(min=1, max=MAX_MONTHS, help="月数 · months of cost records")] = 1,
    seed: Annotated[int, typer.Option(help="随机种子 · same seed, same data")] = 42,
    start_month: Annotated[str, typer.Option(help="起始月份 · first month, YYYY-MM")] = "2026-10",
    token: Annotated[str, typer.Option(help="Bearer 令牌 · token clients must send")] = DEFAULT_TOKEN,
) -> None:
    """参考工程项目管理系统 · serve sandbox.pm (REST API + OpenAPI docs) until interrupted."""
    if not token:
        raise typer.BadParameter("令牌不能为空 / the token must not be empty", param_hint="--token")
    console = Console()
    with console.status(f"生成数据 · generating {projects} projects × {months} month(s), seed {seed} …"):
        try:
            dataset = generate(projects=projects, months=months, seed=seed, start_month=start_month)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--start-month") from None
    base_url = f"http://{host}:{port}"
    console.print("[bold]yecai sandbox.pm[/bold] · 参考工程项目管理系统", highlight=False)
    console.print(f"  base URL  {base_url}", highlight=False, soft_wrap=True)
    console.print(f"  token     {token}", highlight=False, soft_wrap=True)
    console.print(f"  docs      {base_url}/docs", highlight=False, soft_wrap=True)
    console.print(
        f"  data      {len(dataset.projects)} projects, {len(dataset.cost_records)} cost records, "
        f"{dataset.first_day} … {dataset.last_day}, seed {seed}",
        highlight=False,
        soft_wrap=True,
    )
    serve(dataset, host, port, token)

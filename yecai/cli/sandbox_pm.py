"""`yecai sandbox pm` — serve the reference construction PM system, or write its sample exports.

Thin: parse options, generate the data set, then either write the Excel/CSV exports (`--export
DIR`, with `--big-ledger ROWS` one large cost ledger instead) and exit, or print where it answers
and how to authenticate and hand over to uvicorn. Everything else lives in `yecai.sandbox.pm`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from yecai.cli.tables import FIGURE, KEY, new_table
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.auth import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, AuthMode
from yecai.sandbox.pm.data import MAX_MONTHS, MAX_PROJECTS, generate
from yecai.sandbox.pm.exports import write_big_cost_ledger, write_exports
from yecai.sandbox.pm.models import CHINA_TZ, Dataset
from yecai.sandbox.pm.server import serve, server_options
from yecai.sandbox.pm.webhooks import WebhookSettings

DEFAULT_WEBHOOK_SECRET = "yecai-pm-webhook"


def _clock_start(value: str | None, dataset: Dataset) -> datetime | None:
    """`start` (the window's first midnight), `end` (default), or an ISO date / datetime (+08:00 if bare)."""
    if value is None or value == "end":
        return None
    if value == "start":
        return dataset.timeline_start
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise typer.BadParameter(
                f"时钟起点 {value!r} 无效：用 start、end 或 ISO 日期时间 / not start, end or an ISO datetime",
                param_hint="--clock-start",
            ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)


def pm_command(
    host: Annotated[str, typer.Option(help="监听地址 · interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="端口 · TCP port")] = 8091,
    projects: Annotated[int, typer.Option(min=0, max=MAX_PROJECTS, help="项目数 · number of projects")] = 50,
    months: Annotated[int, typer.Option(min=1, max=MAX_MONTHS, help="月数 · months of activity")] = 1,
    seed: Annotated[int, typer.Option(help="随机种子 · same seed, same data")] = 42,
    start_month: Annotated[str, typer.Option(help="起始月份 · first month, YYYY-MM")] = "2026-10",
    token: Annotated[str, typer.Option(help="Bearer 令牌 · token clients must send")] = DEFAULT_TOKEN,
    auth: Annotated[AuthMode, typer.Option(help="认证方式 · bearer, hmac or either")] = AuthMode.BEARER,
    app_key: Annotated[str, typer.Option(help="HMAC 应用标识 · X-App-Key")] = DEFAULT_APP_KEY,
    app_secret: Annotated[str, typer.Option(help="HMAC 密钥 · the signing secret")] = DEFAULT_APP_SECRET,
    bad_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="坏数据比例 · share of deliberately invalid rows")
    ] = 0.0,
    clock_start: Annotated[
        str | None, typer.Option(help="模拟时钟起点 · start, end (default) or an ISO datetime")
    ] = None,
    clock_speed: Annotated[
        float,
        typer.Option(min=0.0, help="时钟速度 · simulated seconds per real second (0: admin endpoint only)"),
    ] = 0.0,
    webhook: Annotated[
        list[str] | None, typer.Option(help="Webhook 订阅地址 · a URL to POST events to (repeatable)")
    ] = None,
    webhook_secret: Annotated[
        str, typer.Option(help="Webhook 签名密钥 · HMAC key of X-PM-Signature")
    ] = DEFAULT_WEBHOOK_SECRET,
    webhook_duplicate_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="重复投递比例 · share of events delivered twice")
    ] = 0.0,
    export: Annotated[
        Path | None, typer.Option(help="导出目录 · write the sample Excel/CSV exports here and exit")
    ] = None,
    big_ledger: Annotated[
        int | None,
        typer.Option(min=1, help="大台账行数 · with --export: write one cost ledger of this many rows"),
    ] = None,
) -> None:
    """参考工程项目管理系统 · serve sandbox.pm (REST API, OpenAPI, webhooks) or write its exports."""
    if not token and auth is not AuthMode.HMAC:
        raise typer.BadParameter("令牌不能为空 / the token must not be empty", param_hint="--token")
    console = Console()
    if big_ledger is not None:
        if export is None:
            raise typer.BadParameter(
                "--big-ledger 需要 --export 目录 / needs --export DIR", param_hint="--big-ledger"
            )
        export.mkdir(parents=True, exist_ok=True)
        path = export / f"成本台账_{big_ledger}行.xlsx"
        with console.status(f"写入 · writing {big_ledger:,} cost rows to {path} …"):
            write_big_cost_ledger(path, big_ledger, seed=seed)
        console.print(f"{path}  {big_ledger:,} rows", highlight=False, soft_wrap=True)
        return

    with console.status(f"生成数据 · generating {projects} projects × {months} month(s), seed {seed} …"):
        try:
            dataset = generate(
                projects=projects, months=months, seed=seed, start_month=start_month, bad_rate=bad_rate
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--start-month") from None

    if export is not None:
        with console.status(f"导出 · writing exports to {export} …"):
            files = write_exports(dataset, export)
        table = new_table(
            "sandbox.pm 导出 · exports",
            "文件 file",
            ("kind", KEY),
            ("format", KEY),
            ("encoding", KEY),
            ("rows", FIGURE),
        )
        for file in files:
            table.add_row(file.path.name, file.kind, file.format, file.encoding or "", f"{file.rows:,}")
        console.print(table)
        return

    options = server_options(
        token,
        auth=auth,
        app_key=app_key,
        app_secret=app_secret,
        now=_clock_start(clock_start, dataset),
        clock_speed=clock_speed,
        webhooks=[(url, webhook_secret) for url in webhook or ()],
        webhook_settings=WebhookSettings(duplicate_rate=webhook_duplicate_rate),
    )
    base_url = f"http://{host}:{port}"
    console.print("[bold]yecai sandbox.pm[/bold] · 参考工程项目管理系统", highlight=False)
    console.print(f"  base URL  {base_url}", highlight=False, soft_wrap=True)
    if auth is not AuthMode.HMAC:
        console.print(f"  token     {token}", highlight=False, soft_wrap=True)
    if auth is not AuthMode.BEARER:
        console.print(f"  app key   {app_key}  (secret {app_secret})", highlight=False, soft_wrap=True)
    console.print(f"  docs      {base_url}/docs", highlight=False, soft_wrap=True)
    console.print(
        f"  data      {len(dataset.projects)} projects, {len(dataset.cost_records)} cost records, "
        f"{dataset.first_day} … {dataset.last_day}, seed {seed}, {dataset.events():,} versions",
        highlight=False,
        soft_wrap=True,
    )
    start = options.now or dataset.timeline_end
    console.print(
        f"  clock     {start.isoformat()} (timeline {dataset.timeline_start.isoformat()} … "
        f"{dataset.timeline_end.isoformat()}; POST /admin/clock)",
        highlight=False,
        soft_wrap=True,
    )
    for url in webhook or ():
        console.print(f"  webhook   {url}", highlight=False, soft_wrap=True)
    serve(dataset, host, port, token, options)

"""`yecai serve`, `yecai worker` and `yecai jobs …`: run the queue and scheduler; list, run, replay.

`serve` is the embedded all-in-one (web app + queue consumer threads + scheduler, SQLite queue in
the work directory); `worker` consumes a Redis queue (`--queue-url` or YECAI_QUEUE_URL) when
scaled out. `jobs` lists jobs with their next and last runs, queues one now, and handles dead
letters and paused connections. Commands stay thin: they call `yecai.jobs` services.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import typer
from rich.console import Console

from yecai import extras, labels
from yecai.auth.principal import cli_principal
from yecai.cli.context import fail, opened, os_user
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.serving import serve, work
from yecai.cli.tables import FIGURE, KEY, new_table
from yecai.errors import YecaiError
from yecai.jobs import actions, deadletters
from yecai.jobs.calendar import Coverage
from yecai.jobs.overview import job_overview
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime, is_distributed, open_runtime
from yecai.localtime import shown
from yecai.observability.logs import configure_logging
from yecai.settings import Settings
from yecai.workspace import Workspace

jobs_app = typer.Typer(help="作业 · jobs: schedules, runs, dead letters, paused connections")

QUEUE = typer.Option(
    None, "--queue-url", help="队列 · redis://… (default: YECAI_QUEUE_URL, else the embedded SQLite queue)"
)
WHO = typer.Option(None, "--who", help="操作人 · who does it (default: the OS user)")


def _who(value: str | None) -> str:
    return value or os_user()


def _logging() -> None:
    # YECAI_LOG_FORMAT=json: one JSON object per line for a log collector; secrets redacted either way
    configure_logging(logging.INFO, json=Settings().log_format == "json")
    # one line per HTTP request, URLs with their query strings: not what an operator's log is for
    logging.getLogger("httpx").setLevel(logging.WARNING)


@contextmanager
def _runtime(
    console: Console,
    workspace: Path | None,
    database_url: str | None,
    queue_url: str | None,
    *,
    sandboxes: bool = False,
) -> Iterator[Runtime]:
    with opened(database_url, workspace) as ctx, ctx.sandboxes(console) if sandboxes else nullcontext():
        changes: dict[str, object] = {}
        if queue_url:
            changes["queue_url"] = queue_url
        settings: Settings = ctx.settings.model_copy(update=changes)
        try:
            runtime = open_runtime(settings, store=ctx.store, secrets=ctx.secrets)
        except YecaiError as exc:
            raise fail(console, exc) from None
        try:
            yield runtime
        finally:
            runtime.close()


def _workspace(console: Console, runtime: Runtime) -> Workspace:
    try:
        return runtime.workspace()
    except YecaiError as exc:
        raise fail(console, exc) from None


@contextmanager
def _job_runtime(
    workspace: Path | None, database_url: str | None, queue_url: str | None
) -> Iterator[tuple[Console, Runtime, Workspace]]:
    """The console, the runtime and its workspace: what every command that names jobs starts with.

    One place for the opening, so a bad store, queue or workspace ends each command the same way.
    """
    console = Console()
    with _runtime(console, workspace, database_url, queue_url) as runtime:
        yield console, runtime, _workspace(console, runtime)


def _when(value: dt.datetime | None) -> str:
    return shown(value, empty="-")


# --- serve and worker ---------------------------------------------------------------------------


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 · bind address"),
    port: int = typer.Option(8000, "--port", help="端口 · port"),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        help="执行线程数 · consumer threads (0: web only; default YECAI_JOBS_WORKERS)",
    ),
    web: int | None = typer.Option(
        None,
        "--web-processes",
        min=1,
        help="Web 进程数 · web processes (default: 2 on PostgreSQL, 1 on SQLite)",
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    queue_url: str | None = QUEUE,
) -> None:
    """服务 · the web app, the job queue consumer and the scheduler in one process (Ctrl-C stops)."""
    console = Console()
    try:
        extras.require("server", "yecai serve")
    except YecaiError as exc:
        raise fail(console, exc) from None
    _logging()
    # on a demo workspace the sandboxes run in this process for as long as it serves
    with _runtime(console, workspace, database_url, queue_url, sandboxes=True) as runtime:
        _workspace(console, runtime)
        try:
            serve(
                runtime,
                host=host,
                port=port,
                workers=runtime.options.workers if workers is None else workers,
                web=web,
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print("已停止 · stopped")


def worker_command(
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="执行线程数 · consumer threads (default YECAI_JOBS_WORKERS)"
    ),
    queue_url: str | None = QUEUE,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """执行进程 · consume the Redis job queue (SIGINT: finish running jobs; SIGTERM: stop now)."""
    console = Console()
    _logging()
    with _runtime(console, workspace, database_url, queue_url) as runtime:
        if not is_distributed(runtime.settings):
            raise fail(
                console,
                YecaiError(
                    "yecai worker 需要 Redis 队列：--queue-url redis://… 或 YECAI_QUEUE_URL（单机请用 yecai serve）",
                    "yecai worker needs a Redis queue: --queue-url redis://… or YECAI_QUEUE_URL "
                    "(on one machine use yecai serve)",
                ),
            )
        work(runtime, workers=workers or runtime.options.workers)


# --- jobs ---------------------------------------------------------------------------------------


@jobs_app.command("list")
def list_jobs(
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    queue_url: str | None = QUEUE,
) -> None:
    """列出作业 · jobs with schedule, next run, last run and paused connections."""
    with _job_runtime(workspace, database_url, queue_url) as (console, runtime, space):
        rows = job_overview(runtime.store, space, runtime.calendar)
    table = new_table(
        "作业 jobs",
        ("作业 job", KEY),
        "源 → 金蝶 source → Kingdee",
        "计划 schedule",
        "下次运行 next run",
        "上次运行 last run",
        "当前 now",
        "暂停 paused",
    )
    warnings: list[str] = []
    for row in rows:
        last = "-"
        if row.last_outcome:
            last = f"{_when(row.last_finished_at)} {row.last_outcome}" + (
                f" (run {row.last_run_id})" if row.last_run_id else ""
            )
        upcoming = row.problem or _when(row.next_run)
        if row.calendar in (Coverage.OVERRIDE, Coverage.WEEKENDS):
            upcoming += f" ⚠ {row.calendar}"
            warnings.append(row.job)
        current = f"{row.lease} (attempt {row.attempts})" if row.lease else "-"
        table.add_row(
            row.job,
            f"{row.source} → {row.target}",
            row.schedule or "手动 manual",
            upcoming,
            last,
            current,
            ", ".join(row.paused) or "-",
        )
    console.print(table)
    if warnings:
        console.print(
            "[yellow]⚠ 下次运行所在年份 chinesecalendar 尚未覆盖，按覆盖表或周一至周五判断工作日 / the next run's year is "
            "not covered by chinesecalendar: working days come from the override table or Monday–Friday[/yellow]"
        )


@jobs_app.command("run")
def run_job(
    name: str = typer.Argument(..., help="作业名 · sync job name"),
    since: str | None = typer.Option(None, "--since", help="从该日期重新读取 · re-read the source from DATE"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    queue_url: str | None = QUEUE,
) -> None:
    """立即排队 · queue a run of the job now (never twice: a queued or running job is left alone)."""
    with _job_runtime(workspace, database_url, queue_url) as (console, runtime, space):
        try:
            result = JobQueue(runtime).enqueue(name, since=since, workspace=space)
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"{name}: {result.message}")
    if result.status in ("paused", "lost"):
        raise typer.Exit(1)


@jobs_app.command("dead")
def list_dead(
    show_all: bool = typer.Option(False, "--all", help="含已重放/已跳过 · include replayed and skipped"),
    job: str | None = typer.Option(None, "--job", help="只看该作业 · this job only"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """死信 · jobs that failed for good, with their error and what to do."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        letters = deadletters.dead_letters(ctx.store, status=None if show_all else "dead", job=job)
    table = new_table(
        "死信 dead letters",
        ("ID", KEY),
        "作业 job",
        "失败时间 failed",
        ("次数 attempts", FIGURE),
        "错误 error",
        "状态 status",
    )
    for letter in letters:
        where = " ".join(f"{labels.both('context', k)}={v}" for k, v in letter.error_context.items())
        advice = f"{labels.both('action', letter.error_action)} / {labels.both('fault', letter.error_fault)}"
        error = f"{letter.error_zh}\n{letter.error_en}\n[{advice}] {where}".strip()
        status = labels.both("state", letter.status)
        if letter.status != "dead":
            status += f" · {letter.who} · {_when(letter.resolved_at)}" + (
                f"\n{letter.reason}" if letter.reason else ""
            )
        table.add_row(
            str(letter.id),
            letter.job + (f"\nsince {letter.since}" if letter.since else ""),
            _when(letter.failed_at),
            str(letter.attempts),
            error,
            status,
        )
    console.print(table)


@jobs_app.command("replay")
def replay(
    letter_id: int = typer.Argument(..., help="死信 ID · dead letter id"),
    who: str | None = WHO,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
    queue_url: str | None = QUEUE,
) -> None:
    """重放 · queue a dead letter's job again with the same arguments."""
    console = Console()
    with _runtime(console, workspace, database_url, queue_url) as runtime:
        try:
            result = actions.replay_dead_letter(
                JobQueue(runtime), runtime.store, letter_id, by=cli_principal(_who(who))
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"{result.job}: {result.message}")
    if result.status in ("paused", "lost"):
        raise typer.Exit(1)


@jobs_app.command("skip")
def skip(
    letter_id: int = typer.Argument(..., help="死信 ID · dead letter id"),
    reason: str = typer.Option(..., "--reason", help="原因 · why it is not replayed"),
    who: str | None = WHO,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """跳过 · close a dead letter without replaying it, with a reason."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            letter = actions.skip_dead_letter(
                ctx.store, letter_id, reason=reason, by=cli_principal(_who(who))
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"已跳过 skipped: {letter_id} ({letter.job})")


@jobs_app.command("pause")
def pause(
    connection: str = typer.Argument(..., help="连接名 · connection name"),
    reason: str = typer.Option("手动暂停 / paused by hand", "--reason", help="原因 · why"),
    who: str | None = WHO,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """暂停连接 · its jobs are neither queued nor started until it is resumed."""
    with _job_runtime(workspace, database_url, None) as (console, runtime, space):
        try:
            changed = actions.pause_connection(
                runtime.store, space, connection, reason=reason, by=cli_principal(_who(who))
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"已暂停 paused: {connection}" if changed else f"本已暂停 already paused: {connection}")


@jobs_app.command("resume")
def resume(
    connection: str = typer.Argument(..., help="连接名 · connection name"),
    who: str | None = WHO,
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """恢复连接 · its jobs run again on schedule (or `yecai jobs run`); failures are counted afresh."""
    with opened(database_url, workspace) as ctx:
        changed = actions.resume_connection(ctx.store, connection, by=cli_principal(_who(who)))
    Console().print(f"已恢复 resumed: {connection}" if changed else f"未暂停 not paused: {connection}")

"""`yecai jobs …` and `yecai worker` on the command line: list, run, dead, replay, skip, pause,
resume, and the messages (中文 first) when something cannot be done."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.support.job_runtime import write_workspace
from yecai.cli.serve import jobs_app, serve_command, worker_command
from yecai.jobs import deadletters, leases
from yecai.jobs.failures import JobFailure
from yecai.services import health
from yecai.store.db import Store, open_store

KINGDEE = {
    "server_url": "http://127.0.0.1:9/K3Cloud/",
    "acct_id": "acct",
    "user_name": "demo",
    "app_id": "app",
    "app_secret": "x",
    "lcid": 2052,
    "org_num": "100",
}


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("worker")(worker_command)
    app.add_typer(jobs_app, name="jobs")
    return app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    workspace = write_workspace(
        tmp_path / "yecai.yaml",
        kingdee=KINGDEE,
        sources={"pm": "http://127.0.0.1:9"},
        jobs={
            "costs": {"source": "pm", "target": "kd", "schedule": {"cron": "0 2 * * *", "holidays": "skip"}},
            "adhoc": {"source": "pm", "target": "kd"},
        },
    )
    return {
        "YECAI_WORKSPACE": str(workspace),
        "YECAI_WORKDIR": str(tmp_path / "work"),
        "YECAI_QUEUE_URL": "",
        "COLUMNS": "220",
    }


@pytest.fixture
def cli_store(env: dict[str, str]) -> Store:
    opened = open_store(f"sqlite:///{Path(env['YECAI_WORKDIR']) / 'yecai.sqlite'}")
    yield opened  # type: ignore[misc]
    opened.close()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli(), list(args), env=env)
    return result.exit_code, result.output


def test_run_list_and_the_identity_key(env: dict[str, str], cli_store: Store) -> None:
    code, out = invoke(env, "jobs", "run", "adhoc", "--since", "2026-10-01")
    assert code == 0
    assert "已排队" in out
    code, out = invoke(env, "jobs", "run", "adhoc")
    assert code == 0
    assert "不重复排队" in out
    lease = leases.get(cli_store, "adhoc")
    assert lease is not None
    assert lease.since == "2026-10-01"
    code, out = invoke(env, "jobs", "list")
    assert code == 0
    assert "0 2 * * * (skip)" in out
    assert "手动 manual" in out
    assert "queued (attempt 0)" in out
    code, out = invoke(env, "jobs", "run", "nope")
    assert code == 1
    assert "没有同步作业 nope" in out


def test_dead_letters_replay_and_skip(env: dict[str, str], cli_store: Store) -> None:
    failure = JobFailure(
        "无法连接数据源", "cannot reach the source", "retry", "transient", "SourceError", {"connection": "pm"}
    )
    first = deadletters.bury(cli_store, job="adhoc", task_id=None, since=None, failure=failure, attempts=3)
    second = deadletters.bury(
        cli_store, job="costs", task_id=None, since="2026-10-01", failure=failure, attempts=3
    )
    code, out = invoke(env, "jobs", "dead")
    assert code == 0
    assert "无法连接数据源" in out
    assert "connection=pm" in out
    assert "since 2026-10-01" in out

    code, out = invoke(env, "jobs", "replay", str(first), "--who", "阿明")
    assert code == 0
    assert "已排队" in out
    code, out = invoke(env, "jobs", "replay", str(first))
    assert code == 1
    assert "不能重放" in out

    code, _out = invoke(env, "jobs", "skip", str(second))  # --reason is required
    assert code == 2
    code, out = invoke(env, "jobs", "skip", str(second), "--reason", "  ")
    assert code == 1
    assert "原因" in out
    code, out = invoke(
        env, "jobs", "skip", str(second), "--reason", "已人工补录 / entered by hand", "--who", "小李"
    )
    assert code == 0
    assert "skipped" in out
    code, out = invoke(env, "jobs", "dead")
    assert "无法连接数据源" not in out
    code, out = invoke(env, "jobs", "dead", "--all")
    assert "已人工补录" in out
    assert "小李" in out
    assert "阿明" in out


def test_pause_and_resume(env: dict[str, str], cli_store: Store) -> None:
    code, out = invoke(env, "jobs", "pause", "kd", "--reason", "月结 / month-end", "--who", "财务")
    assert code == 0
    assert "已暂停" in out
    paused = health.health(cli_store, "kd")
    assert paused is not None
    assert (paused.paused, paused.paused_by, paused.paused_reason) == (True, "财务", "月结 / month-end")
    code, out = invoke(env, "jobs", "list")
    assert "kd" in out.split("暂停")[-1]
    code, out = invoke(env, "jobs", "run", "adhoc")
    assert code == 1
    assert "已暂停" in out
    code, out = invoke(env, "jobs", "pause", "nowhere")
    assert code == 1
    assert "没有连接 nowhere" in out
    code, out = invoke(env, "jobs", "resume", "kd")
    assert code == 0
    assert "已恢复" in out
    code, out = invoke(env, "jobs", "run", "adhoc")
    assert code == 0


def test_worker_needs_a_redis_queue(env: dict[str, str]) -> None:
    code, out = invoke(env, "worker")
    assert code == 1
    assert "Redis" in out
    assert "yecai serve" in out

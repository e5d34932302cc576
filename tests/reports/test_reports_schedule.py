"""The monthly report on a schedule: the tick claims each moment once, the queue task writes the
previous month's .xlsx and .html, and a failure is recorded and alerted (then retried by Huey)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from huey import MemoryHuey

from tests.support.job_runtime import Collector
from tests.support.report_world import JOB, report_world
from yecai.errors import YecaiError
from yecai.jobs import states
from yecai.jobs.queue import JobQueue
from yecai.jobs.reporting import REPORT_JOB, report_period, write_scheduled_monthly
from yecai.jobs.runner import Runtime, open_runtime
from yecai.jobs.schedule import BEIJING
from yecai.observability.events import AlertHooks
from yecai.reports.periods import Period
from yecai.settings import Settings
from yecai.store.db import Store

pytestmark = pytest.mark.slow


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=BEIJING)  # type: ignore[misc]


def add_monthly(space_file: Path, **spec: object) -> None:
    data = yaml.safe_load(space_file.read_text(encoding="utf-8"))
    data["reports"] = {"monthly": spec}
    space_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def runtime_for(settings: Settings, store: Store, collector: Collector) -> Runtime:
    hooks = AlertHooks()
    hooks.register("test", collector)
    return open_runtime(settings, store=store, hooks=hooks)


def test_the_report_covers_the_month_before_the_run() -> None:
    assert report_period(at(2026, 11, 1, 7)) == Period(2026, 10)
    assert report_period(at(2027, 1, 1, 7)) == Period(2026, 12)
    # 1 November 06:30 in Beijing is still 31 October in UTC: Beijing time decides
    assert report_period(dt.datetime(2026, 10, 31, 22, 30, tzinfo=dt.UTC)) == Period(2026, 10)


def test_scheduled_monthly_report_is_written_once_per_moment(tmp_path: Path) -> None:
    collector = Collector()
    with report_world(tmp_path / "world", projects=3, months=2) as world:
        add_monthly(world.settings.workspace, job=JOB, out="out")
        runtime = runtime_for(world.settings, world.store, collector)
        queue = JobQueue(runtime, MemoryHuey("reports", results=False))
        assert REPORT_JOB not in queue.tick(now=at(2026, 11, 20, 9)).enqueued  # first sight: no catch-up
        assert REPORT_JOB not in queue.tick(now=at(2026, 12, 1, 6, 59)).enqueued
        due = queue.tick(now=at(2026, 12, 1, 7, 0, 30))
        assert due.enqueued[REPORT_JOB] == at(2026, 12, 1, 7)
        assert REPORT_JOB not in queue.tick(now=at(2026, 12, 1, 7, 1)).enqueued  # claimed once
        task = queue.huey.dequeue()
        assert task is not None
        queue.huey.execute(task)
        out = world.workdir / "out"
        assert sorted(p.name for p in out.iterdir()) == ["monthly-2026-11.html", "monthly-2026-11.xlsx"]
        assert "2026-11" in (out / "monthly-2026-11.html").read_text(encoding="utf-8")
        state = states.state(world.store, REPORT_JOB)
        assert state is not None
        assert state.last_outcome == "succeeded"
        assert collector.of("run.failed") == []


def test_a_failed_report_is_recorded_and_alerted(store: Store, tmp_path: Path) -> None:
    space_file = tmp_path / "yecai.yaml"
    space_file.write_text(
        yaml.safe_dump(
            {
                "connections": {
                    "pm": {"kind": "source", "connector": "pm_sandbox", "base_url": "http://127.0.0.1:9"},
                    "kd": {
                        "kind": "kingdee",
                        "server_url": "http://127.0.0.1:9/K3Cloud/",
                        "acct_id": "a",
                        "user_name": "u",
                        "app_id": "1_x",
                        "app_secret": "nope",
                        "timeout_seconds": 2,
                    },
                },
                "syncs": {JOB: {"source": "pm", "target": "kd"}},
                "reports": {"monthly": {"job": JOB}},
            }
        ),
        encoding="utf-8",
    )
    collector = Collector()
    runtime = runtime_for(Settings(workspace=space_file, workdir=tmp_path / "work"), store, collector)
    with pytest.raises(YecaiError):
        write_scheduled_monthly(runtime, moment=at(2026, 11, 1, 7))
    state = states.state(store, REPORT_JOB)
    assert state is not None
    assert state.last_outcome == "failed"
    [alert] = collector.of("run.failed")
    assert (alert["job"], alert["period"]) == (REPORT_JOB, "2026-10")
    assert not (tmp_path / "reports").exists()  # nothing half-written


def test_the_workspace_refuses_an_unknown_report_job(tmp_path: Path) -> None:
    from yecai.workspace import parse_workspace

    with pytest.raises(YecaiError, match="reports"):
        parse_workspace(
            {
                "connections": {
                    "kd": {
                        "kind": "kingdee",
                        "server_url": "http://x/",
                        "acct_id": "a",
                        "user_name": "u",
                        "app_id": "1",
                        "app_secret": "s",
                    }
                },
                "reports": {"monthly": {"job": "nope"}},
            },
            tmp_path,
        )

"""Where the events come from: a run against an unreachable Kingdee raises `kingdee.disconnected`
and `run.failed`; a call-level MsgCode raises `kingdee.error`; postings Kingdee refused are grouped
into one `kingdee.error` per form and MsgCode; a running lease without heartbeats raises
`run.stalled`, also from the scheduler tick. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from huey import MemoryHuey

from tests.support.job_runtime import (
    KINGDEE,
    Collector,
    closed_port,
    make_runtime,
    store_secrets,
    write_workspace,
)
from yecai.errors import Context
from yecai.jobs import leases
from yecai.jobs.failures import JobFailure
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import _report_failure, _report_refusals, execute
from yecai.jobs.stalls import check_stalled
from yecai.kingdee.responses import interpret
from yecai.kingdee.results import KingdeeError
from yecai.observability.events import AlertHooks
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.services.refusals import kingdee_failures
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.workspace import SyncJob


@pytest.fixture(scope="module")
def pm_url() -> Iterator[str]:
    server, _dataset = start_pm(projects=1, months=1, seed=5)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.mark.slow
def test_unreachable_kingdee_raises_disconnected_and_run_failed(
    store: Store, tmp_path: Path, pm_url: str
) -> None:
    collector = Collector()
    kingdee = {**KINGDEE, "server_url": closed_port() + "/K3Cloud/"}
    workspace = write_workspace(
        tmp_path / "yecai.yaml",
        kingdee=kingdee,
        sources={"pm": pm_url},
        jobs={"costs": {"source": "pm", "target": "kd", "max_attempts": 1}},
    )
    runtime = make_runtime(tmp_path, store, workspace, collector=collector)
    store_secrets(store, runtime.settings.workdir, kingdee, ["pm"])
    queue = JobQueue(runtime, MemoryHuey("kd-down", results=False))
    queued = queue.enqueue("costs")
    task = queue.huey.dequeue()
    assert task is not None
    assert task.id == queued.task_id
    outcome = execute(runtime, "costs", task_id=task.id)
    assert outcome.status == "dead"
    [down] = collector.of("kingdee.disconnected")
    assert (down["connection"], down["job"], down["run_id"]) == ("kd", "costs", outcome.run_id)
    assert "无法连接金蝶服务器" in down["error_zh"]
    [failed] = collector.of("run.failed")
    assert (failed["job"], failed["run_id"], failed["fault"]) == ("costs", outcome.run_id, "transient")
    names = [name for name, _ in collector.events]
    assert names.index("kingdee.disconnected") < names.index("run.failed") < names.index("job.dead")
    assert collector.of("kingdee.error") == []
    assert "s3cret-value" not in str(collector.events)


def failure_of(exc: BaseException) -> JobFailure:
    return JobFailure.of(exc, "costs")


def test_a_call_level_msgcode_raises_kingdee_error() -> None:
    collector = Collector()
    hooks = AlertHooks()
    hooks.register("test", collector)
    runtime: Any = SimpleNamespace(alerts=hooks)
    job = SyncJob(source="pm", target="kd")
    refused = KingdeeError(
        interpret(2, "没有权限"),
        "没有权限",
        msg_code=2,
        context=Context(connection="kd", form_id="GL_VOUCHER"),
    )
    _report_failure(runtime, job, "costs", refused, failure_of(refused), 9, attempt=1)
    [error] = collector.of("kingdee.error")
    assert (error["connection"], error["form"], error["msg_code"], error["message"]) == (
        "kd",
        "GL_VOUCHER",
        2,
        "没有权限",
    )
    assert collector.of("kingdee.disconnected") == []
    # a session lost again right after logging in (MsgCode 1) is a disconnection, not an error code
    lost = KingdeeError(interpret(1, ""), msg_code=1)
    _report_failure(runtime, job, "costs", lost, failure_of(lost), 10, attempt=1)
    [down] = collector.of("kingdee.disconnected")
    assert (down["connection"], down["msg_code"]) == ("kd", 1)  # the job's target when unnamed
    assert [p["run_id"] for p in collector.of("run.failed")] == [9, 10]


def posting(
    number: int, *, state: str, code: int | None, form: str = "GL_VOUCHER", connection: str = "kd"
) -> Posting:
    return Posting(
        posting_key=f"key-{number}",
        connection=connection,
        rule_set="cost_actuals",
        form_id=form,
        group_key=f"g{number}",
        business_date=dt.date(2026, 10, 31),
        state=state,
        debit_total=Decimal("1.00"),
        credit_total=Decimal("1.00"),
        payload="{}",
        error_code=code,
        error_message=f"科目不存在 {number}" if code else None,
    )


def test_refused_postings_become_one_kingdee_error_per_form_and_code(store: Store) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with store.transaction() as session:
        session.add_all(
            [
                posting(1, state="failed", code=11),
                posting(2, state="failed", code=11),
                posting(3, state="dead", code=13),
                posting(4, state="failed", code=11, form="AP_Payable"),
                posting(5, state="posted", code=None),
                posting(6, state="failed", code=11, connection="other"),
                posting(7, state="planned", code=11),
            ]
        )
    found = kingdee_failures(store, connection="kd", since=before)
    assert [(f.form_id, f.msg_code, f.postings) for f in found] == [
        ("AP_Payable", 11, 1),
        ("GL_VOUCHER", 11, 2),
        ("GL_VOUCHER", 13, 1),
    ]
    assert (
        kingdee_failures(store, connection="kd", since=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
        == []
    )

    collector = Collector()
    hooks = AlertHooks()
    hooks.register("test", collector)
    runtime: Any = SimpleNamespace(store=store, alerts=hooks)
    _report_refusals(runtime, SyncJob(source="pm", target="kd"), "costs", 4, before)
    errors = collector.of("kingdee.error")
    assert [(e["form"], e["msg_code"], e["postings"], e["run_id"]) for e in errors] == [
        ("AP_Payable", 11, 1, 4),
        ("GL_VOUCHER", 11, 2, 4),
        ("GL_VOUCHER", 13, 1, 4),
    ]
    assert errors[1]["message"].startswith("科目不存在")


def running_lease(store: Store, job: str, *, silent_for: float) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=silent_for)
    assert leases.claim(store, job, task_id=f"task-{job}", since=None, origin="manual", now=started)
    assert leases.start(store, job, task_id=f"task-{job}", holder="host:1:abc", now=started) is not None


def test_check_stalled_reports_silent_running_leases(store: Store) -> None:
    running_lease(store, "quiet", silent_for=300)
    running_lease(store, "busy", silent_for=1)
    assert leases.claim(store, "waiting", task_id="t-w", since=None, origin="manual")  # queued: not a run
    collector = Collector()
    hooks = AlertHooks()
    hooks.register("test", collector)
    assert check_stalled(store, dt.datetime.now(dt.UTC), 60, hooks=hooks) == ["quiet"]
    [stalled] = collector.of("run.stalled")
    assert (stalled["job"], stalled["holder"], stalled["attempts"]) == ("quiet", "host:1:abc", 1)
    assert 299 <= stalled["silent_seconds"] <= 320


def test_the_scheduler_tick_reports_stalls_before_taking_over(store: Store, tmp_path: Path) -> None:
    collector = Collector()
    workspace = write_workspace(
        tmp_path / "yecai.yaml",
        kingdee=KINGDEE,
        sources={"pm": "http://127.0.0.1:9"},
        jobs={"costs": {"source": "pm", "target": "kd"}},
    )
    # lease 60 s: stalled after 30 s of silence, taken over after 60 s
    runtime = make_runtime(tmp_path, store, workspace, collector=collector, lease_seconds=60.0)
    running_lease(store, "costs", silent_for=40)
    queue = JobQueue(runtime, MemoryHuey("stalls", results=False))
    result = queue.tick()
    assert result.stalled == ["costs"]
    assert result.taken_over == []
    assert [p["job"] for p in collector.of("run.stalled")] == ["costs"]

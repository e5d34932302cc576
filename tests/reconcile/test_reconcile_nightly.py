"""Reconciliation after each run of a sync job with `reconcile: true`: the queue task reconciles
the current month under the job's lease, records a `reconcile` run, and raises
`reconcile.differences` when Kingdee holds something yecai does not explain."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from huey import MemoryHuey
from sqlalchemy import select

from tests.support.job_runtime import Collector
from tests.support.kingdee_calls import line, sdk_client, status_of, voucher
from tests.support.report_world import JOB, report_world
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime, execute, open_runtime
from yecai.observability.events import AlertHooks
from yecai.reconcile.service import current_period
from yecai.store.tables import Binding, Run

pytestmark = pytest.mark.slow


def run_job(runtime: Runtime, queue: JobQueue) -> str:
    queued = queue.enqueue(JOB)
    task = queue.huey.dequeue()
    assert task is not None
    assert task.id == queued.task_id
    return execute(runtime, JOB, task_id=task.id).status


def reconcile_runs(runtime: Runtime) -> list[Run]:
    with runtime.store.transaction() as session:
        found = list(session.scalars(select(Run).where(Run.kind == "reconcile").order_by(Run.id)))
        session.expunge_all()
        return found


def test_a_sync_with_reconcile_true_reconciles_after_each_run(tmp_path: Path) -> None:
    collector = Collector()
    with report_world(tmp_path / "world", projects=3, months=2) as world:
        space_file = world.settings.workspace
        data = yaml.safe_load(space_file.read_text(encoding="utf-8"))
        data["syncs"][JOB]["reconcile"] = True
        space_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        hooks = AlertHooks()
        hooks.register("test", collector)
        runtime = open_runtime(world.settings, store=world.store, hooks=hooks)
        queue = JobQueue(runtime, MemoryHuey("nightly", results=False))

        assert run_job(runtime, queue) in ("succeeded", "attention")
        [first] = reconcile_runs(runtime)
        assert first.status != "failed", first.message
        assert collector.of("reconcile.differences") == []  # what yecai posted, Kingdee holds

        # a voucher typed into Kingdee by hand on a project's cost account, this month
        with world.store.transaction() as session:
            number = session.scalar(select(Binding.kingdee_number).where(Binding.kind == "project").limit(1))
        sdk = sdk_client(world.credentials)
        day = f"{current_period()}-02"
        answer = sdk.Save(
            "GL_VOUCHER",
            {
                "Model": voucher(
                    line("5401.02", debit="321.00", FF100001=number),
                    line("2202.01", credit="321.00", FF100001=number, FFLEX4="GYS0001"),
                    date=day,
                )
            },
        )
        assert status_of(answer)["IsSuccess"] is True, answer

        run_job(runtime, queue)
        assert len(reconcile_runs(runtime)) == 2
        [alert] = collector.of("reconcile.differences")
        assert alert["period"] == current_period()
        assert alert["unknown_in_kingdee"] >= 1

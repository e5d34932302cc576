"""Failures on SQLite and PostgreSQL: retries with backoff then a dead letter carrying the bilingual
error, replay and skip, configuration errors that are not retried, auto-pause after consecutive
failed runs with the alert hook called, and resuming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from huey import MemoryHuey

from tests.support.job_runtime import (
    KINGDEE,
    Collector,
    closed_port,
    expected_vouchers,
    kingdee_vouchers,
    make_runtime,
    runs_of,
    store_secrets,
    wait_for,
    write_workspace,
)
from yecai.errors import YecaiError
from yecai.jobs import deadletters, leases, states
from yecai.jobs.failures import JobFailure
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime, _blame, execute
from yecai.services import health
from yecai.store.db import Store
from yecai.workspace import SyncJob

pytestmark = pytest.mark.slow


def unreachable_runtime(
    store: Store, tmp_path: Path, collector: Collector, *, max_attempts: int = 3, **options: Any
) -> Runtime:
    workspace = write_workspace(
        tmp_path / "yecai.yaml",
        kingdee=KINGDEE,
        sources={"pm": closed_port()},
        jobs={"costs": {"source": "pm", "target": "kd", "max_attempts": max_attempts}},
    )
    runtime = make_runtime(tmp_path, store, workspace, collector=collector, **options)
    store_secrets(store, runtime.settings.workdir, KINGDEE, ["pm"])
    return runtime


def run_once(runtime: Runtime, queue: JobQueue, since: str | None = None) -> Any:
    """Enqueue and execute in this thread, as a worker would (the task id owns the lease)."""
    queued = queue.enqueue("costs", since=since)
    assert queued.task_id is not None, queued
    task = queue.huey.dequeue()  # what a worker does first
    assert task is not None
    assert task.id == queued.task_id
    return execute(runtime, "costs", task_id=task.id, since=since)


def test_retries_with_backoff_then_a_dead_letter(store: Store, tmp_path: Path, collector: Collector) -> None:
    runtime = unreachable_runtime(store, tmp_path, collector)
    queue = JobQueue(runtime, MemoryHuey("failures", results=False))
    first = run_once(runtime, queue, since="2026-10-01")
    assert first.status == "retry"
    assert first.retry_in is not None
    assert 0 < first.retry_in <= 0.2
    lease = leases.get(store, "costs")
    assert lease is not None
    assert (lease.state, lease.attempts) == ("queued", 1)
    assert lease.last_error is not None
    assert lease.last_error["action"] == "retry"
    assert queue.enqueue("costs").status == "already_queued"  # waiting for its retry: still the one job
    second = execute(runtime, "costs", task_id=lease.task_id, since="2026-10-01")
    assert second.status == "retry"
    third = execute(runtime, "costs", task_id=lease.task_id, since="2026-10-01")
    assert third.status == "dead"
    assert third.dead_letter_id is not None
    assert leases.get(store, "costs") is None

    [letter] = deadletters.dead_letters(store)
    assert letter.id == third.dead_letter_id
    assert (letter.job, letter.attempts, letter.status) == ("costs", 3, "dead")
    assert letter.args == {"job": "costs", "since": "2026-10-01"}
    assert "无法连接数据源" in letter.error_zh
    assert "cannot reach the source" in letter.error_en
    assert (letter.error_action, letter.error_fault, letter.error_type) == (
        "retry",
        "transient",
        "SourceError",
    )
    assert letter.error_context == {"connection": "pm", "stream": "projects"}
    failed_runs = runs_of(store, "costs")
    assert [r.status for r in failed_runs] == ["failed"] * 3
    assert letter.run_id == failed_runs[-1].id
    assert [p["attempt"] for p in collector.of("job.retrying")] == [1, 2]
    [dead] = collector.of("job.dead")
    assert (dead["dead_letter_id"], dead["context_connection"], dead["fault"]) == (
        letter.id,
        "pm",
        "transient",
    )
    assert "无法连接数据源" in dead["error_zh"]
    assert "s3cret-value" not in str(collector.events)
    job_state = states.state(store, "costs")
    assert job_state is not None
    assert job_state.last_outcome == "dead"
    pm_health = health.health(store, "pm")
    assert pm_health is not None
    assert (pm_health.consecutive_failures, pm_health.paused) == (3, False)


def test_a_configuration_error_goes_to_dead_letters_at_once(
    store: Store, tmp_path: Path, collector: Collector
) -> None:
    runtime = unreachable_runtime(store, tmp_path, collector)
    runtime.secrets.delete("kd", "KD_APP_SECRET")  # the job cannot open its Kingdee connection
    outcome = run_once(runtime, JobQueue(runtime, MemoryHuey("config", results=False)))
    assert outcome.status == "dead"
    [letter] = deadletters.dead_letters(store)
    assert (letter.attempts, letter.error_action, letter.error_fault) == (1, "fail", "configuration")
    assert "KD_APP_SECRET" in letter.error_zh
    assert "set-secret" in letter.error_en
    assert collector.of("job.retrying") == []


def test_replay_and_skip(store: Store, tmp_path: Path, collector: Collector) -> None:
    runtime = unreachable_runtime(store, tmp_path, collector, max_attempts=1)
    queue = JobQueue(runtime, MemoryHuey("replay", results=False))
    assert run_once(runtime, queue, since="2026-10-01").status == "dead"
    assert run_once(runtime, queue).status == "dead"
    first, second = deadletters.dead_letters(store)

    replayed = queue.replay(first.id, who="阿明")
    assert (replayed.queued, replayed.status) == (True, "queued")
    [task] = queue.huey.pending()
    assert task.args == ("costs", "2026-10-01")  # the same arguments as the failed run
    lease = leases.get(store, "costs")
    assert lease is not None
    assert (lease.origin, lease.since, lease.attempts) == ("replay", "2026-10-01", 0)
    letter = deadletters.dead_letter(store, first.id)
    assert letter is not None
    assert (letter.status, letter.who) == ("replayed", "阿明")
    assert letter.resolved_at is not None
    with pytest.raises(YecaiError, match="replayed"):
        queue.replay(first.id, who="阿明")

    assert deadletters.mark_skipped(
        store, second.id, who="小李", reason="源系统已作废该批数据 / voided at source"
    )
    skipped = deadletters.dead_letter(store, second.id)
    assert skipped is not None
    assert (skipped.status, skipped.who) == ("skipped", "小李")
    assert skipped.reason == "源系统已作废该批数据 / voided at source"
    assert not deadletters.mark_skipped(store, second.id, who="小李", reason="again")
    with pytest.raises(YecaiError, match="skipped"):
        queue.replay(second.id, who="阿明")
    assert deadletters.dead_letters(store) == []
    assert {d.status for d in deadletters.dead_letters(store, status=None)} == {"replayed", "skipped"}
    with pytest.raises(YecaiError):
        queue.replay(999, who="阿明")


def test_auto_pause_after_consecutive_failures_calls_the_alert_hook(
    store: Store, tmp_path: Path, collector: Collector
) -> None:
    runtime = unreachable_runtime(store, tmp_path, collector, max_attempts=1, pause_after_failures=2)
    queue = JobQueue(runtime, MemoryHuey("pause", results=False))
    assert run_once(runtime, queue).status == "dead"
    assert collector.of("connection.paused") == []
    assert health.paused_among(store, ["pm", "kd"]) == []
    assert run_once(runtime, queue).status == "dead"
    [paused] = collector.of("connection.paused")
    assert (paused["connection"], paused["failures"], paused["by"], paused["job"]) == (
        "pm",
        2,
        "auto",
        "costs",
    )
    assert "无法连接数据源" in paused["error_zh"]
    assert paused["fault"] == "transient"
    # the error named the source: the Kingdee data centre is not blamed
    assert health.paused_among(store, ["pm", "kd"]) == ["pm"]
    pm_health = health.health(store, "pm")
    assert pm_health is not None
    assert pm_health.paused_by == "auto"
    assert "2" in (pm_health.paused_reason or "")

    blocked = queue.enqueue("costs")
    assert (blocked.queued, blocked.status) == (False, "paused")
    assert queue.huey.pending_count() == 0
    # a task queued before the pause reaches a worker: it is not run
    assert leases.claim(store, "costs", task_id="before-pause", since=None, origin="manual")
    assert execute(runtime, "costs", task_id="before-pause").status == "paused"
    assert len(runs_of(store, "costs")) == 2
    assert leases.get(store, "costs") is None

    assert health.resume(store, "pm")
    resumed = health.health(store, "pm")
    assert resumed is not None
    assert (resumed.paused, resumed.consecutive_failures) == (False, 0)
    assert queue.enqueue("costs").status == "queued"


def test_a_retry_that_meets_a_pause_becomes_a_dead_letter(
    store: Store, tmp_path: Path, collector: Collector
) -> None:
    runtime = unreachable_runtime(store, tmp_path, collector)
    queue = JobQueue(runtime, MemoryHuey("retry-pause", results=False))
    assert run_once(runtime, queue).status == "retry"
    assert health.pause(store, "kd", who="财务", reason="月结 / month-end closing")
    lease = leases.get(store, "costs")
    assert lease is not None
    outcome = execute(runtime, "costs", task_id=lease.task_id)
    assert outcome.status == "dead"  # kept for a replay after `yecai jobs resume kd`
    [letter] = deadletters.dead_letters(store)
    assert "无法连接数据源" in letter.error_zh
    assert letter.attempts == 1


def test_a_failure_counts_against_the_connection_it_names() -> None:
    job = SyncJob(source="pm", target="kd")
    named = JobFailure("金蝶", "kingdee", "retry", "transient", "KingdeeError", {"connection": "kd"})
    anonymous = JobFailure("?", "?", "retry", "transient", "OperationalError")
    assert _blame(job, named) == ["kd"]
    assert _blame(job, anonymous) == ["pm", "kd"]


def test_health_counts_consecutive_failures_and_a_success_resets(store: Store) -> None:
    assert health.record_failure(store, ["kd"], error="x", pause_after=3) == []
    assert health.record_failure(store, ["kd"], error="x", pause_after=3) == []
    health.record_success(store, ["pm", "kd"])
    assert health.record_failure(store, ["kd"], error="x", pause_after=3) == []
    assert health.record_failure(store, ["kd"], error="x", pause_after=3) == []
    assert health.record_failure(store, ["kd"], error="y", pause_after=3) == ["kd"]
    assert (
        health.record_failure(store, ["kd"], error="y", pause_after=3) == []
    )  # already paused: no new alert
    assert not health.pause(store, "kd", who="a", reason="b")


def test_replayed_through_the_embedded_queue_after_the_source_came_back(
    tmp_path: Path, collector: Collector, sandboxes: tuple[Any, Any, Any, dict[str, Any]]
) -> None:
    """Huey's own retry path (RetryTask with backoff) to a dead letter, then a replay that posts."""
    from yecai.store.db import open_store

    pm, dataset, _kingdee, credentials = sandboxes
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    workspace = tmp_path / "yecai.yaml"
    jobs = {"costs": {"source": "pm", "target": "kd", "batch_size": 20}}
    write_workspace(workspace, kingdee=credentials, sources={"pm": closed_port()}, jobs=jobs)
    runtime = make_runtime(tmp_path, store, workspace, collector=collector)
    store_secrets(store, runtime.settings.workdir, credentials, ["pm"])
    queue = JobQueue(runtime)  # SqliteHuey in the work directory
    consumer = queue.consumer(workers=2, embedded=True, max_delay=0.2)
    consumer.start()
    try:
        assert queue.enqueue("costs").queued
        [letter] = wait_for(lambda: deadletters.dead_letters(store), timeout=60)
        assert letter.attempts == 3
        assert len(collector.of("job.retrying")) == 2
        # the source is back (the workspace is read afresh for every run)
        write_workspace(workspace, kingdee=credentials, sources={"pm": pm.base_url}, jobs=jobs)
        assert queue.replay(letter.id, who="阿明").queued
        wait_for(lambda: (s := states.state(store, "costs")) and s.last_outcome == "succeeded", timeout=60)
    finally:
        consumer.stop(graceful=True)
        store.close()
    count, keys, _debit = kingdee_vouchers(credentials)
    assert count == expected_vouchers(dataset)
    assert set(keys.values()) == {1}
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    try:
        pm_health = health.health(store, "pm")
        assert pm_health is not None
        assert pm_health.consecutive_failures == 0
        replayed = deadletters.dead_letter(store, letter.id)
        assert replayed is not None
        assert replayed.status == "replayed"
    finally:
        store.close()

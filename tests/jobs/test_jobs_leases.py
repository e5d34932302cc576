"""Identity keys on SQLite and PostgreSQL: a job is queued once, stale leases are taken over and the
old holder fenced off, and each scheduled moment is enqueued once whatever the number of schedulers.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from huey import MemoryHuey

from tests.support.job_runtime import Collector, make_runtime, wait_for, write_workspace
from yecai.jobs import deadletters, leases, states
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Heartbeat, LeaseLost, Runtime, execute
from yecai.jobs.schedule import BEIJING
from yecai.services import health
from yecai.store import runs
from yecai.store.db import Store
from yecai.store.tables import Run

KINGDEE = {
    "server_url": "http://127.0.0.1:9/K3Cloud/",
    "acct_id": "acct",
    "user_name": "demo",
    "app_id": "app",
    "app_secret": "never-in-a-task",
    "lcid": 2052,
    "org_num": "100",
}


@pytest.fixture
def runtime(store: Store, tmp_path: Path, collector: Collector) -> Runtime:
    workspace = write_workspace(
        tmp_path / "yecai.yaml",
        kingdee=KINGDEE,
        sources={"pm": "http://127.0.0.1:9"},
        jobs={
            "costs": {"source": "pm", "target": "kd", "schedule": {"cron": "0 2 * * *"}},
            "holiday_costs": {
                "source": "pm",
                "target": "kd",
                "schedule": {"cron": "0 2 * * *", "holidays": "skip"},
            },
            "manual": {"source": "pm", "target": "kd"},
        },
    )
    return make_runtime(tmp_path, store, workspace, collector=collector)


def queue_of(runtime: Runtime) -> JobQueue:
    return JobQueue(runtime, MemoryHuey("test", results=False))


def ago(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)


def test_the_same_job_is_never_queued_twice(runtime: Runtime) -> None:
    queue = queue_of(runtime)
    first = queue.enqueue("costs")
    second = queue.enqueue("costs", since="2026-10-01")
    assert (first.queued, first.status) == (True, "queued")
    assert (second.queued, second.status) == (False, "already_queued")
    assert "不重复排队" in second.message
    assert "not queued twice" in second.message
    [task] = queue.huey.pending()
    assert task.id == first.task_id
    assert (task.args, task.kwargs) == (("costs", None), {})  # the job's name and since: nothing else
    raw = b"".join(queue.huey.storage.enqueued_items())
    assert b"never-in-a-task" not in raw
    assert b"127.0.0.1" not in raw
    lease = leases.get(runtime.store, "costs")
    assert lease is not None
    assert (lease.state, lease.task_id, lease.origin) == (
        "queued",
        first.task_id,
        "manual",
    )


def test_concurrent_enqueues_claim_the_job_once(runtime: Runtime) -> None:
    queues = [queue_of(runtime) for _ in range(8)]
    results = []
    barrier = threading.Barrier(len(queues))

    def enqueue(queue: JobQueue) -> None:
        barrier.wait()
        results.append(queue.enqueue("costs"))

    threads = [threading.Thread(target=enqueue, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in results) == ["already_queued"] * 7 + ["queued"]
    assert sum(q.huey.pending_count() for q in queues) == 1


def test_a_finished_job_can_be_queued_again_and_a_superseded_task_never_runs(runtime: Runtime) -> None:
    queue = queue_of(runtime)
    first = queue.enqueue("costs")
    assert first.task_id is not None
    # A duplicate delivery or a task whose lease was handed on: it does not own the lease.
    assert execute(runtime, "costs", task_id="someone-else").status == "superseded"
    lease = leases.start(runtime.store, "costs", task_id=first.task_id, holder="h")
    assert lease is not None
    assert lease.attempts == 1
    assert leases.start(runtime.store, "costs", task_id=first.task_id, holder="h2") is None  # not twice
    assert queue.enqueue("costs").status == "already_running"
    assert leases.release(runtime.store, "costs", task_id=first.task_id)
    assert queue.enqueue("costs").status == "queued"
    assert runs_count(runtime.store) == 0


def runs_count(store: Store) -> int:
    with store.transaction() as session:
        return session.query(Run).count()


def test_a_stale_running_lease_is_taken_over_and_the_old_holder_fenced(
    runtime: Runtime, collector: Collector
) -> None:
    store = runtime.store
    queue = queue_of(runtime)
    old = queue.enqueue("costs")
    assert old.task_id is not None
    # The old worker started 10 s ago and has not beaten since (lease_seconds is 3 in these tests).
    lease = leases.start(store, "costs", task_id=old.task_id, holder="old-worker", now=ago(10))
    assert lease is not None
    orphan = runs.start_run(store, kind="sync:costs", connection="pm")
    with Heartbeat(store, lease, "old-worker", interval=0.05, lease_seconds=60) as heartbeat:
        heartbeat.check()  # still ours as far as it knows
        taken = queue.enqueue("costs")
        assert (taken.queued, taken.status) == (True, "taken_over")
        wait_for(lambda: heartbeat.lost, timeout=5)
        with pytest.raises(LeaseLost):
            heartbeat.check()
        limiter = runtime.limits.limiter("kd", 1, fence=heartbeat.check)
        with pytest.raises(LeaseLost), limiter():
            pytest.fail("a fenced-off holder must not reach Kingdee")
    assert not leases.beat(store, "costs", task_id=old.task_id, holder="old-worker")
    current = leases.get(store, "costs")
    assert current is not None
    assert (current.state, current.task_id, current.origin, current.attempts) == (
        "queued",
        taken.task_id,
        "takeover",
        1,
    )
    [event] = collector.of("lease.taken_over")
    assert (event["job"], event["holder"], event["state"]) == ("costs", "old-worker", "running")
    job_state = states.state(store, "costs")
    assert job_state is not None
    assert job_state.takeovers == 1
    with store.transaction() as session:
        run = session.get(Run, orphan)
        assert run is not None
        assert run.status == "failed"
        assert "taken over" in (run.message or "")
    assert {t.id for t in queue.huey.pending()} == {old.task_id, taken.task_id}
    # the old task, if it is ever delivered, is superseded
    assert execute(runtime, "costs", task_id=old.task_id).status == "superseded"


def test_a_queued_lease_is_stale_only_when_its_task_left_the_queue(runtime: Runtime) -> None:
    store = runtime.store
    queue = queue_of(runtime)
    waiting = queue.enqueue("costs")
    assert waiting.task_id is not None
    with store.transaction() as session:  # queued long ago, still waiting behind other work
        row = session.get(leases.JobLease, "costs")
        assert row is not None
        row.queued_at = ago(60)
    assert queue.recover() == []
    assert queue.enqueue("costs").status == "already_queued"
    # a task lost with its queue (a flushed Redis, a worker killed between dequeue and start)
    assert leases.claim(store, "manual", task_id="ghost", since="2026-10-01", origin="manual", now=ago(60))
    assert queue.recover() == ["manual"]
    current = leases.get(store, "manual")
    assert current is not None
    assert current.task_id != "ghost"
    assert current.since == "2026-10-01"
    assert current.task_id in {t.id for t in queue.huey.pending()}


def test_a_job_whose_worker_keeps_disappearing_becomes_a_dead_letter(
    runtime: Runtime, collector: Collector
) -> None:
    store = runtime.store
    queue = queue_of(runtime)
    assert leases.claim(store, "costs", task_id="t1", since=None, origin="manual")
    for attempt in range(3):  # max_attempts is 3: three workers died running it
        with store.transaction() as session:
            row = session.get(leases.JobLease, "costs")
            assert row is not None
            row.state, row.attempts, row.holder, row.heartbeat_at = (
                "running",
                attempt + 1,
                f"w{attempt}",
                ago(30),
            )
        result = queue.tick()
        if attempt < 2:
            assert result.taken_over == ["costs"]
            current = leases.get(store, "costs")
            assert current is not None
            with store.transaction() as session:
                row = session.get(leases.JobLease, "costs")
                assert row is not None
                row.task_id = "t1"
    assert leases.get(store, "costs") is None
    [letter] = deadletters.dead_letters(store)
    assert (letter.job, letter.attempts, letter.error_type) == ("costs", 3, "WorkerLost")
    assert "失联" in letter.error_zh
    assert "lost" in letter.error_en
    assert collector.of("job.lost")[0]["dead_letter_id"] == letter.id


def release_all(store: Store, *jobs: str) -> None:
    """What the end of a run does to its lease."""
    for job in jobs:
        current = leases.get(store, job)
        assert current is not None
        leases.release(store, job, task_id=current.task_id)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=BEIJING)  # type: ignore[misc]


def test_the_scheduler_follows_the_calendar_day_by_day(runtime: Runtime) -> None:
    queue = queue_of(runtime)
    assert queue.tick(now=at(2026, 10, 5, 1)).enqueued == {}  # first sight: no catch-up
    seen: dict[str, set[str]] = {}
    for day in range(5, 14):
        result = queue.tick(now=at(2026, 10, day, 2, 0, 30))
        seen[f"10-{day:02d}"] = set(result.enqueued)
        release_all(runtime.store, *result.enqueued)
    both, nightly = {"costs", "holiday_costs"}, {"costs"}
    assert seen == {
        "10-05": nightly,  # 国庆: the `skip` job rests
        "10-06": nightly,
        "10-07": nightly,
        "10-08": both,
        "10-09": both,
        "10-10": both,  # a Saturday, but a 调休 working day
        "10-11": nightly,  # an ordinary Sunday
        "10-12": both,
        "10-13": both,
    }


def test_each_scheduled_moment_is_enqueued_once_across_schedulers(runtime: Runtime) -> None:
    store = runtime.store
    a, b = queue_of(runtime), queue_of(runtime)
    assert a.tick(now=at(2026, 10, 12, 1, 0)).enqueued == {}
    first = a.tick(now=at(2026, 10, 12, 2, 0, 30))
    assert first.enqueued == {"costs": at(2026, 10, 12, 2), "holiday_costs": at(2026, 10, 12, 2)}
    again = b.tick(now=at(2026, 10, 12, 2, 0, 40))
    assert again.enqueued == {}
    assert again.coalesced == []
    assert a.tick(now=at(2026, 10, 12, 2, 1)).enqueued == {}
    assert (a.huey.pending_count(), b.huey.pending_count()) == (2, 0)
    lease = leases.get(store, "costs")
    assert lease is not None
    assert lease.origin == "schedule"
    assert lease.scheduled_for == at(2026, 10, 12, 2)
    assert "manual" not in states.all_states(store)
    # still queued when the next night comes: that moment is covered by the waiting run
    assert a.tick(now=at(2026, 10, 13, 2, 0, 30)).coalesced == ["costs", "holiday_costs"]

    release_all(store, "costs", "holiday_costs")
    queues = [queue_of(runtime) for _ in range(6)]
    results = []
    barrier = threading.Barrier(len(queues))

    def tick(queue: JobQueue) -> None:
        barrier.wait()
        results.append(queue.tick(now=at(2026, 10, 14, 2, 0, 30)))

    threads = [threading.Thread(target=tick, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job for r in results for job in r.enqueued) == ["costs", "holiday_costs"]
    assert sum(q.huey.pending_count() for q in queues) == 2


def test_a_paused_connection_stops_enqueueing_and_scheduling(runtime: Runtime) -> None:
    store = runtime.store
    queue = queue_of(runtime)
    assert health.pause(store, "kd", who="tester", reason="月结 / closing the month")
    blocked = queue.enqueue("costs")
    assert (blocked.queued, blocked.status) == (False, "paused")
    assert "yecai jobs resume kd" in blocked.message
    queue.tick(now=dt.datetime(2026, 10, 12, 1, tzinfo=BEIJING))
    due = queue.tick(now=dt.datetime(2026, 10, 12, 2, 0, 30, tzinfo=BEIJING))
    assert due.enqueued == {}
    assert sorted(due.paused) == ["costs", "holiday_costs"]
    assert queue.huey.pending_count() == 0
    assert health.resume(store, "kd")
    assert not health.resume(store, "kd")
    assert queue.enqueue("costs").status == "queued"


def test_a_parts_lease_is_withdrawn_only_while_queued_and_listed_by_its_jobs_prefix(
    runtime: Runtime,
) -> None:
    store = runtime.store
    for name, task in (("costs#1", "t1"), ("costs#2", "t2"), ("costs_x#1", "t3"), ("costsy#1", "t4")):
        assert leases.claim(store, name, task_id=task, since=None, origin="part")
    # `_` is no wildcard: costs_x is another job's part
    assert [lease.job for lease in leases.all_leases(store, prefix="costs#")] == ["costs#1", "costs#2"]
    assert [lease.job for lease in leases.all_leases(store, prefix="costs_")] == ["costs_x#1"]
    assert leases.start(store, "costs#2", task_id="t2", holder="h") is not None
    assert not leases.withdraw(store, "costs#2", task_id="t2")  # running: it finishes first
    assert not leases.withdraw(store, "costs#1", task_id="other")  # not that task's lease
    assert leases.withdraw(store, "costs#1", task_id="t1")
    assert leases.start(store, "costs#1", task_id="t1", holder="h") is None  # its task finds nothing
    assert [lease.job for lease in leases.all_leases(store, prefix="costs#")] == ["costs#2"]


def test_a_stale_part_lease_is_released_never_taken_over(runtime: Runtime, collector: Collector) -> None:
    store = runtime.store
    queue = JobQueue(runtime, MemoryHuey("parts-test"))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    assert leases.claim(store, "costs#1", task_id="gone", since=None, origin="part", now=past)
    assert leases.start(store, "costs#1", task_id="gone", holder="h", now=past) is not None
    assert queue.recover() == []
    assert leases.all_leases(store) == []
    assert not collector.of("lease.taken_over")


def test_a_stale_parts_call_slots_are_freed_with_its_lease(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part sends with its share of the data centre's slots; when its worker dies, releasing its
    lease frees them at once (as a job's takeover does), not when they expire."""
    freed: list[tuple[str, str]] = []
    monkeypatch.setattr(
        runtime.limits, "release_owner", lambda connection, owner, **_: freed.append((connection, owner)) or 0
    )
    store = runtime.store
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    assert leases.claim(store, "costs#2", task_id="gone", since=None, origin="part", now=past)
    assert leases.start(store, "costs#2", task_id="gone", holder="host:7:dead", now=past) is not None
    assert JobQueue(runtime, MemoryHuey("parts-slots")).recover() == []
    assert freed == [("kd", "host:7:dead")]

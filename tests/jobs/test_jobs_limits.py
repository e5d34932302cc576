"""The concurrency limit per Kingdee data centre, counted by sandbox.kingdee itself (its own limit
off): in-process slots across threads, Redis slots across processes, a job's own calls through
`run_sync(limiter=…)`, expiry of a dead holder's slot, and the wait that gives up."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from huey import MemoryHuey

from tests.support.job_runtime import make_runtime, store_secrets, write_workspace
from yecai.demo import identity_of
from yecai.errors import Action
from yecai.jobs.limits import Limits, LimitTimeout, RedisSlots, ThreadSlots
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import execute
from yecai.kingdee.client import KingdeeClient
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import open_store

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"


def peak(server: Any) -> int:
    counts = httpx.get(f"{server.base_url}/admin/faults", timeout=10).json()["counts"]
    return int(counts["peak_concurrency"])


def call_many(credentials: dict[str, Any], limiter: Any, threads: int, calls: int) -> None:
    """`threads` clients, each making `calls` Kingdee calls through the limiter; re-raises failures."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with KingdeeClient(
                str(credentials["server_url"]), identity_of(credentials), limiter=limiter, connection="kd"
            ) as client:
                for _ in range(calls):
                    client.get_data_centers()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def hammer(credentials: dict[str, Any], prefix: str, limit: int, threads: int, calls: int) -> None:
    """One worker process: its own Limits on the shared Redis (spawned, so nothing is inherited)."""
    limits = Limits(REDIS_URL, prefix=prefix, wait_seconds=60)
    call_many(credentials, limits.limiter("kd", limit), threads, calls)


@pytest.fixture
def slow_kingdee(tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    # 60 ms per call so that calls overlap; the sandbox's own limit off so it cannot mask ours
    server, credentials = start_kingdee(
        tmp_path / "kingdee", faults=FaultSettings(latency_ms=60, max_concurrency=0)
    )
    try:
        yield server, credentials
    finally:
        server.stop()


def test_unlimited_calls_do_overlap(slow_kingdee: tuple[Any, dict[str, Any]]) -> None:
    """The control: without a limiter the sandbox sees many calls at once."""
    server, credentials = slow_kingdee
    call_many(credentials, None, threads=8, calls=3)
    assert peak(server) >= 5


def test_threads_share_the_in_process_limit(slow_kingdee: tuple[Any, dict[str, Any]]) -> None:
    server, credentials = slow_kingdee
    limits = Limits(None)
    assert not limits.distributed
    call_many(credentials, limits.limiter("kd", 3), threads=9, calls=4)
    assert peak(server) == 3


def test_processes_share_the_redis_limit(slow_kingdee: tuple[Any, dict[str, Any]]) -> None:
    server, credentials = slow_kingdee
    prefix = f"yecai-test-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=hammer, args=(credentials, prefix, 2, 3, 4)) for _ in range(3)]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(90)
        assert [p.exitcode for p in processes] == [0, 0, 0]
        assert peak(server) == 2
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
        redis.Redis.from_url(REDIS_URL).delete(*RedisSlots(redis.Redis(), f"{prefix}:limit:kd", 1).keys())


def test_a_dead_holders_redis_slot_expires() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    slots = RedisSlots(client, f"yecai-test-{uuid.uuid4().hex[:8]}:limit:kd", hold_seconds=1)
    try:
        held = [slots.acquire(2, timeout=1), slots.acquire(2, timeout=1)]
        assert all(held)
        assert slots.holders() == 2
        assert slots.acquire(2, timeout=0.2) is None  # full: the holders never released (killed)
        token = slots.acquire(2, timeout=5)  # after hold_seconds their slots expire
        assert token is not None
        slots.release(token)
    finally:
        client.delete(*slots.keys())


def test_a_dead_workers_slots_are_freed_by_its_owner_at_once() -> None:
    """A job holds up to the whole limit at once; when its worker dies, the takeover frees every
    slot that worker held — and only those — without waiting for them to expire."""
    prefix = f"yecai-test-{uuid.uuid4().hex[:8]}"
    limits = Limits(REDIS_URL, prefix=prefix)
    slots = RedisSlots(redis.Redis.from_url(REDIS_URL), f"{prefix}:limit:kd", hold_seconds=300)
    try:
        dead = [slots.acquire(4, timeout=1, owner="host:101:ab*[c]") for _ in range(3)]
        alive = slots.acquire(4, timeout=1, owner="host:1010:ef")
        assert all(dead)
        assert alive
        assert slots.acquire(4, timeout=0.2) is None  # full, and would stay so for 300 s
        assert limits.release_owner("kd", "host:101:ab*[c]") == 3
        assert slots.holders() == 1  # the live worker's slot stays held
        assert limits.release_owner("kd", "host:101:ab*[c]") == 0
        freed = [slots.acquire(4, timeout=1) for _ in range(3)]
        assert all(freed)
        assert slots.acquire(4, timeout=0.2) is None
    finally:
        redis.Redis.from_url(REDIS_URL).delete(*slots.keys())
        limits.close()


@pytest.mark.parametrize("kind", ["threads", "redis"])
def test_a_greedy_caller_cannot_starve_the_others(kind: str) -> None:
    """A job that calls back to back (release, ask again at once) still lets waiters in turn."""
    client = redis.Redis.from_url(REDIS_URL)
    key = f"yecai-test-{uuid.uuid4().hex[:8]}:limit:kd"
    slots = ThreadSlots(1) if kind == "threads" else RedisSlots(client, key, hold_seconds=30)
    stop = threading.Event()

    def greedy() -> None:
        while not stop.is_set():
            token = slots.acquire(1, timeout=5)
            assert token is not None
            time.sleep(0.01)
            slots.release(token)

    hog = threading.Thread(target=greedy)
    hog.start()
    try:
        waits = []
        for _ in range(15):
            started = time.monotonic()
            token = slots.acquire(1, timeout=2)
            waits.append(time.monotonic() - started)
            assert token is not None, f"starved after {len(waits)} turns"
            slots.release(token)
        assert max(waits) < 1.0
    finally:
        stop.set()
        hog.join()
        client.delete(*RedisSlots(client, key, 1).keys())


def test_waiting_too_long_for_a_slot_is_a_retryable_error() -> None:
    limits = Limits(None, wait_seconds=0.1)
    limiter = limits.limiter("kd", 1)
    with limiter(), pytest.raises(LimitTimeout) as caught, limiter():
        pytest.fail("the only slot is taken")
    assert caught.value.action == Action.RETRY
    assert "kd" in caught.value.zh
    assert "slot" in caught.value.en


def test_a_jobs_own_kingdee_calls_hold_the_shared_limit(tmp_path: Path) -> None:
    """A job run by a worker (execute → run_sync(limiter=…)) and other users of the same data
    centre together never exceed its max_concurrency of 1."""
    pm, _dataset = start_pm(projects=2, months=1, seed=11)
    kingdee, credentials = start_kingdee(
        tmp_path / "kingdee", faults=FaultSettings(latency_ms=30, max_concurrency=0)
    )
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    try:
        workspace = write_workspace(
            tmp_path / "yecai.yaml",
            kingdee=credentials,
            sources={"pm": pm.base_url},
            jobs={"costs": {"source": "pm", "target": "kd", "batch_size": 10}},
            max_concurrency=1,
        )
        runtime = make_runtime(tmp_path, store, workspace)
        store_secrets(store, runtime.settings.workdir, credentials, ["pm"])
        queued = JobQueue(runtime, MemoryHuey("limits")).enqueue("costs")
        assert queued.task_id is not None
        done = threading.Event()
        others: list[BaseException] = []

        def other_user() -> None:  # e.g. another job into the same data centre
            limiter = runtime.limits.limiter("kd", 1)
            try:
                with KingdeeClient(
                    str(credentials["server_url"]), identity_of(credentials), limiter=limiter
                ) as client:
                    while not done.is_set():
                        client.get_data_centers()
            except BaseException as exc:
                others.append(exc)

        threads = [threading.Thread(target=other_user) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            outcome = execute(runtime, "costs", task_id=queued.task_id)
        finally:
            done.set()
            for thread in threads:
                thread.join()
        assert others == []
        assert outcome.status == "succeeded", outcome
        assert peak(kingdee) == 1
    finally:
        store.close()
        kingdee.stop()
        pm.stop()

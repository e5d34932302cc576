"""Figures read from the store when Prometheus scrapes: records, postings, dead letters, queue depth.

Every `yecai serve` and `yecai worker` process writes the same store, so these gauges show all of
them, whichever process answers `/metrics`. Each figure is one GROUP BY count over an indexed
table (or a table with one row per job or connection), the same SQL on SQLite and PostgreSQL. A
store that does not answer yields `yecai_store_up 0` instead of failing the whole scrape.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator

from huey.api import Huey
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yecai.domain.posting_states import STATES as POSTING_STATES
from yecai.store.db import Store
from yecai.store.job_tables import ConnectionHealth, DeadLetter, JobLease
from yecai.store.tables import Posting, Record, Run

log = logging.getLogger("yecai.observability")

LEASE_STATES = ("queued", "running")
# A run that finished, even with postings needing a person (those show in yecai_postings), counts
# as a success for "is this sync still running?"; failed runs do not.
COMPLETED_RUNS = ("succeeded", "attention")
SYNC_KIND = "sync:"


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes that were written as UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _families() -> dict[str, GaugeMetricFamily]:
    def gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=labels)

    return {
        "records": gauge(
            "yecai_records",
            "暂存记录数 / staged records by connection, stream and status (staged, valid, invalid)",
            ["connection", "stream", "status"],
        ),
        "postings": gauge(
            "yecai_postings", "过账数 / postings by Kingdee connection and state", ["connection", "state"]
        ),
        "dead_letters": gauge(
            "yecai_dead_letters", "等待处理的死信 / dead letters waiting for a replay or a skip", ["job"]
        ),
        "paused": gauge(
            "yecai_connection_paused",
            "连接是否暂停（1 暂停）/ 1 while the connection is paused",
            ["connection"],
        ),
        "failures": gauge(
            "yecai_connection_consecutive_failures",
            "连接连续失败的运行次数 / consecutive failed runs of the connection",
            ["connection"],
        ),
        "leases": gauge(
            "yecai_job_leases",
            "排队中或运行中的作业 / sync jobs queued or running (their identity keys)",
            ["state"],
        ),
        "last_success": gauge(
            "yecai_job_last_success_age_seconds",
            "距该同步作业上次完成运行的秒数 / seconds since the sync job's last completed run",
            ["job"],
        ),
    }


class StoreCollector(Collector):
    """Reads the store (and the queue's length, when given a Huey) at every scrape."""

    def __init__(
        self,
        store: Store,
        huey: Huey | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._huey = huey
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # Names only: registering must not query the store.
        yield from _families().values()
        yield GaugeMetricFamily("yecai_store_up", "")
        if self._huey is not None:
            yield from self._queue_families().values()
            yield GaugeMetricFamily("yecai_queue_up", "")

    def collect(self) -> Iterable[Metric]:
        up = 1
        families = _families()
        try:
            with self._store.transaction() as session:
                self._read(session, families)
        except Exception as exc:
            # A line per scrape, no traceback: a store that is down is reported by /readyz too.
            log.warning("无法读取存储以生成指标 / cannot read the store for /metrics: %s", exc)
            up = 0
        if up:
            yield from families.values()
        yield GaugeMetricFamily(
            "yecai_store_up", "存储是否可读（1 可读）/ 1 when the store answered this scrape", value=up
        )
        if self._huey is not None:
            yield from self._queue()

    def _read(self, session: Session, families: dict[str, GaugeMetricFamily]) -> None:
        for connection, stream, status, count in session.execute(
            select(Record.connection, Record.stream, Record.status, func.count()).group_by(
                Record.connection, Record.stream, Record.status
            )
        ):
            families["records"].add_metric([connection, stream, status], count)

        postings: dict[str, dict[str, int]] = {}
        for connection, state, count in session.execute(
            select(Posting.connection, Posting.state, func.count()).group_by(
                Posting.connection, Posting.state
            )
        ):
            postings.setdefault(connection, {})[state] = count
        for connection, counts in sorted(postings.items()):
            # Every known state, zero included, so an alert on `state="failed"` has a series to watch.
            for state in (*POSTING_STATES, *sorted(set(counts) - set(POSTING_STATES))):
                families["postings"].add_metric([connection, state], counts.get(state, 0))

        for job, count in session.execute(
            select(DeadLetter.job, func.count()).where(DeadLetter.status == "dead").group_by(DeadLetter.job)
        ):
            families["dead_letters"].add_metric([job], count)

        for connection, paused, failures in session.execute(
            select(
                ConnectionHealth.connection, ConnectionHealth.paused, ConnectionHealth.consecutive_failures
            )
        ):
            families["paused"].add_metric([connection], 1 if paused else 0)
            families["failures"].add_metric([connection], failures or 0)

        leases = dict.fromkeys(LEASE_STATES, 0)
        for state, count in session.execute(select(JobLease.state, func.count()).group_by(JobLease.state)):
            leases[state] = count
        for state, count in leases.items():
            families["leases"].add_metric([state], count)

        now = self._clock()
        for kind, finished in session.execute(
            select(Run.kind, func.max(Run.finished_at))
            .where(Run.kind.startswith(SYNC_KIND), Run.status.in_(COMPLETED_RUNS))
            .group_by(Run.kind)
        ):
            if finished is not None:
                age = (now - _utc(finished)).total_seconds()
                families["last_success"].add_metric([kind[len(SYNC_KIND) :]], max(age, 0.0))

    def _queue_families(self) -> dict[str, GaugeMetricFamily]:
        return {
            "pending": GaugeMetricFamily(
                "yecai_queue_pending_tasks",
                "队列中等待执行的任务 / tasks waiting in the queue",
                labels=["queue"],
            ),
            "scheduled": GaugeMetricFamily(
                "yecai_queue_scheduled_tasks",
                "等待重试时间的任务 / tasks waiting on the queue's retry schedule",
                labels=["queue"],
            ),
        }

    def _queue(self) -> Iterator[Metric]:
        assert self._huey is not None
        families = self._queue_families()
        up = 1
        try:
            families["pending"].add_metric([self._huey.name], self._huey.pending_count())
            families["scheduled"].add_metric([self._huey.name], self._huey.scheduled_count())
        except Exception as exc:
            log.warning("无法读取队列长度 / cannot read the queue's length for /metrics: %s", exc)
            up = 0
        if up:
            yield from families.values()
        yield GaugeMetricFamily(
            "yecai_queue_up", "队列是否可读（1 可读）/ 1 when the queue answered this scrape", value=up
        )

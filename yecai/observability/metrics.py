"""The process-level Prometheus instruments of yecai, updated where things happen.

Kingdee call latency and errors are measured in `KingdeeClient.call`, the one place every WebAPI
call passes through; postings sent are counted by `sync.sending` per BatchSave package. These live
in prometheus-client's default registry, so they count this process only: a `yecai worker`
process keeps its own. Figures that every process shares come from the store (`store_collector`).
This module imports nothing of the store or the jobs, so the Kingdee layer may use it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

# Kingdee answers in tens of milliseconds to minutes (a BatchSave of 500 vouchers, async polls);
# the top bucket matches the default read timeout of 120 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

KINGDEE_SECONDS = Histogram(
    "yecai_kingdee_request_duration_seconds",
    "Kingdee WebAPI 调用耗时 / duration of Kingdee WebAPI calls (HTTP round trip, logins inside it)",
    ["connection", "operation"],
    buckets=LATENCY_BUCKETS,
)
KINGDEE_ERRORS = Counter(
    "yecai_kingdee_errors_total",
    "Kingdee 调用失败 / failed Kingdee calls: failure=business with Kingdee's msg_code, "
    "or the transport failure (connect, timeout, disconnect, http_5xx, …)",
    ["connection", "operation", "msg_code", "failure"],
)
POSTINGS_SENT = Counter(
    "yecai_postings_sent_total",
    "已发送到金蝶的过账 / postings sent to Kingdee in a BatchSave, by what became of them",
    ["connection", "outcome"],
)

# `failure` label values; `business` means Kingdee answered and refused (see msg_code).
BUSINESS = "business"


def _connection(name: str | None) -> str:
    # Clients built without a connection name (tools, tests) share the empty label value.
    return name or ""


class KingdeeCallMeter:
    """Times one Kingdee call and counts its failure, if any (at most one per call)."""

    __slots__ = ("_connection", "_failed", "_operation")

    def __init__(self, connection: str | None, service: str) -> None:
        self._connection = _connection(connection)
        # "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.BatchSave" → "BatchSave"
        self._operation = service.rsplit(".", 1)[-1]
        self._failed = False

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Observe the duration of the block, also when it raises."""
        started = time.perf_counter()
        try:
            yield
        finally:
            KINGDEE_SECONDS.labels(self._connection, self._operation).observe(time.perf_counter() - started)

    def failed(self, failure: str, msg_code: int | str | None = None) -> None:
        """Count the call as failed: `failure` is BUSINESS (with Kingdee's MsgCode) or a transport kind."""
        if self._failed:
            return
        self._failed = True
        code = "" if failure != BUSINESS else ("none" if msg_code is None else str(msg_code))
        KINGDEE_ERRORS.labels(self._connection, self._operation, code, failure).inc()


def count_postings(connection: str, outcome: str, count: int = 1) -> None:
    """`count` postings of `connection` went out in a BatchSave and ended as `outcome`."""
    if count > 0:
        POSTINGS_SENT.labels(_connection(connection), outcome).inc(count)


class ProcessInstruments(Collector):
    """Everything in prometheus-client's default registry (our instruments, process and GC
    figures, anything a library registered), so it can sit in a scrape-time registry of its own."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()

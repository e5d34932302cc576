"""/metrics: store figures equal what the store holds; Kingdee latency and errors move for real calls.

Store gauges are checked on SQLite and PostgreSQL after planting records, postings, dead letters,
paused connections, job leases and runs; the exposition is parsed with prometheus-client's own
parser. Kingdee instruments are driven by yecai's client against a running sandbox.kingdee with
its faults (throttling, error pages, lost answers, hangs), each test under a connection label of
its own so the process-wide counters of other tests never mix in.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from tests.support.kingdee_calls import balanced_voucher
from yecai import jsonutil
from yecai.demo import identity_of
from yecai.domain.posting_states import STATES
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import open_runtime
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.sandbox.kingdee import start_sandbox
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.store.job_tables import ConnectionHealth, DeadLetter, JobLease
from yecai.store.tables import Posting, Record, Run
from yecai.sync.sending import send_postings
from yecai.web.monitoring import monitoring_router

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def of(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (metric, labels), value in samples.items() if metric == name}


def app_for(store: Store, queue: JobQueue | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(monitoring_router(store, queue=queue))
    return TestClient(app)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- figures from the store --------------------------------------------------------------------

RECORDS = [
    ("pm", "cost_records", "valid"),
    ("pm", "cost_records", "valid"),
    ("pm", "cost_records", "invalid"),
    ("pm", "projects", "staged"),
    ("pm2", "invoices", "valid"),
]
POSTINGS = [("kd", "posted")] * 3 + [("kd", "failed"), ("kd", "uncertain"), ("kd2", "planned")]


def plant(store: Store, now: dt.datetime) -> None:
    with store.transaction() as session:
        for n, (connection, stream, status) in enumerate(RECORDS):
            session.add(
                Record(
                    connection=connection,
                    stream=stream,
                    source_key=f"k{n}",
                    content_hash=f"h{n}",
                    payload="{}",
                    status=status,
                )
            )
        for n, (connection, state) in enumerate(POSTINGS):
            session.add(
                Posting(
                    posting_key=f"key{n}",
                    connection=connection,
                    rule_set="cost_actuals",
                    form_id="GL_VOUCHER",
                    group_key=f"g{n}",
                    business_date=dt.date(2026, 10, 5),
                    debit_total=Decimal("1.00"),
                    credit_total=Decimal("1.00"),
                    payload="{}",
                    state=state,
                )
            )
        for n, (job, status) in enumerate([("nightly", "dead"), ("nightly", "dead"), ("hourly", "replayed")]):
            session.add(
                DeadLetter(
                    job=job,
                    args={"job": job},
                    error_zh="错",
                    error_en="wrong",
                    error_action="fail",
                    error_fault="data",
                    error_type="DataError",
                    attempts=n + 1,
                    status=status,
                )
            )
        session.add(ConnectionHealth(connection="kd", consecutive_failures=3, paused=True))
        session.add(ConnectionHealth(connection="pm", consecutive_failures=0, paused=False))
        session.add(JobLease(job="nightly", state="queued", task_id="t1", origin="manual"))
        session.add(JobLease(job="hourly", state="queued", task_id="t2", origin="schedule"))
        session.add(JobLease(job="weekly", state="running", task_id="t3", origin="manual"))
        finished = [
            ("sync:nightly", "succeeded", now - dt.timedelta(hours=5)),
            ("sync:nightly", "attention", now - dt.timedelta(hours=1)),
            ("sync:nightly", "failed", now - dt.timedelta(minutes=5)),  # a failure is no success
            ("sync:hourly", "failed", now - dt.timedelta(minutes=1)),
            ("cost_sync", "succeeded", now),  # not a sync job's run
        ]
        for kind, status, at in finished:
            session.add(Run(kind=kind, status=status, started_at=at, finished_at=at, counts={}))


def test_store_figures_equal_what_the_store_holds(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    plant(store, now)
    samples = scrape(app_for(store))
    assert of(samples, "yecai_store_up") == 1

    records = {
        frozenset({"connection": c, "stream": s, "status": st}.items()): float(n)
        for (c, s, st), n in Counter(RECORDS).items()
    }
    assert named(samples, "yecai_records") == records

    postings = named(samples, "yecai_postings")
    held = Counter(POSTINGS)
    for connection in ("kd", "kd2"):
        for state in STATES:  # every known state has a series, zero included
            assert (
                of(samples, "yecai_postings", connection=connection, state=state) == held[(connection, state)]
            )
    assert sum(postings.values()) == len(POSTINGS)

    assert named(samples, "yecai_dead_letters") == {frozenset({"job": "nightly"}.items()): 2.0}
    assert of(samples, "yecai_connection_paused", connection="kd") == 1
    assert of(samples, "yecai_connection_paused", connection="pm") == 0
    assert of(samples, "yecai_connection_consecutive_failures", connection="kd") == 3
    assert of(samples, "yecai_job_leases", state="queued") == 2
    assert of(samples, "yecai_job_leases", state="running") == 1

    ages = named(samples, "yecai_job_last_success_age_seconds")
    assert set(ages) == {frozenset({"job": "nightly"}.items())}  # hourly never completed
    age = ages[frozenset({"job": "nightly"}.items())]
    assert 3600 <= age < 3600 + 120  # the attention run an hour ago, not the failure after it


def test_an_empty_store_has_zero_leases_and_no_other_series(store: Store) -> None:
    samples = scrape(app_for(store))
    assert of(samples, "yecai_job_leases", state="queued") == 0
    assert named(samples, "yecai_records") == {}
    assert named(samples, "yecai_postings") == {}


def test_the_queue_length_comes_from_huey(store: Store, tmp_path: Path) -> None:
    settings = Settings(workdir=tmp_path / "work", workspace=tmp_path / "yecai.yaml")
    runtime = open_runtime(settings, store=store)
    try:
        queue = JobQueue(runtime)

        @queue.huey.task()
        def noop() -> None:
            pass

        noop()
        noop()
        later = noop.s()
        later.eta = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
        queue.huey.add_schedule(later)
        samples = scrape(app_for(store, queue))
    finally:
        runtime.close()
    assert of(samples, "yecai_queue_pending_tasks", queue="yecai") == 2
    assert of(samples, "yecai_queue_scheduled_tasks", queue="yecai") == 1
    assert of(samples, "yecai_queue_up") == 1


def test_a_store_that_does_not_answer_still_gives_process_metrics() -> None:
    engine = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    try:
        samples = scrape(app_for(Store(engine=engine, sessions=sessionmaker(engine))))
    finally:
        engine.dispose()
    assert of(samples, "yecai_store_up") == 0
    assert named(samples, "yecai_records") == {}
    assert any(name == "python_info" for name, _ in samples)  # the process's own figures are there


def test_the_kingdee_layer_loads_no_store() -> None:
    # kingdee imports observability.metrics: that must not drag the store or the jobs in with it
    code = (
        "import sys, yecai.kingdee.client; "
        "bad = [m for m in sys.modules if m.startswith(('yecai.store', 'yecai.jobs', 'sqlalchemy'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Kingdee calls -----------------------------------------------------------------------------


class Site:
    """A running sandbox.kingdee whose faults the test sets, and clients under one connection label."""

    def __init__(self, data_dir: Path) -> None:
        self.server, self.credentials = start_sandbox(data_dir, faults=FaultSettings(seed=11))
        self.connection = f"mon-{uuid.uuid4().hex[:8]}"

    def client(self, **kwargs: Any) -> KingdeeClient:
        return KingdeeClient(
            str(self.credentials["server_url"]),
            identity_of(self.credentials),
            connection=self.connection,
            **kwargs,
        )

    def faults(self, **changes: Any) -> None:
        response = httpx.post(f"{self.server.base_url}/admin/faults", json=changes)
        assert response.status_code == 200, response.text

    def calls(self, operation: str) -> float:
        return sample(
            "yecai_kingdee_request_duration_seconds_count", connection=self.connection, operation=operation
        )

    def errors(self, operation: str, failure: str, msg_code: str = "") -> float:
        return sample(
            "yecai_kingdee_errors_total",
            connection=self.connection,
            operation=operation,
            msg_code=msg_code,
            failure=failure,
        )


@pytest.fixture
def metrics_site(tmp_path: Path) -> Iterator[Site]:
    running = Site(tmp_path / "kd")
    try:
        yield running
    finally:
        running.server.stop()


def test_latency_is_observed_per_operation(metrics_site: Site) -> None:
    with metrics_site.client() as client:
        client.execute_bill_query("BD_Account", ["FNumber"], "FNumber = '1001'")
        client.execute_bill_query("BD_Account", ["FNumber"], "FNumber = '1002'")
        client.save("GL_VOUCHER", balanced_voucher(10, date="2026-10-15"))
    assert metrics_site.calls("ExecuteBillQuery") == 2
    assert metrics_site.calls("Save") == 1
    assert (
        sample(
            "yecai_kingdee_request_duration_seconds_sum", connection=metrics_site.connection, operation="Save"
        )
        > 0
    )
    assert metrics_site.errors("Save", "business", "11") == 0


def test_throttling_counts_msg_code_14(metrics_site: Site) -> None:
    metrics_site.faults(throttle_rate=1.0)
    with metrics_site.client() as client, pytest.raises(KingdeeError):
        client.batch_save("GL_VOUCHER", [balanced_voucher(11, date="2026-10-15")])
    assert metrics_site.errors("BatchSave", "business", "14") == 1
    assert metrics_site.calls("BatchSave") == 1


def test_a_refused_package_counts_its_msg_code(metrics_site: Site) -> None:
    bad = balanced_voucher(12, date="2026-10-15")
    bad["FEntity"][0]["FACCOUNTID"] = {"FNumber": "5401"}  # not a detail account
    with metrics_site.client() as client:
        result = client.batch_save("GL_VOUCHER", [bad, balanced_voucher(13, date="2026-10-15")])
    assert not result.ok
    code = str(result.packages[0].msg_code)
    assert metrics_site.errors("BatchSave", "business", code) == 1


@pytest.mark.slow
def test_error_pages_count_every_attempt(metrics_site: Site) -> None:
    metrics_site.faults(fail_rate=1.0)
    with metrics_site.client() as client, pytest.raises(KingdeeError):
        client.execute_bill_query("BD_Account", ["FNumber"])
    assert metrics_site.errors("ExecuteBillQuery", "http_5xx") == 3  # the client's three attempts
    assert metrics_site.calls("ExecuteBillQuery") == 3


def test_a_lost_answer_counts_as_a_disconnect(metrics_site: Site) -> None:
    metrics_site.faults(drop_after_commit_rate=1.0)
    with metrics_site.client() as client, pytest.raises(KingdeeError):
        client.batch_save("GL_VOUCHER", [balanced_voucher(14, date="2026-10-15")])
    assert metrics_site.errors("BatchSave", "disconnect") == 1


@pytest.mark.slow
def test_a_hung_call_counts_as_a_timeout(metrics_site: Site) -> None:
    metrics_site.faults(timeout_rate=1.0, hang_seconds=1.0, hang_writes_only=True)
    with metrics_site.client(timeout=httpx.Timeout(0.3, connect=5.0)) as client, pytest.raises(KingdeeError):
        client.batch_save("GL_VOUCHER", [balanced_voucher(15, date="2026-10-15")])
    assert metrics_site.errors("BatchSave", "timeout") == 1
    assert (
        sample(
            "yecai_kingdee_request_duration_seconds_sum",
            connection=metrics_site.connection,
            operation="BatchSave",
        )
        >= 0.3
    )


def test_an_unreachable_server_counts_as_connect() -> None:
    connection = f"mon-{uuid.uuid4().hex[:8]}"
    identity = identity_of(
        {"acct_id": "a", "user_name": "u", "app_id": "i", "app_secret": "s", "lcid": 2052, "org_num": "0"}
    )
    with (
        KingdeeClient(
            "http://127.0.0.1:1/K3Cloud/", identity, connection=connection, read_attempts=1
        ) as client,
        pytest.raises(KingdeeError),
    ):
        client.execute_bill_query("BD_Account", ["FNumber"])
    assert (
        sample(
            "yecai_kingdee_errors_total",
            connection=connection,
            operation="ExecuteBillQuery",
            msg_code="",
            failure="connect",
        )
        == 1
    )


def test_kingdee_figures_are_in_the_exposition(metrics_site: Site, store: Store) -> None:
    metrics_site.faults(throttle_rate=1.0)
    with metrics_site.client() as client, pytest.raises(KingdeeError):
        client.save("GL_VOUCHER", balanced_voucher(16, date="2026-10-15"))
    samples = scrape(app_for(store))
    labels = {"connection": metrics_site.connection, "operation": "Save"}
    assert of(samples, "yecai_kingdee_errors_total", **labels, msg_code="14", failure="business") == 1
    assert of(samples, "yecai_kingdee_request_duration_seconds_count", **labels) == 1
    assert of(samples, "yecai_kingdee_request_duration_seconds_bucket", **labels, le="+Inf") == 1


def _posting(key: str, model: dict[str, Any], connection: str) -> Posting:
    return Posting(
        posting_key=key,
        connection=connection,
        rule_set="cost_actuals",
        form_id="GL_VOUCHER",
        group_key=key,
        business_date=dt.date(2026, 10, 15),
        debit_total=Decimal("20.00"),
        credit_total=Decimal("20.00"),
        payload=jsonutil.dumps(model),
    )


def test_postings_sent_are_counted_by_outcome(metrics_site: Site, store: Store) -> None:
    bad = balanced_voucher(21, date="2026-10-15")
    bad["FEntity"][0]["FACCOUNTID"] = {"FNumber": "5401"}  # not a detail account
    with store.transaction() as session:
        session.add(_posting("good", balanced_voucher(20, date="2026-10-15"), metrics_site.connection))
        session.add(_posting("bad", bad, metrics_site.connection))
    with metrics_site.client() as client:
        result = send_postings(store, client, kingdee_connection=metrics_site.connection, max_attempts=1)
    assert (result.sent, result.posted, result.failed) == (2, 1, 1)
    assert sample("yecai_postings_sent_total", connection=metrics_site.connection, outcome="posted") == 1
    assert sample("yecai_postings_sent_total", connection=metrics_site.connection, outcome="failed") == 1
    samples = scrape(app_for(store))
    assert of(samples, "yecai_postings", connection=metrics_site.connection, state="posted") == 1
    assert of(samples, "yecai_postings", connection=metrics_site.connection, state="failed") == 1
    assert of(samples, "yecai_postings_sent_total", connection=metrics_site.connection, outcome="posted") == 1


def test_throttled_batches_are_counted_as_refused(metrics_site: Site, store: Store) -> None:
    with store.transaction() as session:
        session.add(_posting("later", balanced_voucher(30, date="2026-10-15"), metrics_site.connection))
    metrics_site.faults(throttle_rate=1.0)
    with metrics_site.client() as client, pytest.raises(KingdeeError):
        send_postings(store, client, kingdee_connection=metrics_site.connection, max_refusals=1, backoff=0.01)
    assert sample("yecai_postings_sent_total", connection=metrics_site.connection, outcome="refused") == 2
    samples = scrape(app_for(store))
    assert of(samples, "yecai_postings", connection=metrics_site.connection, state="planned") == 1

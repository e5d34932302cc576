"""sandbox.pm ↔ yecai, over real HTTP, on SQLite and PostgreSQL: every stream, every way in.

All eleven streams (期初余额 included) pulled through the YAML connector (page, offset and cursor paging); the
simulated clock advancing so that edits and deletions arrive incrementally as new versions and
tombstones; deliberately bad rows rejected with reasons while the rest proceed; and sandbox.pm's
signed webhooks delivered to yecai's receiver, duplicates included, each stored exactly once —
with the same content a pull sees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from yecai import jsonutil
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox
from yecai.sandbox.pm.webhooks import WebhookSettings
from yecai.sandbox.serving import ServerThread
from yecai.store.db import Store
from yecai.store.tables import Document, Record
from yecai.store.webhook_tables import WebhookEvent
from yecai.sync.intake import pull, validate_staged
from yecai.web.app import create_app

pytestmark = pytest.mark.slow

STREAMS = (
    "projects",
    "cost_records",
    "contracts",
    "progress_reports",
    "boq_items",
    "budget_lines",
    "payment_requests",
    "workers",
    "invoices",
    "attendance",
    "opening_balances",
)


def sync_all(store: Store, base_url: str) -> dict[str, tuple[int, int, int]]:
    connector = PmSandboxConnector(base_url, DEFAULT_TOKEN)
    out = {}
    for stream in STREAMS:
        pulled = pull(store, connector, stream, connection="pm")
        checked = validate_staged(store, connector, stream, connection="pm")
        out[stream] = (pulled.new, checked.valid, checked.invalid)
    return out


def test_every_stream_pulls_and_validates(store: Store) -> None:
    server, dataset = start_sandbox(projects=2, months=1, seed=3)
    with server:
        result = sync_all(store, server.base_url)
    assert all(invalid == 0 for _, _, invalid in result.values()), result
    expected = {
        "projects": len(dataset.projects),
        "cost_records": len(dataset.all_cost_records),
        "contracts": len(dataset.contracts),
        "boq_items": len(dataset.boq_items),
        "budget_lines": len(dataset.budget_lines),
        "invoices": len(dataset.invoices),
        "workers": len(dataset.workers),
        "attendance": len(dataset.attendance),
        "opening_balances": len(dataset.opening_balances),
    }
    for stream, count in expected.items():
        assert result[stream][1] == count, stream


def test_edits_and_deletions_arrive_incrementally(store: Store) -> None:
    probe_server, dataset = start_sandbox(projects=2, months=1, seed=3)
    probe_server.stop()
    start = dataset.timeline_start + dt.timedelta(days=8)
    server, _ = start_sandbox(projects=2, months=1, seed=3, now=start)
    with server:
        first = sync_all(store, server.base_url)
        server.runtime.clock.set(dataset.timeline_end)
        second = sync_all(store, server.base_url)
    assert first["cost_records"][0] > 0
    assert second["cost_records"][0] > 0  # later costs, corrections and tombstones
    with store.transaction() as session:
        deleted = set(session.scalars(select(Document.source_key).where(Document.deleted.is_(True))))
        live = {
            key: amount
            for key, amount, is_deleted in session.execute(
                select(Document.source_key, Document.amount, Document.deleted)
                .where(Document.kind == "cost_record")
                .order_by(Document.id)
            )
            if not is_deleted
        }
    final = {r.record_id: r.amount for r in dataset.all_cost_records}
    # the newest live version of every record equals the source's final state …
    latest = {key: amount for key, amount in live.items() if key not in deleted}
    assert latest == final
    # … and what the source deleted is known as deleted, not silently missing
    assert deleted
    assert not deleted & set(final)


def test_bad_rows_are_rejected_with_reasons_and_the_rest_proceed(store: Store) -> None:
    server, dataset = start_sandbox(projects=3, months=1, seed=9, bad_rate=0.05)
    with server:
        result = sync_all(store, server.base_url)
    rejected = {stream: invalid for stream, (_, _, invalid) in result.items() if invalid}
    assert set(rejected) >= {"cost_records", "workers", "attendance", "invoices"}
    with store.transaction() as session:
        issues = session.scalars(select(Record.issues).where(Record.status == "invalid")).all()
        deleted = set(session.scalars(select(Document.source_key).where(Document.deleted.is_(True))))
    # every defect of a record that still exists is caught (a bad draft later deleted is just gone)
    assert sum(rejected.values()) == len([d for d in dataset.defects if d.key not in deleted])
    assert all(problem and problem[0]["zh"] and problem[0]["en"] for problem in issues)


@pytest.fixture
def yecai_web(store: Store) -> Iterator[str]:
    connector = PmSandboxConnector("http://unused", DEFAULT_TOKEN)
    with ServerThread(create_app(store, {"pm": connector})) as web:
        yield web.base_url


def test_signed_webhooks_are_stored_once_even_when_delivered_twice(store: Store, yecai_web: str) -> None:
    probe, dataset = start_sandbox(projects=2, months=1, seed=3)
    probe.stop()
    start = dataset.timeline_start + dt.timedelta(days=5)
    server, _ = start_sandbox(
        projects=2,
        months=1,
        seed=3,
        now=start,
        webhooks=[(f"{yecai_web}/webhooks/pm", "yecai-pm-webhook")],
        webhook_settings=WebhookSettings(duplicate_rate=0.3, backoff_seconds=0.05),
    )
    with server:
        server.runtime.clock.advance(dt.timedelta(days=2))
        assert server.runtime.webhooks.wait_idle(60)
        log = server.runtime.webhooks.log()
        with store.transaction() as session:
            pushed = session.execute(
                select(Record.source_key, Record.content_hash)
                .join(WebhookEvent, WebhookEvent.record_id == Record.id)
                .where(Record.stream == "cost_records")
                .order_by(Record.id.desc())
                .limit(20)
            ).all()
        items = {
            key: httpx.get(
                f"{server.base_url}/api/v1/cost-records/{key}",
                headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
            )
            for key, _ in pushed
        }
    delivered = {entry["event_id"] for entry in log if entry["status"] == "delivered"}
    assert delivered
    assert any(entry["duplicate"] for entry in log)  # duplicates were sent …
    with store.transaction() as session:
        events = session.scalar(select(func.count()).select_from(WebhookEvent))
        records = session.scalar(select(func.count()).select_from(Record))
        latest = {
            key: digest
            for key, digest in session.execute(
                select(Record.source_key, Record.content_hash).order_by(Record.id)
            )
        }
    assert events == len(delivered)  # … and each event stored once
    assert records <= events
    # what was pushed is exactly what a pull sees now: same content, same hash
    assert pushed
    for key, response in items.items():
        assert response.status_code == 200, key
        assert jsonutil.content_hash(jsonutil.loads(response.content)["data"]) == latest[key]

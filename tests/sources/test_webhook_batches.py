"""The webhook writer on SQLite and PostgreSQL: events of concurrent requests share one commit.

Every request is answered only once its batch has committed; a redelivery inside a batch or of
a stored event is stored once; a bad event beside good ones fails alone; on SQLite the commit
that a 2xx rests on runs with synchronous=FULL.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError

from tests.sources.test_webhooks import SPEC, count, headers
from tests.sources.test_webhooks import event as event_body
from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import parse_spec
from yecai.sandbox.serving import ServerThread
from yecai.sources.webhooks import WebhookReceipt
from yecai.store.db import Store, open_store
from yecai.store.tables import Record
from yecai.store.webhook_tables import WebhookEvent
from yecai.sync.webhook_writer import WebhookWriter
from yecai.sync.webhooks import Delivery, inspect, store_deliveries
from yecai.web.app import create_app


@pytest.fixture
def connector() -> GenericRestConnector:
    return GenericRestConnector(parse_spec(SPEC, secrets={"HOOK_SECRET": "hush"}), connection="pm")


def delivery(connector: GenericRestConnector, event_id: str, record: str, amount: str = "100.00") -> Delivery:
    body = event_body(event_id, amount=amount, record=record)
    checked = inspect(connector, headers=headers(connector, body), body=body)
    assert isinstance(checked, Delivery)
    return checked


def stored_event(store: Store, event_id: str) -> tuple[str, int | None] | None:
    with store.transaction() as session:
        row = session.execute(
            select(WebhookEvent.outcome, WebhookEvent.record_id).where(WebhookEvent.event_id == event_id)
        ).first()
    return None if row is None else (row.outcome, row.record_id)


def test_concurrent_events_share_one_commit_and_each_is_answered_after_it(
    store: Store, connector: GenericRestConnector
) -> None:
    deliveries = [delivery(connector, f"E{n}", f"CB-{n}") for n in range(30)]
    writer = WebhookWriter(store, max_events=30, max_wait_seconds=5.0)
    seen_at_answer: dict[str, tuple[str, int | None] | None] = {}

    async def send(one: Delivery) -> WebhookReceipt:
        receipt = await writer.store(one)
        # read from another connection the moment the answer arrives: the commit came first
        seen_at_answer[one.event_id] = stored_event(store, one.event_id)
        return receipt

    async def main() -> list[WebhookReceipt]:
        return await asyncio.gather(*(send(one) for one in deliveries))

    try:
        receipts = asyncio.run(main())
    finally:
        writer.close()
    assert [(r.status, r.outcome) for r in receipts] == [(200, "stored")] * 30
    assert (writer.batches, writer.events) == (1, 30)  # a full batch closes at once, in one transaction
    assert all(seen is not None and seen[0] == "stored" and seen[1] for seen in seen_at_answer.values())
    assert (count(store, Record), count(store, WebhookEvent)) == (30, 30)


def test_a_batch_waits_no_longer_than_its_window_when_not_full(
    store: Store, connector: GenericRestConnector
) -> None:
    writer = WebhookWriter(store, max_events=200, max_wait_seconds=0.005)

    async def main() -> list[WebhookReceipt]:
        first = await writer.store(delivery(connector, "A1", "CB-A"))
        second = await writer.store(delivery(connector, "A2", "CB-B"))
        return [first, second]

    try:
        receipts = asyncio.run(main())
    finally:
        writer.close()
    assert [r.outcome for r in receipts] == ["stored", "stored"]
    assert writer.batches == 2  # one event each: nobody else came within the window


def test_a_redelivery_in_the_batch_or_of_a_stored_event_is_stored_once(
    store: Store, connector: GenericRestConnector
) -> None:
    (earlier,) = store_deliveries(store, [delivery(connector, "E0", "CB-0")])
    assert isinstance(earlier, WebhookReceipt)
    assert earlier.outcome == "stored"
    batch = [
        delivery(connector, "E1", "CB-1"),
        delivery(connector, "E1", "CB-1"),  # the sender retried while the first was in flight
        delivery(connector, "E0", "CB-0"),  # stored by an earlier batch
        delivery(connector, "E2", "CB-1", amount="120.00"),  # the same record changed, later in the batch
        delivery(connector, "E3", "CB-1", amount="120.00"),  # and the same content again: unchanged
    ]
    answers = store_deliveries(store, batch)
    assert [(a.status, a.outcome) for a in answers if isinstance(a, WebhookReceipt)] == [
        (200, "stored"),
        (200, "duplicate"),
        (200, "duplicate"),
        (200, "stored"),
        (200, "unchanged"),
    ]
    assert (count(store, Record), count(store, WebhookEvent)) == (3, 4)
    outcome, record = stored_event(store, "E3") or ("", None)
    assert (outcome, record) == ("unchanged", None)
    with store.transaction() as session:
        revisions = session.scalars(
            select(Record.revision).where(Record.source_key == "CB-1").order_by(Record.revision)
        ).all()
    assert revisions == [1, 2]


def test_a_bad_event_fails_alone_and_the_good_ones_beside_it_are_stored(
    store: Store, connector: GenericRestConnector
) -> None:
    good = [delivery(connector, f"G{n}", f"CB-{n}") for n in range(3)]
    broken = Delivery(
        "pm", "BAD", "cost_record.created", "0" * 64, good[0].stream, {"record_id": "X", "a": {1}}
    )
    answers = store_deliveries(store, [good[0], broken, good[1], good[2]])
    assert isinstance(answers[1], TypeError)  # what storing it alone raises (a 500 to its sender)
    assert [a.outcome for a in answers if isinstance(a, WebhookReceipt)] == ["stored"] * 3
    assert (count(store, Record), count(store, WebhookEvent)) == (3, 3)
    assert stored_event(store, "BAD") is None  # nothing of it: the sender's retry can still store it

    # a value the database itself refuses (PostgreSQL: an event type longer than its column)
    writer = WebhookWriter(store, max_events=3, max_wait_seconds=5.0)
    long_type = Delivery("pm", "LONG", "x" * 300, "0" * 64)
    ok = [delivery(connector, "G8", "CB-8"), delivery(connector, "G9", "CB-9")]

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(writer.store(one) for one in [ok[0], long_type, ok[1]]), return_exceptions=True
        )

    try:
        results = asyncio.run(main())
    finally:
        writer.close()
    assert [r.outcome for r in (results[0], results[2])] == ["stored", "stored"]
    if store.engine.dialect.name == "postgresql":
        assert isinstance(results[1], DBAPIError)
    else:  # SQLite keeps a long string: logged like any unused event type
        assert isinstance(results[1], WebhookReceipt)
        assert results[1].outcome == "ignored"


def test_over_http_concurrent_deliveries_are_answered_after_their_commit(
    store: Store, connector: GenericRestConnector
) -> None:
    app = create_app(store, {"pm": connector})
    bodies = [event_body(f"H{n}", record=f"CB-H{n}") for n in range(40)]
    bodies.append(bodies[0])  # one redelivery among them
    seen: list[tuple[int, str, bool]] = []
    lock = threading.Lock()

    with ServerThread(app) as server:

        def post(body: bytes) -> None:
            response = httpx.post(
                f"{server.base_url}/webhooks/pm", content=body, headers=headers(connector, body)
            )
            answer = response.json()
            found = stored_event(store, answer["event_id"]) is not None
            with lock:
                seen.append((response.status_code, answer["outcome"], found))

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(post, bodies))
    assert all(status == 200 and found for status, _outcome, found in seen)
    outcomes = sorted(outcome for _status, outcome, _found in seen)
    assert outcomes == ["duplicate"] + ["stored"] * 40
    assert (count(store, Record), count(store, WebhookEvent)) == (40, 40)
    writer: WebhookWriter = app.state.webhook_writer
    assert writer.events == 41


def test_on_sqlite_the_webhook_commit_is_synced_and_other_commits_are_not(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    connector = GenericRestConnector(parse_spec(SPEC, secrets={"HOOK_SECRET": "hush"}), connection="pm")
    modes: list[int] = []  # synchronous at each commit of a transaction that wrote webhook_events

    @event.listens_for(store.engine, "before_cursor_execute")
    def writing(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "webhook_events" in statement and not statement.lstrip().upper().startswith("SELECT"):
            connection.info["wrote_events"] = True

    @event.listens_for(store.engine, "commit")
    def at_commit(connection: Any) -> None:
        if connection.info.pop("wrote_events", False):
            cursor = connection.connection.dbapi_connection.cursor()
            modes.append(cursor.execute("PRAGMA synchronous").fetchone()[0])
            cursor.close()

    try:
        (answer,) = store_deliveries(store, [delivery(connector, "E1", "CB-1")])
        assert isinstance(answer, WebhookReceipt)
        assert answer.outcome == "stored"
        assert modes == [2]  # FULL: the WAL is synced before the 2xx
        with store.transaction() as session:
            session.scalar(select(func.count()).select_from(Record))
            session.add(
                WebhookEvent(connection="pm", event_id="X", event_type="t", outcome="ignored", body_hash="0")
            )
        assert modes == [2, 1]  # the store's every-day commits stay NORMAL (the setting was put back)
    finally:
        store.close()


def test_two_writers_racing_on_the_same_events_store_each_once(
    store: Store, connector: GenericRestConnector
) -> None:
    # what two web processes do when a sender delivers the same events to both at once
    batch = [delivery(connector, f"R{n}", f"CB-R{n}") for n in range(50)]
    answers: list[list[WebhookReceipt | Exception]] = []
    lock = threading.Lock()

    def write(deliveries: list[Delivery]) -> None:
        found = store_deliveries(store, deliveries)
        with lock:
            answers.append(found)

    threads = [threading.Thread(target=write, args=(order,)) for order in (batch, batch[::-1], batch[::2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = [a.outcome for found in answers for a in found if isinstance(a, WebhookReceipt)]
    assert len(outcomes) == 50 + 50 + 25  # every delivery answered, none failed
    assert outcomes.count("stored") == 50  # each event stored by exactly one writer
    assert set(outcomes) == {"stored", "duplicate"}
    assert (count(store, Record), count(store, WebhookEvent)) == (50, 50)

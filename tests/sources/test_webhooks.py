"""Webhook receiver on SQLite and PostgreSQL: verified, de-duplicated, stored before the 2xx."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import parse_spec
from yecai.errors import ConfigurationError
from yecai.sandbox.serving import ServerThread
from yecai.settings import Settings
from yecai.sources.webhooks import sign
from yecai.store.db import Store
from yecai.store.tables import Document, Record
from yecai.store.webhook_tables import WebhookEvent
from yecai.sync.intake import validate_staged
from yecai.sync.webhooks import receive
from yecai.web.app import create_app

SPEC: dict[str, Any] = {
    "name": "pm",
    "base_url": "http://pm.test",
    "streams": {
        "cost_records": {
            "path": "/costs",
            "document": "cost_record",
            "primary_key": "record_id",
            "deleted_field": "deleted",
            "fields": {
                "source_key": "record_id",
                "project_code": "project_code",
                "category": "category",
                "business_date": "business_date",
                "amount": "amount",
            },
        }
    },
    "webhooks": {
        "secret": "${HOOK_SECRET}",
        "signature_header": "X-PM-Signature",
        "timestamp_header": "X-PM-Timestamp",
        "events": {
            "cost_record.created": {"stream": "cost_records"},
            "cost_record.updated": {"stream": "cost_records"},
            "cost_record.deleted": {"stream": "cost_records", "deleted": True},
        },
    },
}


@pytest.fixture
def connector() -> GenericRestConnector:
    return GenericRestConnector(parse_spec(SPEC, secrets={"HOOK_SECRET": "hush"}), connection="pm")


def event(
    event_id: str, kind: str = "cost_record.created", amount: str = "100.00", record: str = "CB-1"
) -> bytes:
    data = {
        "record_id": record,
        "project_code": "XM1",
        "category": "labour",
        "business_date": "2026-10-05",
        "amount": amount,
    }
    return json.dumps(
        {"event_id": event_id, "event_type": kind, "occurred_at": "2026-10-05T10:00:00+08:00", "data": data}
    ).encode()


def headers(connector: GenericRestConnector, body: bytes, stamp: float | None = None) -> dict[str, str]:
    assert connector.spec.webhooks is not None
    timestamp = str(int(stamp if stamp is not None else time.time()))
    return {"X-PM-Timestamp": timestamp, "X-PM-Signature": sign(connector.spec.webhooks, timestamp, body)}


def count(store: Store, model: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_event_is_stored_once_and_replays_are_harmless(
    store: Store, connector: GenericRestConnector
) -> None:
    body = event("E1")
    first = receive(store, connector, headers=headers(connector, body), body=body)
    assert (first.status, first.outcome) == (200, "stored")
    again = receive(store, connector, headers=headers(connector, body), body=body)
    assert (again.status, again.outcome) == (200, "duplicate")
    assert count(store, Record) == 1
    same_content = event("E2")
    third = receive(store, connector, headers=headers(connector, same_content), body=same_content)
    assert third.outcome == "unchanged"  # a new event id, but the record content is already staged
    assert (count(store, Record), count(store, WebhookEvent)) == (1, 2)


def test_forged_and_stale_deliveries_are_refused_and_not_stored(
    store: Store, connector: GenericRestConnector
) -> None:
    body = event("E1")
    forged = {**headers(connector, body), "X-PM-Signature": "sha256=" + "0" * 64}
    assert receive(store, connector, headers=forged, body=body).status == 401
    stale = headers(connector, body, stamp=time.time() - 3600)
    refused = receive(store, connector, headers=stale, body=body)
    assert refused.status == 401
    assert "重放" in refused.zh
    tampered = headers(connector, body)
    assert receive(store, connector, headers=tampered, body=event("E1", amount="999.00")).status == 401
    assert count(store, Record) == count(store, WebhookEvent) == 0


def test_updates_and_deletions_flow_into_documents(store: Store, connector: GenericRestConnector) -> None:
    for event_id, kind, amount in [
        ("E1", "cost_record.created", "100.00"),
        ("E2", "cost_record.updated", "120.00"),
        ("E3", "cost_record.deleted", "120.00"),
    ]:
        body = event(event_id, kind, amount)
        assert receive(store, connector, headers=headers(connector, body), body=body).outcome == "stored"
    result = validate_staged(store, connector, "cost_records", connection="pm")
    assert (result.valid, result.deleted) == (2, 1)
    with store.transaction() as session:
        versions = session.execute(select(Document.amount, Document.deleted).order_by(Document.id)).all()
    assert [tuple(v) for v in versions] == [(100, False), (120, False), (None, True)]


def test_unknown_event_types_are_logged_not_stored(store: Store, connector: GenericRestConnector) -> None:
    body = event("E9", kind="project.archived")
    receipt = receive(store, connector, headers=headers(connector, body), body=body)
    assert (receipt.status, receipt.outcome) == (200, "ignored")
    assert (count(store, Record), count(store, WebhookEvent)) == (0, 1)


def test_concurrent_redeliveries_store_once(store: Store, connector: GenericRestConnector) -> None:
    body = event("E1")
    outcomes: list[str] = []

    def deliver() -> None:
        outcomes.append(receive(store, connector, headers=headers(connector, body), body=body).outcome)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("stored") == 1
    assert set(outcomes) <= {"stored", "duplicate"}
    assert (count(store, Record), count(store, WebhookEvent)) == (1, 1)


@pytest.mark.slow
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_signed_body_gets_an_answer_never_a_crash(
    store: Store, connector: GenericRestConnector, body: bytes
) -> None:
    receipt = receive(store, connector, headers=headers(connector, body), body=body)
    assert receipt.status in (200, 400)


def test_over_http_the_answer_comes_after_the_commit(store: Store, connector: GenericRestConnector) -> None:
    with ServerThread(create_app(store, {"pm": connector})) as server:
        body = event("E1")
        response = httpx.post(
            f"{server.base_url}/webhooks/pm", content=body, headers=headers(connector, body)
        )
        assert response.status_code == 200
        assert count(store, Record) == 1  # stored by the time the sender hears 200
        assert response.json()["outcome"] == "stored"
        assert httpx.post(f"{server.base_url}/webhooks/nope", content=body).status_code == 404
        assert (
            httpx.post(
                f"{server.base_url}/webhooks/pm", content=body, headers={"X-PM-Timestamp": "1"}
            ).status_code
            == 401
        )
        assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}


def test_webhook_spec_must_point_at_streams() -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["webhooks"]["events"]["x"] = {"stream": "nope"}
    with pytest.raises(ConfigurationError, match="not a stream"):
        parse_spec(bad, secrets={"HOOK_SECRET": "s"})
    no_tombstone = json.loads(json.dumps(SPEC))
    del no_tombstone["streams"]["cost_records"]["deleted_field"]
    with pytest.raises(ConfigurationError, match="deleted_field"):
        parse_spec(no_tombstone, secrets={"HOOK_SECRET": "s"})


# Hostile input (issue 12): every refusal is a clear 4xx, never a 500.


def test_a_non_ascii_signature_is_refused_not_a_crash(store: Store, connector: GenericRestConnector) -> None:
    body = event("E1")
    for value in ("sha256=签名", "sha256=\u00e9" * 10, "\ud800"):
        receipt = receive(
            store, connector, headers={**headers(connector, body), "X-PM-Signature": value}, body=body
        )
        assert (receipt.status, receipt.outcome) == (401, "refused")
        assert "签名校验失败" in receipt.zh
    assert count(store, WebhookEvent) == 0


@pytest.mark.parametrize(
    "stamp", ["nan", "NaN", "inf", "-inf", "1e9", "1700000000.5", " 1700000000", "١٧٠٠٠٠٠٠٠٠", "", "0x10"]
)
def test_only_a_finite_integer_timestamp_is_accepted(
    store: Store, connector: GenericRestConnector, stamp: str
) -> None:
    # Signed correctly, so only the timestamp can refuse it: "nan" used to pass the ±300 s window.
    assert connector.spec.webhooks is not None
    body = event("E1")
    signed = {"X-PM-Timestamp": stamp, "X-PM-Signature": sign(connector.spec.webhooks, stamp, body)}
    receipt = receive(store, connector, headers=signed, body=body)
    assert (receipt.status, receipt.outcome) == (401, "refused")
    assert "时间戳" in receipt.zh
    assert "timestamp" in receipt.en
    assert count(store, WebhookEvent) == 0


def test_milliseconds_timestamps_still_pass(store: Store, connector: GenericRestConnector) -> None:
    assert connector.spec.webhooks is not None
    body = event("E1")
    stamp = str(int(time.time() * 1000))
    signed = {"X-PM-Timestamp": stamp, "X-PM-Signature": sign(connector.spec.webhooks, stamp, body)}
    assert receive(store, connector, headers=signed, body=body).outcome == "stored"


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_deeply_nested_signed_body_is_refused_with_a_400(
    store: Store, connector: GenericRestConnector, opener: str
) -> None:
    body = (opener * 100_000).encode()
    receipt = receive(store, connector, headers=headers(connector, body), body=body)
    assert (receipt.status, receipt.outcome) == (400, "invalid")
    assert "嵌套" in receipt.zh
    assert "nest" in receipt.en
    assert count(store, WebhookEvent) == 0


def test_nesting_within_the_limit_is_still_stored(store: Store, connector: GenericRestConnector) -> None:
    payload = json.loads(event("E1"))
    payload["extra"] = json.loads("[" * 30 + "]" * 30)
    payload["note"] = "[[[[{{{{ brackets inside a string do not count"
    body = json.dumps(payload).encode()
    assert receive(store, connector, headers=headers(connector, body), body=body).outcome == "stored"
    deep = json.dumps({**payload, "event_id": "E2", "extra": json.loads("[" * 80 + "]" * 80)}).encode()
    assert receive(store, connector, headers=headers(connector, deep), body=deep).status == 400  # default 64
    assert (
        receive(store, connector, headers=headers(connector, deep), body=deep, max_depth=100).outcome
        == "unchanged"
    )


@pytest.mark.parametrize("where", ["event_id", "event_type", "data.category", "key"])
def test_a_lone_surrogate_is_refused_with_a_400(
    store: Store, connector: GenericRestConnector, where: str
) -> None:
    payload = json.loads(event("E1"))
    if where == "key":
        payload["data"]["\ud800"] = 1
    elif where == "data.category":
        payload["data"]["category"] = "x\udfff"
    else:
        payload[where] = "\ud800"
    body = json.dumps(payload).encode()  # ensure_ascii: the surrogate travels as the escape \ud800
    assert b"\\ud" in body
    receipt = receive(store, connector, headers=headers(connector, body), body=body)
    assert (receipt.status, receipt.outcome) == (400, "invalid")
    assert "代理" in receipt.zh
    assert "surrogate" in receipt.en
    assert count(store, WebhookEvent) == count(store, Record) == 0
    paired = json.dumps({**json.loads(event("E2")), "note": "\U0001f600"}).encode()  # \ud83d\ude00: a pair
    assert receive(store, connector, headers=headers(connector, paired), body=paired).outcome == "stored"


def test_over_http_a_body_over_the_limit_gets_413(store: Store, connector: GenericRestConnector) -> None:
    app = create_app(store, {"pm": connector}, settings=Settings(webhook_max_body_bytes=2_000))
    with ServerThread(app) as server:
        small = event("E1")
        ok = httpx.post(f"{server.base_url}/webhooks/pm", content=small, headers=headers(connector, small))
        assert ok.status_code == 200
        big = json.dumps({**json.loads(event("E2")), "pad": "x" * 5_000}).encode()
        response = httpx.post(f"{server.base_url}/webhooks/pm", content=big, headers=headers(connector, big))
        assert response.status_code == 413
        assert "过大" in response.json()["message"]
        assert "too large" in response.json()["message"]

        def chunks() -> Any:  # no Content-Length: the limit holds while reading, too
            for _ in range(10):
                yield b"x" * 1_000

        streamed = httpx.post(
            f"{server.base_url}/webhooks/pm", content=chunks(), headers=headers(connector, b"")
        )
        assert streamed.status_code == 413
        non_ascii = httpx.post(
            f"{server.base_url}/webhooks/pm",
            content=small,
            headers=[(b"X-PM-Timestamp", b"1"), (b"X-PM-Signature", "签名".encode())],
        )
        assert non_ascii.status_code == 401
    assert count(store, Record) == 1


# ---- a value that changes back (issue 12): new means "differs from the latest version" ----


def deliver(store: Store, connector: GenericRestConnector, body: bytes) -> str:
    return receive(store, connector, headers=headers(connector, body), body=body).outcome


def latest_document(store: Store, key: str) -> tuple[Any, bool]:
    with store.transaction() as session:
        row = session.execute(
            select(Document.amount, Document.deleted)
            .where(Document.source_key == key)
            .order_by(Document.id.desc())
            .limit(1)
        ).one()
    return row.amount, row.deleted


def test_a_value_that_changes_back_is_stored(store: Store, connector: GenericRestConnector) -> None:
    outcomes = [
        deliver(store, connector, event("E1", "cost_record.created", "100.00")),
        deliver(store, connector, event("E2", "cost_record.updated", "200.00")),
        deliver(store, connector, event("E3", "cost_record.updated", "100.00")),
    ]
    assert outcomes == ["stored", "stored", "stored"]
    validate_staged(store, connector, "cost_records", connection="pm")
    assert latest_document(store, "CB-1") == (Decimal("100.00"), False)


def test_a_deleted_record_recreated_identically_is_undeleted(
    store: Store, connector: GenericRestConnector
) -> None:
    outcomes = [
        deliver(store, connector, event("E1", "cost_record.created", "100.00")),
        deliver(store, connector, event("E2", "cost_record.deleted", "100.00")),
        deliver(store, connector, event("E3", "cost_record.created", "100.00")),
    ]
    assert outcomes == ["stored", "stored", "stored"]
    validate_staged(store, connector, "cost_records", connection="pm")
    assert latest_document(store, "CB-1") == (Decimal("100.00"), False)


def test_concurrent_changes_of_one_key_never_store_one_version_twice(
    store: Store, connector: GenericRestConnector
) -> None:
    assert deliver(store, connector, event("E0", amount="100.00")) == "stored"
    outcomes: list[str] = []

    def send(n: int) -> None:
        body = event(f"E{n}", "cost_record.updated", "200.00")
        outcomes.append(deliver(store, connector, body))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # each event is its own delivery: one stores the change, the others find it the latest already
    assert sorted(outcomes) == ["stored"] + ["unchanged"] * 5
    assert (count(store, Record), count(store, WebhookEvent)) == (2, 7)


KEYS = iter(range(1_000_000))

# one delivery: an amount (created / updated) or a deletion carrying the last data
deliveries = st.lists(
    st.one_of(st.sampled_from(["100.00", "200.00", "300.00"]), st.just("deleted")), min_size=1, max_size=8
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries)
def test_every_delivery_is_new_exactly_when_it_differs_from_the_latest(
    store: Store, connector: GenericRestConnector, sequence: list[str]
) -> None:
    key = f"CB-P{next(KEYS)}"
    latest: tuple[str, bool] | None = None  # (amount, deleted) of the last delivery
    amount = "100.00"
    for n, step in enumerate(sequence):
        deleted = step == "deleted"
        amount = amount if deleted else step
        kind = "cost_record.deleted" if deleted else "cost_record.updated"
        outcome = deliver(store, connector, event(f"{key}-{n}", kind, amount, record=key))
        expected = "unchanged" if latest == (amount, deleted) else "stored"
        assert outcome == expected, (sequence, n)
        latest = (amount, deleted)
        with store.transaction() as session:
            payload = session.scalars(
                select(Record.payload).where(Record.source_key == key).order_by(Record.id.desc()).limit(1)
            ).one()
        stored = json.loads(payload)
        assert (stored["amount"], bool(stored.get("deleted"))) == latest
    validate_staged(store, connector, "cost_records", connection="pm")
    doc_amount, doc_deleted = latest_document(store, key)
    assert doc_deleted == latest[1]
    if not doc_deleted:
        assert doc_amount == Decimal(latest[0])


def test_a_lookalike_code_or_impossible_date_by_webhook_is_invalid_like_from_a_file(
    store: Store, connector: GenericRestConnector
) -> None:
    # the domain rule holds for every way in: the webhook's record is stored, then refused by intake
    hostile = [("E1", "XM1\u200b", "2026-10-05"), ("E2", "XM1", "9999-12-31"), ("E3", "ＸＭ１", "2026-10-05")]
    for n, (event_id, project, day) in enumerate(hostile):
        data = {"record_id": f"CB-{n}", "project_code": project, "category": "labour", "business_date": day}
        body = json.dumps(
            {"event_id": event_id, "event_type": "cost_record.created", "data": {**data, "amount": "1.00"}}
        ).encode()
        assert receive(store, connector, headers=headers(connector, body), body=body).outcome == "stored"
    result = validate_staged(store, connector, "cost_records", connection="pm")
    assert (result.valid, result.invalid) == (1, 2)
    with store.transaction() as session:
        issues = dict(session.execute(select(Record.source_key, Record.issues)).all())
        kept = session.scalars(select(Document.project_code)).all()
    assert "U+200B" in issues["CB-0"][0]["en"]
    assert issues["CB-1"][0]["field"] == "business_date"
    assert kept == ["XM1"]

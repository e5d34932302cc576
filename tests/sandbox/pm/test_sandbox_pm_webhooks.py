"""sandbox.pm webhooks: signed POSTs to a local receiver, retried, sometimes sent twice, logged.

The receiver is a small HTTP server in this test. It verifies X-PM-Signature the documented way
(hex HMAC-SHA256 of timestamp + "." + raw body, with the subscriber's secret), can refuse the
first attempts of every event, and de-duplicates by event id as a real receiver must.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from yecai.jsonutil import dumps
from yecai.sandbox.pm import DEFAULT_TOKEN, WebhookSettings, start_sandbox
from yecai.sandbox.pm.server import SandboxServer

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
START = datetime(2026, 10, 5, tzinfo=timezone(timedelta(hours=8)))
SECRET = "whsec-test"
FAST = WebhookSettings(backoff_seconds=0.01, backoff_cap_seconds=0.05)


@dataclass
class Receiver:
    """Records every POST; refuses the first `fail_first` attempts of each event with a 500."""

    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            event_id = headers.get("X-PM-Event-Id", "")
            self.attempts[event_id] += 1
            status = 500 if self.attempts[event_id] <= self.fail_first else 204
            self.calls.append((headers, body, status))
            return status

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for headers, body, status in self.calls if status < 300]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_port}/hooks/pm"
    finally:
        httpd.shutdown()
        httpd.server_close()


def signature_ok(headers: dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    expected = hmac.new(secret.encode(), headers["X-PM-Timestamp"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-PM-Signature"], "sha256=" + expected.hexdigest())


def subscribe(server: SandboxServer, url: str, types: list[str]) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/admin/webhooks",
        json={"url": url, "secret": SECRET, "event_types": types},
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def advance(server: SandboxServer, **move: float) -> dict[str, Any]:
    response = httpx.post(f"{server.base_url}/admin/clock", json=move, headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    assert server.runtime.webhooks.wait_idle(30)
    return response.json()["data"]


def expected_events(
    server: SandboxServer, after: datetime, until: datetime, prefixes: tuple[str, ...]
) -> dict[str, Any]:
    return {
        e.event_id: e
        for e in server.runtime.events_between(after, until)
        if e.event_type.startswith(prefixes)
    }


def test_events_arrive_signed_and_describe_the_change(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    server, _ = start_sandbox(projects=2, seed=6, now=START, webhook_settings=FAST)
    with server:
        subscription = subscribe(server, url, ["cost_record.*", "payment_request.*", "invoice.*"])
        assert subscription["secret_hint"] == "…test"
        moved = advance(server, advance_days=45)
        expected = expected_events(
            server,
            START,
            datetime.fromisoformat(moved["now"]),
            ("cost_record.", "payment_request.", "invoice."),
        )
    delivered = state.delivered()
    assert len(delivered) == len(expected) > 0
    kinds = Counter()
    for headers, body in delivered:
        assert signature_ok(headers, body)
        assert not signature_ok(headers, body, "another-secret")
        assert headers["Content-Type"].startswith("application/json")
        event = json.loads(body, parse_float=Decimal)
        assert set(event) == {"event_id", "event_type", "occurred_at", "entity", "data"}
        assert event["event_id"] == headers["X-PM-Event-Id"]
        assert event["event_type"] == headers["X-PM-Event-Type"]
        assert headers["X-PM-Attempt"] == "1"
        original = expected[event["event_id"]]
        assert event["event_type"] == original.event_type
        assert event["occurred_at"] == original.occurred_at.isoformat()
        record = original.version.record
        assert event["data"] == json.loads(
            dumps(record.as_item() if original.kind == "deleted" else record), parse_float=Decimal
        )
        kinds[event["event_type"].split(".")[1]] += 1
    assert kinds["created"] > 0
    assert kinds["updated"] > 0  # payment requests approved and paid, invoices certified …
    assert kinds["deleted"] > 0  # cost lines keyed in error, discarded drafts


def test_failed_deliveries_are_retried_with_backoff(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    state.fail_first = 2
    server, _ = start_sandbox(projects=1, seed=6, now=START, webhook_settings=FAST)
    with server:
        subscribe(server, url, ["invoice.*", "payment_request.*"])
        advance(server, advance_days=25)
        log = server.runtime.webhooks.log()
    assert state.attempts
    assert set(state.attempts.values()) == {3}  # two refusals, then accepted: every event
    by_event: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        by_event.setdefault(entry["event_id"], []).append(entry)
    for entries in by_event.values():
        assert [e["attempt"] for e in entries] == [1, 2, 3]
        assert [e["status"] for e in entries] == ["retrying", "retrying", "delivered"]
        assert entries[0]["http_status"] == 500
    attempts = [int(headers["X-PM-Attempt"]) for headers, _, _ in state.calls]
    assert Counter(attempts) == {1: len(by_event), 2: len(by_event), 3: len(by_event)}
    assert all(signature_ok(headers, body) for headers, body, _ in state.calls)  # re-signed each attempt


def test_an_unreachable_subscriber_is_given_up_after_the_last_attempt() -> None:
    settings = WebhookSettings(
        max_attempts=3, backoff_seconds=0.01, backoff_cap_seconds=0.02, timeout_seconds=1
    )
    server, _ = start_sandbox(projects=1, seed=6, now=START, webhook_settings=settings)
    with server:
        subscribe(server, "http://127.0.0.1:9/nobody-listens", ["payment_request.created"])
        advance(server, advance_days=45)
        answer = httpx.get(
            f"{server.base_url}/admin/webhooks/deliveries", params={"status": "failed"}, headers=AUTH
        ).json()
        log = server.runtime.webhooks.log()
    failed = answer["data"]["items"]
    assert failed
    assert answer["data"]["pending"] == 0
    assert all(entry["attempt"] == 3 and entry["error"] and entry["http_status"] is None for entry in failed)
    assert len(log) == 3 * len(failed)


def test_some_events_are_delivered_twice_and_dedupe_by_event_id(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    settings = WebhookSettings(duplicate_rate=0.25, backoff_seconds=0.01)
    server, _ = start_sandbox(projects=2, seed=6, now=START, webhook_settings=settings)
    with server:
        subscription = subscribe(server, url, ["cost_record.*", "invoice.*"])
        moved = advance(server, advance_days=12)
        expected = expected_events(
            server, START, datetime.fromisoformat(moved["now"]), ("cost_record.", "invoice.")
        )
        page = httpx.get(
            f"{server.base_url}/admin/webhooks/deliveries",
            params={"subscription_id": subscription["id"], "limit": 500, "offset": 0},
            headers=AUTH,
        ).json()["data"]
        log = server.runtime.webhooks.log()
    delivered = state.delivered()
    ids = Counter(headers["X-PM-Event-Id"] for headers, _ in delivered)
    assert set(ids) == set(expected)  # de-duplicated by event id, nothing is missing
    twice = sum(1 for count in ids.values() if count == 2)
    assert max(ids.values()) == 2
    assert 0.15 * len(expected) < twice < 0.35 * len(expected)
    bodies: dict[str, set[bytes]] = {}
    for headers, body in delivered:
        bodies.setdefault(headers["X-PM-Event-Id"], set()).add(body)
    assert all(len(variants) == 1 for variants in bodies.values())  # a duplicate is the same event
    assert page["total"] == len(delivered)
    assert sum(1 for entry in log if entry["duplicate"]) == twice  # the log says which were repeats
    assert {entry["subscription_id"] for entry in page["items"]} == {subscription["id"]}


def test_subscriptions_can_be_listed_and_removed() -> None:
    server, _ = start_sandbox(projects=1, now=START, webhooks=[("http://127.0.0.1:9/from-cli", "cli-secret")])
    with server:
        base = server.base_url
        listed = httpx.get(f"{base}/admin/webhooks", headers=AUTH).json()["data"]
        assert [(s["id"], s["url"], s["event_types"]) for s in listed] == [
            ("sub_001", "http://127.0.0.1:9/from-cli", ["*"])
        ]
        assert "cli-secret" not in json.dumps(listed)
        bad = httpx.post(f"{base}/admin/webhooks", json={"url": "ftp://x", "secret": "s"}, headers=AUTH)
        assert bad.status_code == 400
        assert httpx.delete(f"{base}/admin/webhooks/sub_001", headers=AUTH).status_code == 200
        assert httpx.delete(f"{base}/admin/webhooks/sub_001", headers=AUTH).status_code == 404
        assert httpx.get(f"{base}/admin/webhooks", headers=AUTH).json()["data"] == []

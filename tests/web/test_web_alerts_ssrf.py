"""SSRF with read-back, end to end: an integrator points the WeCom robot of the planted workspace
at an internal service on 127.0.0.1 that answers `admin_password=…`, presses "test" (API and
console) and reads the alert log (API and console). Nothing of the body may appear anywhere, the
service must not even be called, and an open port must answer exactly like a closed one."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.support.planting import PASSWORD, Planted
from yecai.alerts import deliveries
from yecai.secrets import SecretBox, load_key
from yecai.store.auth_tables import AlertDelivery
from yecai.store.db import Store

pytestmark = pytest.mark.slow  # each test serves the API and local internal services

LEAK = "admin_password=hunter2-internal"


class _Internal(BaseHTTPRequestHandler):
    calls: ClassVar[list[str]] = []  # what reached the service (reset per test)

    def _answer(self) -> None:
        self.calls.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = f"{LEAK}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def bearer(planted: Planted, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {planted.tokens[who]}"}


@pytest.fixture
def internal() -> Iterator[int]:
    _Internal.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _without_allow(planted: Planted) -> None:
    """The planted workspace allows its local robot; the attacker's workspace does not."""
    path = planted.settings.workspace
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.pop("alerts", None)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _point_robot_at(store: Store, planted: Planted, port: int) -> None:
    box = SecretBox(store, load_key(planted.settings.workdir))
    box.set("ops_robot", "WECOM_URL", f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k")


def test_internal_service_body_and_port_state_never_show(
    api_world: tuple[TestClient, Planted, Store], internal: int
) -> None:
    client, planted, store = api_world
    _without_allow(planted)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    answers = []
    for port in (internal, closed, 5432):
        _point_robot_at(store, planted, port)
        sent = client.post("/api/v1/alerts/ops_robot/test", headers=bearer(planted, "integrator"))
        assert sent.status_code == 200, sent.text
        assert LEAK not in sent.text
        assert "admin_password" not in sent.text
        answers.append((sent.json()["status"], sent.json()["error"]))
    assert answers[0] == answers[1] == answers[2], answers
    assert answers[0][0] == "failed"
    assert "not allowed" in answers[0][1]
    assert _Internal.calls == []  # refused before any connection

    # the console's button
    login = client.post("/api/v1/session", json={"username": "integrator", "password": PASSWORD})
    csrf = login.json()["csrf_token"]
    pages = []
    for port in (internal, closed):
        _point_robot_at(store, planted, port)
        page = client.post("/alerts/ops_robot/test", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
        assert page.status_code == 200
        assert "admin_password" not in page.text
        pages.append(page.text)
    assert pages[0] == pages[1]

    # what finance and auditors read afterwards
    for role in ("auditor", "finance"):
        listed = client.get("/api/v1/alerts", headers=bearer(planted, role))
        assert listed.status_code == 200
        assert "admin_password" not in listed.text
    assert len(client.get("/api/v1/alerts", headers=bearer(planted, "auditor")).json()) == 5
    client.post("/api/v1/session", json={"username": "auditor", "password": PASSWORD})
    console = client.get("/alerts")
    assert console.status_code == 200
    assert "ops_robot" in console.text
    assert "admin_password" not in console.text
    assert _Internal.calls == []


def test_an_explicitly_allowed_internal_robot_still_never_shows_its_body(
    api_world: tuple[TestClient, Planted, Store], internal: int
) -> None:
    client, planted, store = api_world  # the planted workspace allows 127.0.0.1 over http
    assert "allow_hosts" in Path(planted.settings.workspace).read_text(encoding="utf-8")
    _point_robot_at(store, planted, internal)
    sent = client.post("/api/v1/alerts/ops_robot/test", headers=bearer(planted, "integrator"))
    assert sent.json()["status"] == "failed"
    assert "HTTP 200" in sent.json()["error"]
    assert "admin_password" not in sent.text
    assert _Internal.calls == ["/cgi-bin/webhook/send?key=k"]
    listed = client.get("/api/v1/alerts", headers=bearer(planted, "auditor"))
    assert "admin_password" not in listed.text
    client.post("/api/v1/session", json={"username": "auditor", "password": PASSWORD})
    console = client.get("/alerts")
    assert console.status_code == 200
    assert "ops_robot" in console.text
    assert "admin_password" not in console.text


def test_rows_stored_before_the_fix_do_not_show_remote_bodies(
    api_world: tuple[TestClient, Planted, Store],
) -> None:
    """Deliveries written by the old robots quoted the remote body, the exception's text (port
    state) or the platform's message: the log shows them in today's fixed words."""
    client, planted, store = api_world
    legacy = [
        "企业微信机器人 ops_robot 的应答无法识别：HTTP 200 admin_password=hunter2 / "
        "WeCom robot ops_robot gave an unreadable answer: HTTP 200 admin_password=hunter2",
        "企业微信机器人 ops_robot 无法送达：RemoteProtocolError: admin_password=x / "
        "WeCom robot ops_robot unreachable: RemoteProtocolError: admin_password=x",
        "企业微信机器人 ops_robot 拒绝了消息（HTTP 200, code 93000: admin_password=y）/ "
        "WeCom robot ops_robot refused the message (HTTP 200, code 93000: admin_password=y)",
        "邮件通道 ops_robot 发送失败（10.0.0.5:25）：SMTPConnectError: (554, b'admin_password=z') / "
        "email channel ops_robot failed (10.0.0.5:25): SMTPConnectError: (554, b'admin_password=z')",
    ]
    for number, error in enumerate(legacy):
        row = deliveries.reserve(
            store,
            channel="ops_robot",
            event="alert.test",
            dedupe_key=f"legacy-{number}",
            title="【yecai】测试告警",
            body=None,
            now=dt.datetime(2026, 11, 1, 8, number, tzinfo=dt.UTC),
            dedupe_minutes=0,
            max_per_hour=100,
        )
        with store.transaction() as session:  # as an old release wrote it (settle now scrubs too)
            session.execute(
                update(AlertDelivery).where(AlertDelivery.id == row.id).values(status="failed", error=error)
            )
    listed = client.get("/api/v1/alerts", headers=bearer(planted, "auditor"))
    assert "admin_password" not in listed.text
    errors = [d["error"] for d in listed.json()]
    assert "WeCom robot ops_robot gave an unreadable answer (HTTP 200)" in errors[3]
    assert "WeCom robot ops_robot: cannot reach the alert address" in errors[2]
    assert "WeCom robot ops_robot refused the message (HTTP 200, code 93000)" in errors[1]
    assert "email channel ops_robot" in errors[0]
    client.post("/api/v1/session", json={"username": "auditor", "password": PASSWORD})
    console = client.get("/alerts")
    assert console.status_code == 200
    assert "93000" in console.text
    assert "admin_password" not in console.text
    # the write path scrubs the old wording as well
    deliveries.settle(store, 1, status="failed", error=legacy[0])
    assert "admin_password" not in str(deliveries.recent_deliveries(store, limit=10))

"""SSRF with read-back, end to end: an integrator points the WeCom robot of the planted workspace
at an internal service on 127.0.0.1 that answers `admin_password=…`, presses "test" (API and
console) and reads the alert log (API and console). Nothing of the body may appear anywhere, the
service must not even be called, and an open port must answer exactly like a closed one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.support.planting import PASSWORD, Planted
from yecai.secrets import SecretBox, load_key
from yecai.store.db import Store

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

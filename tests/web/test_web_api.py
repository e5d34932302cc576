"""The API on SQLite and PostgreSQL: project scoping, sign-in, CSRF, audit trail, mapping edits.

Project managers must see their own projects and nothing else — in lists, in detail pages (404,
as if absent) and in actions; every change leaves an audit entry with before and after; a cookie
session needs its CSRF token to change anything; security headers are on every answer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.support.planting import PASSWORD, Planted
from yecai.auth import audit, users
from yecai.auth.principal import SYSTEM
from yecai.store.db import Store
from yecai.web.security import SESSION_COOKIE

pytestmark = pytest.mark.slow


def bearer(planted: Planted, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {planted.tokens[who]}"}


def test_a_project_manager_sees_only_their_projects(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    pm1 = bearer(planted, "pm1")
    assert [p["code"] for p in client.get("/api/v1/projects", headers=pm1).json()] == ["P1"]
    assert [p["code"] for p in client.get("/api/v1/projects", headers=bearer(planted, "finance")).json()] == [
        "P1",
        "P2",
    ]
    documents = client.get("/api/v1/documents", headers=pm1).json()
    assert {d["project_code"] for d in documents} == {"P1"}
    assert client.get(f"/api/v1/documents/{planted.documents['C2']}", headers=pm1).status_code == 404
    assert client.get(f"/api/v1/documents/{planted.documents['C1']}", headers=pm1).status_code == 200
    postings = client.get("/api/v1/postings", headers=pm1).json()
    assert {p["id"] for p in postings} == {planted.postings["p1_posted"], planted.postings["p1_waiting"]}
    assert client.get(f"/api/v1/postings/{planted.postings['p2_posted']}", headers=pm1).status_code == 404
    assert client.get("/api/v1/vouchers/JZ-0002", headers=pm1).status_code == 404
    assert client.get("/api/v1/vouchers/JZ-0002", headers=bearer(planted, "auditor")).status_code == 200
    # the other manager's filter by project returns nothing rather than their rows
    assert client.get("/api/v1/postings?project=P2", headers=pm1).json() == []
    assert client.get("/api/v1/runs", headers=pm1).json() == []
    assert client.get("/api/v1/dead-letters", headers=pm1).json() == []
    board = client.get("/api/v1/dashboard", headers=pm1).json()
    assert board["postings_by_state"] == {"posted": 1, "awaiting_approval": 1}
    assert board["failures"] == {"configuration": 0, "data": 0, "retry": 0}  # P2's failure is not theirs
    full = client.get("/api/v1/dashboard", headers=bearer(planted, "admin")).json()
    assert full["failures"] == {"configuration": 0, "data": 1, "retry": 1}
    assert full["failure_sources"] == {
        "configuration": {},
        "data": {"postings": 1},
        "retry": {"dead_letters": 1},
    }


def test_drill_down_both_ways(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    finance = bearer(planted, "finance")
    document = client.get(f"/api/v1/documents/{planted.documents['C1']}", headers=finance).json()
    assert document["record_payload"]["amount"] == "1200.50"
    assert [p["kingdee_number"] for p in document["postings"]] == ["JZ-0001"]
    posting = client.get(f"/api/v1/postings/{document['postings'][0]['id']}", headers=finance).json()
    assert posting["lines"][0]["document"]["id"] == planted.documents["C1"]
    assert posting["posting"]["debit_total"] == "1200.50"  # money as exact text, never a float
    back = client.get("/api/v1/vouchers/JZ-0001", headers=finance).json()
    assert [row["id"] for row in back] == [posting["posting"]["id"]]


def test_actions_are_audited_with_before_and_after(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, store = api_world
    failed = planted.postings["p2_failed"]
    answer = client.post(f"/api/v1/postings/{failed}/replay", headers=bearer(planted, "finance"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "uncertain"  # attempted before: looked up, never resent blindly
    entry = audit.entries(store, SYSTEM, action="posting.replay")[0]
    assert (entry.actor, entry.target_id, entry.via) == ("finance", str(failed), "api")
    assert entry.before["state"] == "failed"
    assert entry.after["state"] == "uncertain"
    # a manager may not act, even on their own project's posting
    assert (
        client.post(
            f"/api/v1/postings/{planted.postings['p1_waiting']}/skip",
            json={"reason": "x"},
            headers=bearer(planted, "pm1"),
        ).status_code
        == 403
    )
    # approval: finance releases the held posting
    approved = client.post(
        "/api/v1/postings/approve",
        json={"ids": [planted.postings["p1_waiting"]]},
        headers=bearer(planted, "finance"),
    )
    assert approved.json() == {"approved": 1}
    assert audit.entries(store, SYSTEM, action="posting.approve")[0].after["approved_by"] == "finance"
    # skipping a dead letter needs a reason and is recorded
    skipped = client.post(
        f"/api/v1/dead-letters/{planted.dead_letter}/skip",
        json={"reason": "重复作业 duplicate"},
        headers=bearer(planted, "integrator"),
    )
    assert skipped.status_code == 200
    assert audit.entries(store, SYSTEM, action="deadletter.skip")[0].after["reason"] == "重复作业 duplicate"
    again = client.post(
        f"/api/v1/dead-letters/{planted.dead_letter}/skip",
        json={"reason": "again"},
        headers=bearer(planted, "integrator"),
    )
    assert again.status_code == 409
    # a manager's audit view holds their project's entries and their own actions only
    pm_view = client.get("/api/v1/audit", headers=bearer(planted, "pm1")).json()
    assert all(e["project_code"] == "P1" or e["actor"] == "pm1" for e in pm_view)
    assert any(
        e["action"] == "posting.replay"
        for e in client.get("/api/v1/audit", headers=bearer(planted, "auditor")).json()
    )


def test_mapping_edit_is_optimistic_validated_and_audited(
    api_world: tuple[TestClient, Planted, Store],
) -> None:
    client, planted, store = api_world
    integrator = bearer(planted, "integrator")
    current = client.get("/api/v1/mappings/books", headers=integrator).json()
    url = "/api/v1/mappings/books/suppliers/中建钢构有限公司"
    first = client.put(url, json={"version": current["version"], "value": "GYS-0001"}, headers=integrator)
    assert first.status_code == 200, first.text
    assert first.json()["table"]["suppliers"]["中建钢构有限公司"] == "GYS-0001"
    on_disk = yaml.safe_load((Path(first.json()["path"])).read_text(encoding="utf-8"))
    assert on_disk["suppliers"]["中建钢构有限公司"] == "GYS-0001"
    # the second editor still holds the old version: refused, nothing overwritten
    stale = client.put(url, json={"version": current["version"], "value": "GYS-9999"}, headers=integrator)
    assert stale.status_code == 422
    assert "他人修改" in stale.json()["detail"]["message_zh"]
    # an edit that would make the table invalid is refused with the reason
    bad = client.put(
        "/api/v1/mappings/books/projects/P1",
        json={"version": first.json()["version"], "value": {"accounting_standard": "ifrs"}},
        headers=integrator,
    )
    assert bad.status_code == 422
    assert "accounting_standard" in bad.json()["detail"]["message_en"]
    entry = audit.entries(store, SYSTEM, action="mapping.")[0]
    assert (entry.target_id, entry.before, entry.after) == (
        "books:suppliers:中建钢构有限公司",
        None,
        "GYS-0001",
    )
    # a manager sees their own project's mapping row only, and no party tables
    seen = client.get("/api/v1/mappings/books", headers=bearer(planted, "pm1")).json()["table"]
    assert seen["suppliers"] == {}
    assert set(seen["projects"]) <= {"P1"}


def test_cookie_sessions_need_the_csrf_token(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    login = client.post("/api/v1/session", json={"username": "finance", "password": PASSWORD})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"]
    assert SESSION_COOKIE in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")
    csrf = login.json()["csrf_token"]
    url = f"/api/v1/postings/{planted.postings['p2_failed']}/skip"
    refused = client.post(url, json={"reason": "no token"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]["message_en"]
    wrong = client.post(url, json={"reason": "wrong token"}, headers={"X-CSRF-Token": csrf + "x"})
    assert wrong.status_code == 403
    done = client.post(url, json={"reason": "有令牌 with token"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200, done.text
    assert client.get("/api/v1/me").json()["user"]["username"] == "finance"
    assert client.request("DELETE", "/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/me").status_code == 401


def test_sign_in_slows_down_after_repeated_failures(
    api_world: tuple[TestClient, Planted, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = api_world
    monkeypatch.setattr(users, "_now", lambda: dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC))
    for _ in range(5):
        answer = client.post("/api/v1/session", json={"username": "auditor", "password": "wrong-password-1"})
        assert answer.status_code == 401
    unknown = client.post("/api/v1/session", json={"username": "nobody", "password": "wrong-password-1"})
    assert unknown.status_code == 401
    assert unknown.json() == answer.json()
    right = client.post("/api/v1/session", json={"username": "auditor", "password": PASSWORD})
    assert right.status_code == 429  # the pause holds even the right password back, for a second
    assert right.headers["retry-after"] == "1"


def test_admin_manages_users_and_tokens(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, store = api_world
    admin = bearer(planted, "admin")
    made = client.post(
        "/api/v1/users",
        json={"username": "pm3", "role": "project_manager", "projects": ["P2"]},
        headers=admin,
    )
    assert made.status_code == 201
    password = made.json()["password"]
    assert password
    assert len(password) >= 16
    entry = audit.entries(store, SYSTEM, action="user.create")[0]
    assert entry.after["projects"] == ["P2"]
    assert password not in str(entry.after)
    login = client.post("/api/v1/session", json={"username": "pm3", "password": password})
    assert [p["code"] for p in client.get("/api/v1/projects").json()] == ["P2"], login.text
    client.cookies.clear()
    changed = client.patch("/api/v1/users/pm3", json={"projects": ["P1"]}, headers=admin)
    assert changed.json()["projects"] == ["P1"]
    token = client.post("/api/v1/tokens", json={"name": "site-agent"}, headers=bearer(planted, "pm1")).json()
    assert token["secret"].startswith("yct_")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['secret']}"}).status_code == 200
    # pm1 cannot revoke (or see) another user's token; revoking their own ends it
    others = client.get("/api/v1/tokens", headers=bearer(planted, "pm1")).json()
    assert {t["username"] for t in others} == {"pm1"}
    assert (
        client.delete(f"/api/v1/tokens/{token['token']['id']}", headers=bearer(planted, "pm2")).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/tokens/{token['token']['id']}", headers=bearer(planted, "pm1")).status_code
        == 200
    )
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['secret']}"}).status_code == 401
    # an admin cannot lock themselves out by accident
    assert client.patch("/api/v1/users/admin", json={"active": False}, headers=admin).status_code == 422


def test_security_headers_on_every_answer(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    for response in (
        client.get("/healthz"),
        client.get("/api/v1/dashboard"),
        client.get("/api/v1/dashboard", headers=bearer(planted, "admin")),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"


def test_mapping_workbook_round_trip(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, store = api_world
    integrator = bearer(planted, "integrator")
    exported = client.get("/api/v1/mappings/books/workbook", headers=integrator)
    assert exported.status_code == 200
    assert exported.content[:2] == b"PK"  # an xlsx is a zip
    version = client.get("/api/v1/mappings/books", headers=integrator).json()["version"]
    files = {"file": ("映射表.xlsx", exported.content, "application/octet-stream")}
    imported = client.post(
        "/api/v1/mappings/books/workbook", data={"version": version}, files=files, headers=integrator
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["version"] != version  # rewritten (with its header), same content
    entry = audit.entries(store, SYSTEM, action="mapping.import")[0]
    assert entry.before == entry.after
    # the same upload against the old version is refused: someone (we) changed it meanwhile
    again = client.post(
        "/api/v1/mappings/books/workbook", data={"version": version}, files=files, headers=integrator
    )
    assert again.status_code == 422
    broken = client.post(
        "/api/v1/mappings/books/workbook",
        data={"version": imported.json()["version"]},
        files={"file": ("x.xlsx", b"not a workbook", "application/octet-stream")},
        headers=integrator,
    )
    assert broken.status_code == 422
    # a project manager's workbook holds their project rows only
    assert client.get("/api/v1/mappings/books/workbook", headers=bearer(planted, "pm1")).status_code == 200


def test_rules_check_reports_an_unreachable_kingdee(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    answer = client.post("/api/v1/rules/check?job=books", headers=bearer(planted, "integrator"))
    assert answer.status_code in (409, 422)  # a clear refusal, never a server error
    assert answer.json()["detail"]["message_en"]


def test_column_templates_over_the_api(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, store = api_world
    integrator = bearer(planted, "integrator")
    text = "- name: 项目部成本台账\n  kind: cost\n  columns: {金额: amount, 项目编号: project_code}\n"
    loaded = client.put("/api/v1/column-templates", json={"yaml": text}, headers=integrator)
    assert loaded.json() == {"loaded": ["项目部成本台账"]}, loaded.text
    listed = client.get("/api/v1/column-templates", headers=bearer(planted, "pm1")).json()
    assert [t["name"] for t in listed] == ["项目部成本台账"]
    bad = client.put(
        "/api/v1/column-templates", json={"yaml": "- name: x\n  kind: nonsense\n"}, headers=integrator
    )
    assert bad.status_code == 422
    assert client.delete("/api/v1/column-templates/项目部成本台账", headers=integrator).status_code == 200
    assert client.delete("/api/v1/column-templates/项目部成本台账", headers=integrator).status_code == 404
    assert [e.action for e in audit.entries(store, SYSTEM, target_type="column_template")] == [
        "template.delete",
        "template.load",
    ]


def test_alert_test_send_is_recorded_api_and_console(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    sent = client.post("/api/v1/alerts/ops_robot/test", headers=bearer(planted, "integrator"))
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "failed"  # nobody listens on port 9: recorded, not raised
    # allowed explicitly by the planted workspace (127.0.0.1 over http), so it was tried
    assert "cannot reach the alert address" in sent.json()["error"]
    unknown = client.post("/api/v1/alerts/nowhere/test", headers=bearer(planted, "integrator"))
    assert unknown.status_code == 422
    deliveries = client.get("/api/v1/alerts", headers=bearer(planted, "auditor")).json()
    assert [(d["channel"], d["event"]) for d in deliveries] == [("ops_robot", "alert.test")]
    assert client.get("/api/v1/alerts", headers=bearer(planted, "pm1")).json() == []
    # the console's button: signed in with a cookie, so the CSRF token is required
    login = client.post("/api/v1/session", json={"username": "integrator", "password": PASSWORD})
    csrf = login.json()["csrf_token"]
    assert client.post("/alerts/ops_robot/test").status_code == 403
    page = client.post("/alerts/ops_robot/test", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert page.status_code == 200
    assert "ops_robot" in page.text
    assert "failed" in page.text

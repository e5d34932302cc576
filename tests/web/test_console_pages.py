"""The console's pages and actions over HTTP (no browser): who may open what, CSRF, sign-in, safety.

One store of demo data for the module (tests/support/showcase.py). Each role signs in through the
real form; pages answer 200, 403, 404 or a redirect as the role table says; a project manager
never sees another manager's project; buttons a role may not use are absent and their routes
refuse; changes need the session's CSRF token; the mapping editor refuses a stale version.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.showcase import PASSWORD, PROJECT_1, PROJECT_2, Showcase
from yecai.auth import audit
from yecai.auth.principal import SYSTEM
from yecai.jobs import deadletters
from yecai.jobs.deadletters import bury
from yecai.jobs.failures import JobFailure
from yecai.services import trace
from yecai.store.tables import Document, Posting
from yecai.web.console import i18n

HTML = {"accept": "text/html"}
TEMPLATES = Path(__file__).resolve().parents[2] / "yecai" / "web" / "console" / "templates"


def sign_in(client: TestClient, username: str, *, next_path: str = "/") -> TestClient:
    form = client.get(f"/login?next={next_path}", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1), "next": next_path},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: TestClient) -> str:
    page = client.get("/account", headers=HTML)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def clients(showcase: Showcase) -> Iterator[dict[str, TestClient]]:
    app = showcase.app()
    made = {
        name: sign_in(TestClient(app), name)
        for name in ("admin", "integrator", "finance", "auditor", "pm1", "pm2")
    }
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def own_posting(showcase: Showcase, project: str, state: str | None = None) -> trace.PostingSummary:
    """A posting of this project alone (a voucher spanning projects is no single manager's)."""
    rows = trace.postings(showcase.store, SYSTEM, project=project, state=state, limit=5000)
    return next(p for p in rows if p.projects == (project,))


def posting_in(showcase: Showcase, project: str) -> int:
    return own_posting(showcase, project).id


def document_in(showcase: Showcase, project: str) -> int:
    with showcase.store.sessions() as session:
        found = session.scalar(select(Document.id).where(Document.project_code == project).limit(1))
    assert found is not None
    return found


# --- who may open which page ----------------------------------------------------------------------

EVERYONE = ("admin", "integrator", "finance", "auditor", "pm1", "pm2")
PAGES = [
    "/",
    "/projects",
    "/postings",
    "/postings?state=failed",
    "/approvals",
    "/dead-letters",
    "/jobs",
    "/connections",
    "/mappings",
    "/mappings/books",
    "/mappings/books/unmapped",
    "/alerts",
    "/audit",
    "/account",
]


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize("path", PAGES)
def test_reading_pages_open_for_every_role(clients: dict[str, TestClient], role: str, path: str) -> None:
    answer = clients[role].get(path, headers=HTML)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(("role", "status"), [(r, 200 if r == "admin" else 403) for r in EVERYONE])
def test_users_page_is_for_administrators(clients: dict[str, TestClient], role: str, status: int) -> None:
    answer = clients[role].get("/users", headers=HTML)
    assert answer.status_code == status
    if status == 403:
        assert "无权访问" in answer.text
        assert 'data-testid="error-page"' in answer.text


def test_signed_out_people_are_sent_to_sign_in(showcase: Showcase) -> None:
    with TestClient(showcase.app()) as anonymous:
        page = anonymous.get("/postings", headers=HTML, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/postings"
        htmx = anonymous.post("/dead-letters/1/replay", headers={"HX-Request": "true"})
        assert htmx.status_code == 401
        assert htmx.headers["HX-Redirect"].startswith("/login")
        assert anonymous.get("/login", headers=HTML).status_code == 200
        assert anonymous.get("/docs").status_code == 200


def test_project_manager_sees_only_own_projects(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    pm1 = clients["pm1"]
    listing = pm1.get("/projects", headers=HTML).text
    assert f">{PROJECT_1}<" in listing
    assert PROJECT_2 not in listing
    assert pm1.get(f"/projects/{PROJECT_1}", headers=HTML).status_code == 200
    other = pm1.get(f"/projects/{PROJECT_2}", headers=HTML)
    assert other.status_code == 404
    assert "没有该对象，或您无权查看" in other.text
    assert pm1.get(f"/postings/{posting_in(showcase, PROJECT_2)}", headers=HTML).status_code == 404
    assert pm1.get(f"/documents/{document_in(showcase, PROJECT_2)}", headers=HTML).status_code == 404
    assert pm1.get(f"/postings/{posting_in(showcase, PROJECT_1)}", headers=HTML).status_code == 200
    assert PROJECT_2 not in pm1.get("/postings", headers=HTML).text
    # a voucher spanning projects (month-end's company voucher) shows the others' figures: not pm1's
    spanning = [p for p in trace.postings(showcase.store, SYSTEM, limit=5000) if len(p.projects) > 1]
    assert spanning
    assert PROJECT_1 in spanning[0].projects
    assert pm1.get(f"/postings/{spanning[0].id}", headers=HTML).status_code == 404
    assert clients["pm2"].get(f"/projects/{PROJECT_1}", headers=HTML).status_code == 404
    assert clients["admin"].get("/projects/NO-SUCH", headers=HTML).status_code == 404


def test_company_wide_pages_are_empty_for_project_managers(clients: dict[str, TestClient]) -> None:
    pm1 = clients["pm1"]
    dead = pm1.get("/dead-letters", headers=HTML).text
    assert 'data-testid="dead-letter-' not in dead
    assert "仅对可查看全部项目的角色显示" in dead
    nav = pm1.get("/", headers=HTML).text
    assert 'href="/dead-letters"' not in nav
    assert 'href="/users"' not in nav
    assert 'data-figure="dead_letters"' not in nav


def test_buttons_follow_the_role_and_the_server_refuses_anyway(
    showcase: Showcase, clients: dict[str, TestClient]
) -> None:
    assert 'data-testid="replay"' in clients["finance"].get("/dead-letters", headers=HTML).text
    assert 'data-testid="replay"' not in clients["auditor"].get("/dead-letters", headers=HTML).text
    assert 'data-testid="approve"' in clients["finance"].get("/approvals", headers=HTML).text
    assert 'data-testid="approve"' not in clients["integrator"].get("/approvals", headers=HTML).text
    assert 'data-testid="secret-form"' in clients["integrator"].get("/connections", headers=HTML).text
    assert 'data-testid="secret-form"' not in clients["finance"].get("/connections", headers=HTML).text
    assert 'data-testid="mapping-form"' in clients["integrator"].get("/mappings/books", headers=HTML).text
    assert 'data-testid="mapping-form"' not in clients["finance"].get("/mappings/books", headers=HTML).text

    letter = showcase.dead_letters[1]
    auditor = clients["auditor"]
    refused = auditor.post(
        f"/dead-letters/{letter}/skip",
        data={"reason": "no"},
        headers={"X-CSRF-Token": csrf_of(auditor), "HX-Request": "true"},
    )
    assert refused.status_code == 403
    assert deadletters.dead_letter(showcase.store, letter).status == "dead"
    integrator = clients["integrator"]
    approve = integrator.post(
        "/approvals", data={"ids": ["1"], "csrf_token": csrf_of(integrator)}, headers=HTML
    )
    assert approve.status_code == 403
    pm1 = clients["pm1"]
    for path in (
        "/connections/secrets",
        "/mappings/books",
        "/users",
        f"/postings/{posting_in(showcase, PROJECT_1)}/replay",
    ):
        assert pm1.post(path, data={"csrf_token": csrf_of(pm1)}, headers=HTML).status_code == 403, path


# --- CSRF, sign-in, redirects, cookies, headers ---------------------------------------------------


def plant_letter(showcase: Showcase) -> int:
    failure = JobFailure("测试", "test", "fail", "data", "DataError")
    letter = bury(showcase.store, job="books", task_id=None, since=None, failure=failure, attempts=1)
    assert letter is not None
    return letter


def test_changes_without_the_csrf_token_are_refused(
    showcase: Showcase, clients: dict[str, TestClient]
) -> None:
    admin = clients["admin"]
    letter = plant_letter(showcase)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = admin.post(
            f"/dead-letters/{letter}/skip", data={"reason": "x"}, headers={**HTML, **headers}
        )
        assert refused.status_code == 403
        assert "CSRF" in refused.text
    assert deadletters.dead_letter(showcase.store, letter).status == "dead"
    form_token = admin.post(
        f"/dead-letters/{letter}/skip",
        data={"reason": "重复数据", "csrf_token": csrf_of(admin)},
        headers=HTML,
    )
    assert form_token.status_code == 200
    assert deadletters.dead_letter(showcase.store, letter).status == "skipped"
    assert (
        admin.post("/logout", headers=HTML, follow_redirects=False).status_code == 403
    )  # no token: still in


def test_skipping_a_dead_letter_needs_a_reason(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    letter = plant_letter(showcase)
    answer = admin.post(
        f"/dead-letters/{letter}/skip",
        data={"reason": "  "},
        headers={"X-CSRF-Token": csrf_of(admin), "HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert "请写明跳过原因" in answer.text
    assert deadletters.dead_letter(showcase.store, letter).status == "dead"


def test_sign_in_form(showcase: Showcase) -> None:
    with TestClient(showcase.app()) as client:
        form = client.get("/login", headers=HTML)
        cookie = form.headers["set-cookie"]
        assert "yecai_login_csrf=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        wrong = client.post(
            "/login", data={"username": "admin", "password": "nope-nope-nope", "csrf_token": token}
        )
        assert wrong.status_code == 401
        assert "用户名或密码错误" in wrong.text
        # login CSRF: a form posted from elsewhere carries no matching cookie
        with TestClient(showcase.app()) as other:
            forged = other.post(
                "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
            )
            assert forged.status_code == 403
            assert "yecai_session" not in forged.headers.get("set-cookie", "")
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/login", headers=HTML).text
        ).group(1)
        ok = client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/postings"},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        assert ok.headers["location"] == "/postings"
        session_cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("yecai_session="))
        assert "HttpOnly" in session_cookie
        assert "SameSite=lax" in session_cookie
        assert (
            client.get("/login", headers=HTML, follow_redirects=False).status_code == 303
        )  # signed in already
        out = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["location"] == "/login"
        assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("next_path", "expected"),
    [
        ("/postings?state=failed", "/postings?state=failed"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),
    ],
)
def test_no_open_redirect(showcase: Showcase, next_path: str, expected: str) -> None:
    with TestClient(showcase.app()) as client:
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/login", headers=HTML).text
        ).group(1)
        answer = client.post(
            "/login",
            data={"username": "finance", "password": PASSWORD, "csrf_token": token, "next": next_path},
            follow_redirects=False,
        )
        assert answer.headers["location"] == expected
        switch = client.get("/lang/en", params={"next": next_path}, follow_redirects=False)
        # the language switch may go back to the sign-in page, never off the site
        assert switch.headers["location"] == ("/login" if next_path == "/login" else expected)


def test_security_headers_and_swagger_csp(clients: dict[str, TestClient]) -> None:
    page = clients["admin"].get("/", headers=HTML)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    docs = clients["admin"].get("/docs")
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert inline
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in docs.headers["content-security-policy"]
    assert clients["admin"].get("/static/vendor/echarts/LICENSE").status_code == 200
    assert clients["admin"].get("/static/vendor/htmx/htmx.min.js").status_code == 200


def test_templates_have_no_inline_script_and_every_key_exists() -> None:
    keys: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {template.name}"
        keys.update(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", text))
    # a key ending in "." is a prefix completed in the template (t("map.table." ~ name))
    missing = sorted(
        k
        for k in keys
        if k not in i18n.MESSAGES and not (k.endswith(".") and any(m.startswith(k) for m in i18n.MESSAGES))
    )
    assert missing == []


def test_values_are_escaped(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    created = admin.post(
        "/users",
        data={
            "username": "xss.test",
            "role": "auditor",
            "display_name": "<script>alert(1)</script>",
            "csrf_token": csrf_of(admin),
        },
        headers=HTML,
    )
    assert created.status_code == 201
    assert "<script>alert(1)</script>" not in created.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in created.text


# --- acting -------------------------------------------------------------------------------------


def test_generated_password_is_shown_once_and_works(
    showcase: Showcase, clients: dict[str, TestClient]
) -> None:
    admin = clients["admin"]
    created = admin.post(
        "/users",
        data={
            "username": "newpm",
            "role": "project_manager",
            "projects": f"{PROJECT_1}， XM9",
            "csrf_token": csrf_of(admin),
        },
        headers=HTML,
    )
    assert created.status_code == 201
    password = re.search(r'data-testid="secret-once">([^<]+)<', created.text).group(1)
    assert password not in admin.get("/users", headers=HTML).text
    with TestClient(showcase.app()) as fresh:
        token = re.search(r'name="csrf_token" value="([^"]+)"', fresh.get("/login", headers=HTML).text).group(
            1
        )
        signed = fresh.post(
            "/login",
            data={"username": "newpm", "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert f">{PROJECT_1}<" in fresh.get("/projects", headers=HTML).text


def test_finance_approves_selected_postings(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    finance = clients["finance"]
    waiting = [p.id for p in trace.postings(showcase.store, SYSTEM, state="awaiting_approval")]
    assert len(waiting) >= 2
    none = finance.post("/approvals", data={"csrf_token": csrf_of(finance)}, headers=HTML)
    assert none.status_code == 422
    assert "请至少选择一张" in none.text
    done = finance.post(
        "/approvals", data={"ids": [str(waiting[0])], "csrf_token": csrf_of(finance)}, headers=HTML
    )
    assert done.status_code == 200
    assert "已批准 1 张" in done.text
    with showcase.store.sessions() as session:
        assert session.get(Posting, waiting[0]).state == "planned"
        assert session.get(Posting, waiting[1]).state == "awaiting_approval"
    entries = audit.entries(showcase.store, SYSTEM, action="posting.approve", target_id=str(waiting[0]))
    assert [e.actor for e in entries] == ["finance"]


def test_replay_a_failed_posting(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    posting = next(p.id for p in trace.postings(showcase.store, SYSTEM, state="failed"))
    page = admin.get(f"/postings/{posting}", headers=HTML)
    assert "需人工处理" in page.text  # what to do next, in words
    answer = admin.post(f"/postings/{posting}/replay", data={"csrf_token": csrf_of(admin)}, headers=HTML)
    assert answer.status_code == 200
    assert "已重放" in answer.text
    assert trace.posting_detail(showcase.store, SYSTEM, posting).posting.state in ("planned", "uncertain")
    again = admin.post(f"/postings/{posting}/replay", data={"csrf_token": csrf_of(admin)}, headers=HTML)
    assert again.status_code == 409
    assert "不能重放" in again.text


def test_voucher_number_leads_back_to_the_posting(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    found = clients["pm1"].get(
        "/vouchers", params={"number": posted.kingdee_number}, headers=HTML, follow_redirects=False
    )
    assert found.status_code == 303
    assert found.headers["location"] == f"/postings/{posted.id}"
    other = own_posting(showcase, PROJECT_2, state="posted")
    hidden = clients["pm1"].get("/vouchers", params={"number": other.kingdee_number}, headers=HTML)
    assert hidden.status_code == 404


def test_mapping_edit_and_stale_version(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    integrator = clients["integrator"]
    page = integrator.get("/mappings/books", headers=HTML).text
    version = re.search(r'name="version" value="([0-9a-f]{64})"', page).group(1)
    form = {"version": version, "table": "suppliers", "key": "测试供应商有限公司", "number": "GYS0999"}
    saved = integrator.post("/mappings/books", data={**form, "csrf_token": csrf_of(integrator)}, headers=HTML)
    assert saved.status_code == 200, saved.text[:400]
    assert "已保存" in saved.text
    assert (
        yaml.safe_load(showcase.mapping.read_text(encoding="utf-8"))["suppliers"]["测试供应商有限公司"]
        == "GYS0999"
    )
    entries = audit.entries(showcase.store, SYSTEM, action="mapping.update", actor="integrator")
    assert entries
    assert entries[0].target_id == "books:suppliers:测试供应商有限公司"
    stale = integrator.post(
        "/mappings/books", data={**form, "number": "GYS0000", "csrf_token": csrf_of(integrator)}, headers=HTML
    )
    assert stale.status_code == 409
    assert "映射表已被他人修改，请刷新后再改" in stale.text
    assert 'value="GYS0000"' in stale.text  # what was typed stays in the form
    assert (
        yaml.safe_load(showcase.mapping.read_text(encoding="utf-8"))["suppliers"]["测试供应商有限公司"]
        == "GYS0999"
    )


def test_connection_test_and_secrets(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    integrator = clients["integrator"]
    tested = integrator.post(
        "/connections/kingdee/test", headers={"X-CSRF-Token": csrf_of(integrator), "HX-Request": "true"}
    )
    assert tested.status_code == 200
    assert "连接失败" in tested.text
    # the row comes back whole: its health column shows the failed test, not 正常 (issue 14 item 1)
    assert "连续失败" in tested.text
    assert "测试连接失败" in tested.text
    saved = integrator.post(
        "/connections/secrets",
        data={
            "connection": "ops-dingtalk",
            "key": "DINGTALK_SECRET",
            "value": "SEC-very-secret",
            "csrf_token": csrf_of(integrator),
        },
        headers=HTML,
    )
    assert saved.status_code == 200
    assert "密钥已加密保存" in saved.text
    assert "DINGTALK_SECRET" in saved.text
    assert "SEC-very-secret" not in saved.text
    assert showcase.runtime.secrets.get("ops-dingtalk", "DINGTALK_SECRET") == "SEC-very-secret"
    entries = audit.entries(
        showcase.store, SYSTEM, action="secret.set", target_id="ops-dingtalk.DINGTALK_SECRET"
    )
    assert entries
    assert "SEC-very-secret" not in str(entries[0].after)


def test_english_switch(showcase: Showcase) -> None:
    with TestClient(showcase.app()) as client:
        sign_in(client, "finance")
        assert "<h1>仪表盘</h1>" in client.get("/", headers=HTML).text
        switched = client.get("/lang/en", params={"next": "/postings"}, follow_redirects=False)
        assert switched.headers["location"] == "/postings"
        assert "<h1>Postings</h1>" in client.get("/postings", headers=HTML).text
        assert "<h1>Dashboard</h1>" in client.get("/", headers=HTML).text


def test_pause_resume_and_run_now(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    finance = clients["finance"]
    htmx = {"X-CSRF-Token": csrf_of(finance), "HX-Request": "true"}
    paused = finance.post("/connections/pm/pause", data={"reason": "源系统维护"}, headers=htmx)
    assert paused.status_code == 200
    assert "已暂停：源系统维护" in paused.text
    refused = finance.post("/jobs/books/run", headers=htmx)
    assert refused.status_code == 200
    assert "paused" in refused.text or "暂停" in refused.text
    resumed = finance.post("/connections/pm/resume", headers=htmx)
    assert resumed.status_code == 200
    assert "已暂停" not in resumed.text
    queued = finance.post("/jobs/books/run", headers=htmx)
    assert queued.status_code == 200
    assert "已排队" in queued.text or "queued" in queued.text
    actions = [e.action for e in audit.entries(showcase.store, SYSTEM, actor="finance", limit=10)]
    assert {"connection.pause", "connection.resume", "job.run"} <= set(actions)
    assert finance.post("/jobs/nope/run", headers=htmx).status_code == 422


def test_tokens_shown_once_and_revoked(showcase: Showcase, clients: dict[str, TestClient]) -> None:
    pm1 = clients["pm1"]
    made = pm1.post(
        "/tokens", data={"name": "site agent", "days": "30", "csrf_token": csrf_of(pm1)}, headers=HTML
    )
    assert made.status_code == 201
    secret = re.search(r'data-testid="secret-once">([^<]+)<', made.text).group(1)
    assert secret.startswith("yct_")
    assert secret not in pm1.get("/account", headers=HTML).text
    refused = pm1.post(
        "/tokens", data={"name": "x", "username": "admin", "csrf_token": csrf_of(pm1)}, headers=HTML
    )
    assert refused.status_code == 403
    token_id = re.search(r'action="/tokens/(\d+)/revoke"', pm1.get("/account", headers=HTML).text).group(1)
    assert (
        clients["pm2"]
        .post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(clients["pm2"])}, headers=HTML)
        .status_code
        == 404
    )
    revoked = pm1.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(pm1)}, headers=HTML)
    assert revoked.status_code == 200
    assert "令牌已吊销" in revoked.text

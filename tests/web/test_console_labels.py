"""No raw code on a console page, in Chinese or in English (issue 14, item 4).

Over the showcase's demo data — postings in every state a person handles, dead letters, alert
deliveries, runs — with sandbox.kingdee on the showcase's own books, so that the P&L and a
reconciliation are real: every page an administrator opens is read as a person reads it
(tests/support/visible.py) and must show none of the codes yecai.labels words (cost_actuals,
GL_VOUCHER, labour, reconcile, succeeded, manage_users, A …). Codes inside links, attributes and
the folded JSON for integrators are allowed. In English, category names and chart legends are
English.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.showcase import PROJECT_1, USERS, Showcase
from tests.support.visible import raw_codes, visible_text
from tests.web.test_console_pages import HTML, own_posting, sign_in
from yecai.alerts import recent_deliveries
from yecai.auth.principal import SYSTEM
from yecai.reconcile import service as recon
from yecai.sandbox.kingdee import start_sandbox
from yecai.secrets import SecretBox, load_key
from yecai.store.tables import Document
from yecai.workspace import load_workspace

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def kingdee_up(showcase: Showcase) -> Iterator[str]:
    """sandbox.kingdee on the showcase's books, and the showcase's workspace pointed at it."""
    server, credentials = start_sandbox(showcase.settings.workdir / "kingdee")
    path = showcase.settings.workspace
    assert path is not None
    space = yaml.safe_load(path.read_text(encoding="utf-8"))
    space["connections"]["kingdee"].update(
        server_url=str(credentials["server_url"]),
        acct_id=str(credentials["acct_id"]),
        user_name=str(credentials["user_name"]),
        app_id=str(credentials["app_id"]),
        lcid=int(str(credentials["lcid"])),
        org_num=str(credentials["org_num"]),
    )
    path.write_text(yaml.safe_dump(space, allow_unicode=True, sort_keys=False), encoding="utf-8")
    box = SecretBox(showcase.store, load_key(showcase.settings.workdir))
    box.set("kingdee", "KD_APP_SECRET", str(credentials["app_secret"]))
    try:
        yield str(credentials["server_url"])
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(showcase: Showcase, kingdee_up: str) -> Iterator[TestClient]:
    client = sign_in(TestClient(showcase.app()), "admin")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def pages(showcase: Showcase, kingdee_up: str) -> list[str]:
    """Every page of the console, with one of each detail page (a reconciliation run on the sandbox)."""
    posted = own_posting(showcase, PROJECT_1, state="posted")
    failed = own_posting(showcase, PROJECT_1, state="failed")
    period = (posted.kingdee_number or "").split(" ")[0]
    space = load_workspace(showcase.settings.workspace)
    box = SecretBox(showcase.store, load_key(showcase.settings.workdir))
    with space.kingdee("kingdee", box) as client:
        report = recon.reconcile(showcase.store, client, kingdee_connection="kingdee", period=period)
    with showcase.store.sessions() as session:
        documents = session.scalars(
            select(Document.id).where(Document.project_code == PROJECT_1).order_by(Document.id)
        ).all()
    return [
        "/",
        "/projects",
        f"/projects/{PROJECT_1}",
        f"/projects/{PROJECT_1}/pnl?period={period}",
        "/reports/monthly",
        "/postings",
        f"/postings/{posted.id}",
        f"/postings/{failed.id}",
        f"/documents/{documents[0]}",
        f"/vouchers?number={posted.kingdee_number}",
        "/reconciliations",
        f"/reconciliations/{report.run_id}",
        "/approvals",
        "/dead-letters",
        "/jobs",
        "/connections",
        "/mappings",
        "/mappings/books",
        "/mappings/books/unmapped",
        "/alerts",
        "/audit",
        "/users",
        "/account",
    ]


def _names(showcase: Showcase) -> set[str]:
    """What people named: users, connections, jobs, secrets (shown as they are, by design)."""
    space = load_workspace(showcase.settings.workspace)
    box = SecretBox(showcase.store, load_key(showcase.settings.workdir))
    secrets = {s for name in space.connections for s in box.names(name)}
    secrets |= {
        s for c in space.connections.values() for s in re.findall(r"\$\{(\w+)\}", str(c.model_dump()))
    }
    return {*USERS, SYSTEM.username, *space.connections, *space.syncs, *secrets}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_page_shows_a_raw_code(showcase: Showcase, admin: TestClient, pages: list[str], lang: str) -> None:
    admin.get(f"/lang/{lang}", params={"next": "/"})
    names = _names(showcase)
    sent = [d.title for d in recent_deliveries(showcase.store, limit=100)]  # alert titles as sent
    leaks: dict[str, set[str]] = {}
    for path in pages:
        answer = admin.get(path, headers=HTML)
        assert answer.status_code == 200, (path, answer.status_code)
        found = raw_codes(visible_text(answer.text, lang), lang, names, sent)
        if found:
            leaks[path] = found
    assert leaks == {}


def test_the_check_sees_a_raw_code(showcase: Showcase) -> None:
    # the check above is only as good as this: codes a label should have replaced are found, and
    # the places codes may stay (links, attributes, folded JSON, names people chose) are not read
    page = (
        "<table><tr><td>cost_actuals</td><td>GL_VOUCHER</td><td>sync:books</td></tr></table>"
        '<a href="/postings?state=posted" data-kind="labour">已过账</a>'
        '<details><summary>接口报文</summary><pre class="json">{"state": "succeeded"}</pre></details>'
    )
    text = visible_text(page, "zh")
    assert "已过账" in text
    assert "接口报文" in text
    assert raw_codes(text, "zh") == {"cost_actuals", "GL_VOUCHER", "sync:books"}
    assert raw_codes("人工费 labour A", "zh") == {"labour", "A"}
    assert raw_codes("labour manage_users", "en") == {"manage_users"}  # "labour" is an English word
    assert raw_codes("books pm", "zh", names={"books"}) == set()


def test_english_pnl_names_categories_and_legends_in_english(
    showcase: Showcase, admin: TestClient, pages: list[str]
) -> None:
    pnl = next(p for p in pages if p.endswith("/pnl") or "/pnl?" in p)
    admin.get("/lang/en", params={"next": "/"})
    page = admin.get(pnl, headers=HTML)
    assert page.status_code == 200
    table = re.search(r'data-testid="pnl-table">(.*?)</table>', page.text, re.S)
    assert table is not None
    names = re.findall(r"<tr><td>([^<]*)</td>", table.group(1))
    assert "labour" in names
    assert [n for n in names if CJK.search(n)] == []
    charts = [json.loads(c.replace("&#34;", '"').replace("&quot;", '"')) for c in re.findall(
        r"data-report-chart='([^']*)'", page.text)]  # fmt: skip
    words = [w for chart in charts for w in (*chart["labels"], *(s["name"] for s in chart["series"]))]
    assert words
    assert [w for w in words if CJK.search(w)] == []
    admin.get("/lang/zh", params={"next": "/"})
    page = admin.get(pnl, headers=HTML)
    assert "人工费" in visible_text(page.text, "zh")

"""The console in a real browser: Debian's chromium, driven by Playwright, against the real app.

One uvicorn server and one browser for the module, over demo data (tests/support/showcase.py); each
test has its own browser context (its own cookies). The flows: sign in and read the dashboard
(figures equal the store's), replay a dead letter (status and audit change), edit a mapping
(the file and the audit change), a project manager cannot open another manager's project, the
English switch, and no Content-Security-Policy violation on the pages that use htmx and ECharts.
These tests fail — never skip — when chromium is missing: `.ci/run` installs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page
from sqlalchemy import func, select

from tests.support.showcase import PASSWORD, PROJECT_1, PROJECT_2, Showcase, serving
from yecai.auth import audit
from yecai.auth.principal import SYSTEM
from yecai.domain.posting_states import OPEN as STATES_OPEN
from yecai.jobs import deadletters
from yecai.services import dashboard as dashboards
from yecai.store.tables import Posting

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(showcase: Showcase) -> Iterator[str]:
    with serving(showcase.app()) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    made.set_default_timeout(10_000)
    try:
        yield made
    finally:
        made.close()


def sign_in(context: BrowserContext, base_url: str, username: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/")
    page.wait_for_url(f"{base_url}/login?next=/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


def figure(page: Page, name: str) -> int:
    return int(page.inner_text(f'[data-figure="{name}"]'))


def test_sign_in_and_read_the_dashboard(showcase: Showcase, context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url, "admin")
    page.wait_for_selector("[data-chart-ready]")
    assert page.locator("canvas").count() >= 2  # both ECharts charts drew
    expected = dashboards.dashboard(showcase.store, SYSTEM)
    with showcase.store.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Posting))
        backlog = session.scalar(
            select(func.count()).select_from(Posting).where(Posting.state.in_(STATES_OPEN))
        )
        waiting = session.scalar(
            select(func.count()).select_from(Posting).where(Posting.state == "awaiting_approval")
        )
    assert figure(page, "postings") == total == sum(expected.postings_by_state.values())
    assert figure(page, "backlog") == backlog == expected.backlog
    assert figure(page, "awaiting_approval") == waiting
    assert figure(page, "dead_letters") == len(deadletters.dead_letters(showcase.store, status="dead"))
    for group in dashboards.GROUPS:
        assert figure(page, f"failures.{group}") == expected.failures[group]
    assert page.locator("[data-testid=last-syncs] tbody tr").count() == len(expected.last_syncs)


def test_replay_a_dead_letter(showcase: Showcase, context: BrowserContext, base_url: str) -> None:
    letter = showcase.dead_letters[0]
    page = sign_in(context, base_url, "finance")
    page.goto(f"{base_url}/dead-letters")
    row = page.locator(f"[data-testid=dead-letter-{letter}]")
    row.locator("[data-testid=replay]").click()
    status = page.locator(f"[data-testid=dead-letter-{letter}] [data-testid=dead-letter-status]")
    status.get_by_text("已重放").first.wait_for()
    assert page.locator(f"[data-testid=dead-letter-{letter}] [data-testid=replay]").count() == 0
    assert deadletters.dead_letter(showcase.store, letter).status == "replayed"
    entries = audit.entries(showcase.store, SYSTEM, action="deadletter.replay", target_id=str(letter))
    assert [(e.actor, e.via) for e in entries] == [("finance", "console")]


def test_skip_a_dead_letter_with_a_reason(showcase: Showcase, context: BrowserContext, base_url: str) -> None:
    letter = showcase.dead_letters[1]
    page = sign_in(context, base_url, "admin")
    page.goto(f"{base_url}/dead-letters")
    row = page.locator(f"[data-testid=dead-letter-{letter}]")
    row.locator("input[name=reason]").fill("映射已修正，下次同步会重新处理")
    row.locator("[data-testid=skip]").click()
    page.locator(f"[data-testid=dead-letter-{letter}]").get_by_text("已跳过").first.wait_for()
    found = deadletters.dead_letter(showcase.store, letter)
    assert found.status == "skipped"
    assert found.reason == "映射已修正，下次同步会重新处理"


def test_edit_a_mapping(showcase: Showcase, context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url, "integrator")
    page.goto(f"{base_url}/mappings/books")
    unmapped = page.locator("[data-testid=unmapped-values] tbody tr", has_text="XM2026004")
    unmapped.locator("[data-testid=map-it]").click()  # fills the form: table projects, key XM2026004
    form = page.locator("#mapping-form")
    assert form.locator("input[name=key]").input_value() == "XM2026004"
    assert form.locator("select[name=table]").input_value() == "projects"
    assert form.locator("input[name=debit]").is_hidden()  # fields of other tables are hidden
    form.locator("input[name=number]").fill("XM2026004")
    form.locator("input[name=org]").fill("100")
    form.locator("[data-testid=mapping-save]").click()
    page.get_by_text("已保存 projects / XM2026004").wait_for()
    table = yaml.safe_load(showcase.mapping.read_text(encoding="utf-8"))
    assert table["projects"]["XM2026004"] == {"number": "XM2026004", "org": "100"}
    entries = audit.entries(
        showcase.store, SYSTEM, action="mapping.update", target_id="books:projects:XM2026004"
    )
    assert [e.actor for e in entries] == ["integrator"]
    assert entries[0].after == {"number": "XM2026004", "org": "100"}
    page.locator("[data-testid=unmapped-values]").wait_for()
    assert page.locator("[data-testid=unmapped-values] tbody tr", has_text="XM2026004").count() == 0


def test_project_manager_cannot_open_another_managers_project(context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url, "pm1")
    page.goto(f"{base_url}/projects")
    codes = page.locator("[data-testid=projects] tbody tr td:first-child").all_inner_texts()
    assert codes == [PROJECT_1]
    answer = page.goto(f"{base_url}/projects/{PROJECT_2}")
    assert answer is not None
    assert answer.status == 404
    assert page.locator("[data-testid=error-page]").is_visible()
    assert page.locator("nav.sidebar a[href='/dead-letters']").count() == 0
    answer = page.goto(f"{base_url}/projects/{PROJECT_1}")
    assert answer is not None
    assert answer.status == 200


def test_english_switch(context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url, "finance")
    assert page.inner_text("h1") == "仪表盘"
    page.click("[data-testid=lang-switch]")
    page.wait_for_selector("h1:text-is('Dashboard')")
    page.goto(f"{base_url}/dead-letters")
    assert page.inner_text("h1") == "Dead letters"
    assert page.locator("nav.sidebar").inner_text().startswith("Dashboard")


def test_pages_run_under_the_strict_csp(context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url, "admin")
    problems: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", listen)
    page.on("pageerror", lambda error: problems.append(str(error)))
    for path in ("/", "/mappings/books", "/connections", "/docs"):
        page.goto(f"{base_url}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{base_url}/connections")
    page.locator("[data-testid=connection-kingdee] [data-testid=test-connection]").click()
    page.locator("[data-testid=test-result-kingdee] .badge").wait_for()  # htmx sent the CSRF header
    # the test's outcome and the health column agree (issue 14 item 1)
    tested_ok = "连接正常" in page.locator("[data-testid=test-result-kingdee]").inner_text()
    health = page.locator("[data-testid=connection-kingdee] td").nth(4).inner_text()
    assert ("正常" in health) == tested_ok, health
    assert problems == []

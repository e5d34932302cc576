"""The voucher, document, mapping and reconciliation pages in a real browser (issue 14, items 5–7).

Debian's chromium driven by Playwright against the real app on uvicorn, over the showcase's demo
data, with sandbox.kingdee on the showcase's own books as the chart of accounts. An accountant
opens a posting and reads a voucher (凭证字号, account names, totals) whose JSON stays folded away
until asked for; a document as labelled fields; the accounts the job posts to on the mapping page;
what a reconciliation compared. Fails — never skips — when chromium is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext
from sqlalchemy import select

from tests.support.showcase import PROJECT_1, Showcase, serving
from tests.web.test_console_browser import sign_in
from tests.web.test_console_pages import own_posting
from tests.web.test_voucher_pages import sandbox_opener  # noqa: F401  (the module's fixture)
from yecai.reconcile import service as recon
from yecai.services import vouchers as views
from yecai.store.tables import Document

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(showcase: Showcase, sandbox_opener: views.Opener) -> Iterator[str]:  # noqa: F811
    app = showcase.app()
    charts = views.ChartCache()
    charts.chart("kingdee", sandbox_opener)
    app.state.charts = charts
    with serving(app) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    made.set_default_timeout(10_000)
    try:
        yield made
    finally:
        made.close()


def test_an_accountant_reads_a_voucher(showcase: Showcase, context: BrowserContext, base_url: str) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    page = sign_in(context, base_url, "finance")
    page.goto(f"{base_url}/postings/{posted.id}")
    voucher = page.locator("[data-testid=voucher]")
    assert voucher.is_visible()
    assert page.inner_text("[data-testid=voucher-word]") == (posted.kingdee_number or "").split(" ")[1]
    lines = page.locator("[data-testid=voucher-lines] tbody tr")
    assert lines.count() >= 2
    first = lines.nth(0).inner_text()
    assert "_" in first  # the account's full name from the chart (合同履约成本_… / 应付账款_…)
    # long 摘要 wrap instead of pushing the amounts off the page
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    totals = page.inner_text("[data-testid=voucher-totals]")
    assert totals.count(f"{posted.debit_total:,.2f}") == 2
    # the JSON is for integrators: folded until opened
    request = page.locator("[data-testid=posting-request]")
    assert not request.is_visible()
    page.click("[data-testid=posting-json] summary")
    assert request.is_visible()
    assert "FEntity" in request.inner_text()


def test_a_document_as_labelled_fields(showcase: Showcase, context: BrowserContext, base_url: str) -> None:
    with showcase.store.sessions() as session:
        cost = session.scalars(
            select(Document).where(Document.kind == "cost_record", Document.project_code == PROJECT_1)
        ).first()
    assert cost is not None
    page = sign_in(context, base_url, "finance")
    page.goto(f"{base_url}/documents/{cost.id}")
    fields = page.inner_text("[data-testid=document-fields]")
    assert "项目编码" in fields
    assert PROJECT_1 in fields
    assert not page.locator("[data-testid=document-data]").is_visible()


def test_the_mapping_page_names_the_accounts_in_use(context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url, "finance")
    page.goto(f"{base_url}/mappings/books")
    table = page.inner_text("[data-testid=accounts-cas]")
    assert "5401.01" in table
    assert "合同履约成本_人工费" in table
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_reconciliation_shows_its_evidence(
    showcase: Showcase,
    context: BrowserContext,
    base_url: str,
    sandbox_opener: views.Opener,  # noqa: F811
) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    period = (posted.kingdee_number or "").split(" ")[0]
    with sandbox_opener("kingdee") as client:
        report = recon.reconcile(showcase.store, client, kingdee_connection="kingdee", period=period)
    page = sign_in(context, base_url, "finance")
    page.goto(f"{base_url}/reconciliations/{report.run_id}")
    evidence = page.locator("[data-testid=recon-evidence]")
    assert evidence.is_visible()
    row = page.locator(f"[data-testid=recon-evidence] tr[data-period='{period}']").inner_text()
    assert row.split()[0] == period
    assert page.locator("[data-testid=recon-incomplete]").count() == 0

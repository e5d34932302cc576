"""Report pages and the projects list in a real browser (issue 14, items 3 and 9).

Debian's chromium driven by Playwright against the real app on uvicorn, over a real world of 50
projects (sandbox.pm → sync → sandbox.kingdee) whose costs and revenue fall in 2026-10. The P&L
page opens on that period and says why; its money cards hold amounts up to 999,999,999,999.99
without clipping at any usual width; the HTML monthly report charts every project (or the top N
and "others") with no label drawn over another; the projects list searches by code or name and
its 合计 row is the sum of the rows. Fails — never skips — when chromium is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from tests.support.report_world import ReportWorld, report_world
from tests.support.showcase import serving
from yecai import jsonutil
from yecai.auth.principal import SYSTEM
from yecai.auth.roles import Role
from yecai.auth.users import create_user
from yecai.reports import service
from yecai.reports.html import monthly_html
from yecai.services import trace
from yecai.store.tables import Document, Record

pytestmark = pytest.mark.browser

PASSWORD = "pw-browser-123456"
LATEST = "2026-10"
HUGE = Decimal("999999999999.99")  # the largest amount a card must hold
CASH_TOP = 15  # the cash chart's named projects; the other 35 are one row


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    with report_world(tmp_path_factory.mktemp("report-browser"), projects=50, months=1) as built:
        create_user(built.store, username="fin", role=Role.FINANCE.value, by=SYSTEM, password=PASSWORD)
        yield built


@pytest.fixture(scope="module")
def base_url(world: ReportWorld) -> Iterator[str]:
    from yecai.web.app import create_app

    with serving(create_app(world.store, settings=world.settings)) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    made.set_default_timeout(15_000)
    try:
        yield made
    finally:
        made.close()


def sign_in(context: BrowserContext, base_url: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/login?next=/")
    page.fill("input[name=username]", "fin")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


def _huge_contract(world: ReportWorld, code: str) -> None:
    """The project's next version from the source, with the largest contract value a card must hold."""
    with world.store.transaction() as session:
        latest = session.scalars(
            select(Document)
            .where(Document.kind == "project", Document.source_key == code)
            .order_by(Document.id.desc())
        ).first()
        assert latest is not None
        data = jsonutil.loads(latest.data)
        data["contract_value"] = HUGE
        old = session.get(Record, latest.record_id)
        assert old is not None
        record = Record(
            connection=old.connection,
            stream=old.stream,
            source_key=code,
            content_hash=jsonutil.content_hash(data),
            revision=old.revision + 1,
            payload=jsonutil.dumps(data),
            status="valid",
        )
        session.add(record)
        session.flush()
        session.add(
            Document(
                record_id=record.id,
                connection=latest.connection,
                kind="project",
                source_key=code,
                version=record.content_hash,
                project_code=code,
                business_date=latest.business_date,
                data=jsonutil.dumps(data),
            )
        )


CLIPPED = """() => [...document.querySelectorAll('.money-kpis .kpi, .money-kpis .kpi-value')]
  .filter(e => e.scrollWidth > e.clientWidth).map(e => e.className + ': ' + e.textContent)"""


def test_pnl_opens_on_the_latest_period_and_its_cards_hold_any_amount(
    world: ReportWorld, context: BrowserContext, base_url: str
) -> None:
    code = world.dataset.projects[0].project_code
    _huge_contract(world, code)
    page = sign_in(context, base_url)
    page.goto(f"{base_url}/projects/{code}/pnl")
    assert page.input_value("[data-testid=pnl-period]") == LATEST
    assert page.inner_text("[data-testid=period-choice]") == "期间 2026-10（最近有数据的期间）"
    page.wait_for_selector("[data-testid=chart-trend][data-chart-ready]")
    card = page.locator('[data-figure="contract_value"]')
    assert card.inner_text().replace("\n", "") == f"{HUGE:,.2f}"
    for width in (1400, 1100, 900, 700, 420):  # desktop down to a phone held upright
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(CLIPPED) == [], width
        box = card.bounding_box()
        parent = page.locator(".money-kpis .kpi").first.bounding_box()
        assert box is not None
        assert parent is not None
        assert box["x"] + box["width"] <= parent["x"] + parent["width"] + 0.5, width
    page.set_viewport_size({"width": 1400, "height": 900})
    # the realistic one from the demo, on one line at desktop width
    page.goto(f"{base_url}/projects/{world.dataset.projects[1].project_code}/pnl")
    value = page.locator('[data-figure="contract_value"]')
    assert page.evaluate(CLIPPED) == []
    height = value.evaluate("e => e.getBoundingClientRect().height")
    line = value.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert height < line * 1.5  # not wrapped


def test_the_monthly_page_opens_on_the_latest_period(context: BrowserContext, base_url: str) -> None:
    page = sign_in(context, base_url)
    page.goto(f"{base_url}/reports/monthly")
    assert page.input_value("[data-testid=monthly-period]") == LATEST
    assert "最近有数据的期间" in page.inner_text("[data-testid=period-choice]")


def _overlaps(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["right"] <= b["left"]
                or b["right"] <= a["left"]
                or a["bottom"] <= b["top"]
                or b["bottom"] <= a["top"]
            )
            if not apart:
                found.append((a["text"], b["text"]))
    return found


TEXT_BOXES = """svg => [...svg.querySelectorAll('text')].map(t => {
  const r = t.getBoundingClientRect();
  return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
})"""


def test_the_html_report_charts_every_project_with_readable_labels(
    world: ReportWorld, browser: Browser
) -> None:
    period = service.default_period(world.store, world.workspace)
    report = service.monthly(
        world.store, world.workspace, period=period.period, choice=period, who=SYSTEM, secrets=world.secrets
    )
    assert len(report.projects) == 50
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_content(monthly_html(report))
        margin = page.locator("[data-chart-card=margin] svg")
        labels = margin.locator("text.row-label")
        assert labels.count() == 50
        shown = {labels.nth(i).locator("title").text_content() for i in range(50)}
        assert shown == {
            f"{p.code} {p.name}" for p in report.projects
        }  # every project, whole names in titles
        margins = [p.margin_to_date for p in sorted(report.projects, key=lambda p: -p.margin_to_date)]
        assert margins == sorted(margins, reverse=True)
        cash = page.locator("[data-chart-card=cash] svg")
        rows = cash.locator("text.row-label")
        assert rows.count() == CASH_TOP + 1
        assert rows.nth(CASH_TOP).locator("title").text_content() == "其他 35 个项目 / 35 others"
        for chart in (margin, cash):
            boxes = chart.evaluate(TEXT_BOXES)
            assert _overlaps(boxes) == []
            assert all(b["right"] - b["left"] > 0 for b in boxes)
            svg_box = chart.bounding_box()
            assert svg_box is not None
            assert all(b["left"] >= svg_box["x"] - 0.5 for b in boxes)  # no label cut off on the left
    finally:
        page.close()


def _money(text: str) -> Decimal:
    return Decimal("0") if text.strip() == "—" else Decimal(text.replace(",", ""))


def _column_sum(page: Page, column: str) -> Decimal:
    cells = page.locator(f'[data-testid=projects] tbody td[data-money="{column}"]').all_inner_texts()
    return sum((_money(c) for c in cells), Decimal(0))


def test_projects_list_searches_and_its_totals_row_sums_the_rows(
    world: ReportWorld, context: BrowserContext, base_url: str
) -> None:
    page = sign_in(context, base_url)
    page.goto(f"{base_url}/projects")
    rows = page.locator("[data-testid=projects] tbody tr")
    assert rows.count() == 50
    for column in ("contract_value", "cost_total"):
        total = _money(page.inner_text(f'[data-testid=projects-totals] [data-total="{column}"]'))
        assert total == _column_sum(page, column), column
    service_totals = trace.project_totals(trace.projects(world.store, SYSTEM))
    assert _money(page.inner_text('[data-total="cost_total"]')) == service_totals.cost_total
    assert "合计（50 个项目）" in page.inner_text("[data-testid=projects-totals]")
    page.fill("[data-testid=projects-q]", "XM202600")
    page.press("[data-testid=projects-q]", "Enter")
    page.wait_for_url("**/projects?q=XM202600")
    codes = page.locator("[data-testid=projects] tbody tr td:first-child").all_inner_texts()
    assert codes == [f"XM202600{n}" for n in range(1, 10)]
    assert "合计（9 个项目）" in page.inner_text("[data-testid=projects-totals]")
    for column in ("contract_value", "cost_total"):
        total = _money(page.inner_text(f'[data-total="{column}"]'))
        assert total == _column_sum(page, column), column
    name = world.dataset.projects[11].project_name
    page.fill("[data-testid=projects-q]", name[2:7])  # part of a Chinese name
    page.press("[data-testid=projects-q]", "Enter")
    page.wait_for_load_state()
    names = page.locator("[data-testid=projects] tbody tr td:nth-child(2)").all_inner_texts()
    assert name in names
    assert all(name[2:7] in n for n in names)

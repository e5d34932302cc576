"""Reports default to the latest period with data, and say so (issue 14, item 3).

A real small world whose costs and revenue fall in 2026-10 while payments run on into the
following months: the calendar's last month (and the latest posting of any kind) would show
本月 0.00. Without a period the console pages, the API, the monthly files and `yecai report
monthly` all take 2026-10 from one function and name the basis; with nothing posted the source
decides, with nothing at all the calendar; and no trend ends in a month with no figures at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.support.report_world import ReportWorld, report_world
from yecai.auth.principal import SYSTEM
from yecai.auth.roles import Role
from yecai.auth.users import create_user
from yecai.cli.main import app as cli
from yecai.reports import service
from yecai.reports.html import monthly_html
from yecai.reports.latest import PeriodBasis, PeriodChoice, latest_with_data
from yecai.reports.periods import Period
from yecai.store.db import open_store
from yecai.store.tables import Document, Posting
from yecai.web.app import create_app

pytestmark = pytest.mark.slow

LATEST = Period(2026, 10)  # the world's one month of costs and revenue
PASSWORD = "pw-period-123456"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    with report_world(tmp_path_factory.mktemp("period"), months=1) as built:
        create_user(built.store, username="fin", role=Role.FINANCE.value, by=SYSTEM, password=PASSWORD)
        yield built


@pytest.fixture
def client(world: ReportWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.store, settings=world.settings)) as made:
        signed = made.post("/api/v1/session", json={"username": "fin", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        yield made


def test_the_default_is_the_latest_period_with_report_figures(world: ReportWorld) -> None:
    with world.store.sessions() as session:
        last_posting = session.scalar(select(func.max(Posting.business_date)))
    assert last_posting is not None
    assert Period.of(last_posting) > LATEST
    later = dt.date(2027, 5, 20)  # whatever the calendar says
    chosen = service.default_period(world.store, world.workspace, today=later)
    assert chosen == PeriodChoice(LATEST, PeriodBasis.POSTINGS)
    assert str(chosen) == "期间 2026-10（最近有数据的期间） / period 2026-10 (latest with data)"


def test_nothing_posted_the_source_decides_and_with_nothing_the_calendar(
    world: ReportWorld, tmp_path: Path
) -> None:
    with world.store.sessions() as session:
        newest = session.scalar(
            select(func.max(Document.business_date)).where(Document.kind == "cost_record")
        )
    assert newest is not None
    unposted = latest_with_data(world.store, kingdee="another-kingdee", source="pm", accounts={"5401.01"})
    assert unposted == PeriodChoice(Period.of(newest), PeriodBasis.SOURCE)
    assert "尚未过账" in unposted.zh
    assert "not yet posted" in unposted.en
    empty = open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    try:
        nothing = service.default_period(empty, None, today=dt.date(2027, 1, 9))
    finally:
        empty.close()
    assert nothing == PeriodChoice(Period(2026, 12), PeriodBasis.CALENDAR)
    assert "工作区尚无数据" in nothing.zh


def test_cli_report_monthly_without_a_period(world: ReportWorld, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["report", "monthly", "--out", str(out), "--workspace", str(world.settings.workspace)]
    args += ["--database-url", world.settings.store_url()]
    result = CliRunner().invoke(cli, args, env={"YECAI_WORKDIR": str(world.workdir)})
    assert result.exit_code == 0, result.output
    assert "期间 2026-10（最近有数据的期间） / period 2026-10 (latest with data)" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["monthly-2026-10.html", "monthly-2026-10.xlsx"]
    html = (out / "monthly-2026-10.html").read_text(encoding="utf-8")
    assert "最近有数据的期间" in html
    overview = CalamineWorkbook.from_path(str(out / "monthly-2026-10.xlsx")).get_sheet_by_name(
        "概览 Overview"
    )
    assert "latest with data" in str(overview.to_python()[1][0])
    asked = CliRunner().invoke(cli, [*args, "--period", "2026-10"], env={"YECAI_WORKDIR": str(world.workdir)})
    assert asked.exit_code == 0, asked.output
    assert "最近有数据" not in asked.output  # a period asked for needs no explaining


def test_api_and_console_default_to_the_same_period(world: ReportWorld, client: TestClient) -> None:
    monthly = client.get("/api/v1/reports/monthly")
    assert monthly.status_code == 200, monthly.text
    body = monthly.json()
    assert body["period"] == str(LATEST)
    assert body["period_choice"] == {
        "basis": "postings",
        "zh": "期间 2026-10（最近有数据的期间）",
        "en": "period 2026-10 (latest with data)",
    }
    assert body["overview"]["cost_period"] != "0.00"  # 本月 has figures
    code = body["projects"][0]["code"]
    pnl = client.get(f"/api/v1/projects/{code}/pnl")
    assert pnl.json()["period"] == str(LATEST)
    download = client.get("/api/v1/reports/monthly.html")
    assert "monthly-2026-10.html" in download.headers["content-disposition"]
    assert "期间 2026-10（最近有数据的期间）" in download.text
    page = client.get("/reports/monthly")
    assert 'value="2026-10"' in page.text
    assert 'data-testid="period-choice"' in page.text
    assert "最近有数据的期间" in page.text
    project = client.get(f"/projects/{code}/pnl")
    assert project.status_code == 200, project.text
    assert 'value="2026-10"' in project.text
    assert "期间 2026-10（最近有数据的期间）" in project.text
    named = client.get(f"/projects/{code}/pnl?period=2026-10")
    assert 'data-testid="period-choice"' not in named.text
    bad = client.get(f"/projects/{code}/pnl?period=2026-13")  # a bad one: said, and the default shown
    assert "2026-13" in bad.text
    assert 'value="2026-10"' in bad.text


def test_a_trend_never_ends_in_a_month_without_figures(world: ReportWorld) -> None:
    empty_month = Period(2027, 2)  # after every cost and revenue
    report = service.monthly(
        world.store, world.workspace, period=empty_month, who=SYSTEM, secrets=world.secrets
    )
    trend = report.trend()
    assert list(trend)[-1] == str(LATEST)
    assert all(cost or revenue for cost, revenue in trend.values())
    for project in report.projects:
        assert all(point.cost or point.revenue for point in project.trend), project.code
    # the month of the figures keeps a quiet project's zero: the books have figures then
    current = service.monthly(world.store, world.workspace, period=LATEST, who=SYSTEM, secrets=world.secrets)
    assert all(p.trend[-1].period == str(LATEST) for p in current.projects if p.trend)


def test_the_html_page_says_which_period(world: ReportWorld) -> None:
    chosen = service.default_period(world.store, world.workspace)
    report = service.monthly(
        world.store, world.workspace, period=chosen.period, choice=chosen, who=SYSTEM, secrets=world.secrets
    )
    assert report.period_note == ("期间 2026-10（最近有数据的期间）", "period 2026-10 (latest with data)")
    named = service.monthly(world.store, world.workspace, period=LATEST, who=SYSTEM, secrets=world.secrets)
    assert named.period_note is None
    assert re.search(r"data-section=\"period-choice\"", monthly_html(report)) is not None

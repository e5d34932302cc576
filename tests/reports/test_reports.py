"""Reports equal what Kingdee holds: P&L and monthly operating analysis on a real small world.

sandbox.pm (4 projects, 2 months) → sync (costs, revenue by progress, payments) → sandbox.kingdee;
the report's per-project revenue and cost are checked against voucher lines read independently
with Kingdee's official SDK. Also: native Excel charts, inert formula-like text, the HTML, the
CLI contract (one .xlsx + one .html, exit 0; bad period exit 2) and project-manager scoping.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.support.kingdee_calls import sdk_client
from tests.support.report_world import ReportWorld, report_world
from yecai.auth.principal import SYSTEM, Principal
from yecai.auth.roles import Role
from yecai.auth.sessions import create_token
from yecai.auth.users import create_user
from yecai.cli.main import app as cli
from yecai.reports import service
from yecai.reports.cells import TRIGGERS, inert
from yecai.reports.excel import monthly_workbook
from yecai.reports.html import monthly_html
from yecai.reports.ledger import KingdeeUnreadable
from yecai.reports.monthly import MonthlyOptions, monthly_report
from yecai.reports.periods import Period
from yecai.web.app import create_app
from yecai.workspace import parse_workspace

pytestmark = pytest.mark.slow

PERIOD = Period(2026, 11)  # the sandbox's second month (it starts 2026-10)


@pytest.fixture(scope="module")
def monthly_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    with report_world(tmp_path_factory.mktemp("reports")) as built:
        yield built


@pytest.fixture(scope="module")
def report(monthly_world: ReportWorld) -> object:
    return service.monthly(
        monthly_world.store, monthly_world.workspace, period=PERIOD, who=SYSTEM, secrets=monthly_world.secrets
    )


def kingdee_by_sdk(world: ReportWorld) -> dict[str, dict[str, Decimal]]:
    """项目 → {revenue, cost, revenue_month, cost_month}, summed from voucher lines via the SDK."""
    sdk = sdk_client(world.credentials)
    keys = [
        "FDate",
        "FDocumentStatus",
        "FACCOUNTID.FNumber",
        "FDetailID.FF100001.FNumber",
        "FDEBIT",
        "FCREDIT",
    ]
    rows: list[list[object]] = []
    start = 0
    while True:
        raw = sdk.ExecuteBillQuery(
            {"FormId": "GL_VOUCHER", "FieldKeys": ",".join(keys), "StartRow": start, "Limit": 2000}
        )
        page = json.loads(raw, parse_float=Decimal)
        rows.extend(page)
        if len(page) < 2000:
            break
        start += 2000
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for date, status, account, project, debit, credit in rows:
        if not project or status == "Z" or str(date)[:7] > str(PERIOD):
            continue
        month = str(date)[:7] == str(PERIOD)
        if account == "6001":
            sums[project]["revenue"] += Decimal(credit) - Decimal(debit)
            if month:
                sums[project]["revenue_month"] += Decimal(credit) - Decimal(debit)
        elif str(account).startswith("5401."):
            sums[project]["cost"] += Decimal(debit)
            if month:
                sums[project]["cost_month"] += Decimal(debit)
    return sums


def test_revenue_and_cost_equal_what_kingdee_holds(monthly_world: ReportWorld, report: object) -> None:
    assert_equal_to_kingdee(monthly_world, report)


def test_the_same_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with report_world(tmp_path / "pg", projects=3, database_url=pg_url) as built:
        assert built.store.engine.dialect.name == "postgresql"
        built_report = service.monthly(
            built.store, built.workspace, period=PERIOD, who=SYSTEM, secrets=built.secrets
        )
        assert_equal_to_kingdee(built, built_report)


def assert_equal_to_kingdee(world: ReportWorld, report: object) -> None:
    expected = kingdee_by_sdk(world)
    assert sum(v["revenue"] for v in expected.values()) > 0, "the world must have revenue posted"
    projects = {p.kingdee_number: p for p in report.projects}  # type: ignore[attr-defined]
    assert set(expected) <= set(projects)
    for number, p in projects.items():
        sums = expected.get(number, {})
        assert p.revenue_to_date == sums.get("revenue", Decimal(0)), number
        assert p.cost_to_date == sums.get("cost", Decimal(0)), number
        assert p.revenue_period == sums.get("revenue_month", Decimal(0)), number
        assert p.cost_period == sums.get("cost_month", Decimal(0)), number
        assert p.margin_to_date == p.revenue_to_date - p.cost_to_date
    overview = report.overview  # type: ignore[attr-defined]
    assert overview.revenue_to_date == sum((v["revenue"] for v in expected.values()), Decimal(0))
    assert overview.cost_to_date == sum((v["cost"] for v in expected.values()), Decimal(0))


def test_budget_to_date_follows_progress(monthly_world: ReportWorld, report: object) -> None:
    for p in report.projects:  # type: ignore[attr-defined]
        assert p.budget == sum((c.budget for c in p.categories), Decimal(0))
        if p.budget_basis == "progress":
            share = p.percent_complete / 100
            for c in p.categories:
                assert abs(c.budget_to_date - c.budget * share) <= Decimal("0.005")
        if p.budget_to_date:
            expected = ((p.cost_to_date - p.budget_to_date) / p.budget_to_date * 100).quantize(Decimal("0.1"))
            assert p.variance_pct == expected


def test_excel_has_native_charts_and_html_the_figures(
    monthly_world: ReportWorld, report: object, tmp_path: Path
) -> None:
    written = service.write_monthly(report, tmp_path)  # type: ignore[arg-type]
    with zipfile.ZipFile(written.xlsx) as book:
        charts = [n for n in book.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        kinds = "".join(book.read(n).decode() for n in charts)
    assert len(charts) >= 5
    assert "<c:pieChart>" in kinds
    assert "<c:lineChart>" in kinds
    assert "<c:barChart>" in kinds
    text = written.html.read_text(encoding="utf-8")
    assert "<script" not in text  # renders offline, no script at all
    assert "<svg" in text
    for p in report.projects:  # type: ignore[attr-defined]
        assert f"{p.revenue_to_date:,.2f}" in text
        assert f"{p.cost_to_date:,.2f}" in text
    sheets = CalamineWorkbook.from_path(str(written.xlsx))
    rows = sheets.get_sheet_by_name("毛利排名 By margin").to_python()
    assert rows[2][0] == "项目编码 code"
    by_code = {row[0]: row for row in rows[3:]}
    for p in report.projects:  # type: ignore[attr-defined]
        assert Decimal(str(by_code[p.code][5])).quantize(Decimal("0.01")) == p.revenue_to_date


def test_formula_like_text_is_inert_in_the_workbook_and_escaped_in_html(report: object) -> None:
    evil = '=HYPERLINK("http://evil.example","点我")'
    figures = dataclasses.replace(report.figures)  # type: ignore[attr-defined]
    figures.projects = [dataclasses.replace(p, name=evil, manager="@SUM(1+1)") for p in figures.projects]
    poisoned = monthly_report(figures, MonthlyOptions())
    data = monthly_workbook(poisoned)
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheets = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in sheet for sheet in sheets), "no cell may hold a formula"
    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("毛利排名 By margin").to_python()
    )
    assert rows[3][1] == "'" + evil
    assert rows[3][2] == "'@SUM(1+1)"
    html = monthly_html(poisoned)
    assert "<script" not in html
    assert "HYPERLINK(&#34;http" in html


@given(st.text())
def test_inert_never_leaves_a_formula_start(text: str) -> None:
    safe = inert(text)
    assert not safe.startswith(TRIGGERS)
    assert safe == text or safe == "'" + text  # only ever one apostrophe in front, nothing lost
    assert (safe != text) == text.startswith(TRIGGERS)


def test_cli_writes_one_xlsx_and_one_html(
    monthly_world: ReportWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YECAI_WORKDIR", str(monthly_world.workdir))
    out = tmp_path / "out"
    args = ["report", "monthly", "--period", str(PERIOD), "--out", str(out)]
    args += [
        "--workspace",
        str(monthly_world.settings.workspace),
        "--database-url",
        monthly_world.settings.store_url(),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["monthly-2026-11.html", "monthly-2026-11.xlsx"]
    assert "monthly-2026-11.xlsx" in result.output
    bad = CliRunner().invoke(cli, ["report", "monthly", "--period", "2026-13", "--out", str(out)])
    assert bad.exit_code == 2
    assert "期间" in bad.output
    assert "period" in bad.output
    pnl = CliRunner().invoke(
        cli,
        [
            "report",
            "pnl",
            "--project",
            "XM2026002",
            "--period",
            str(PERIOD),
            "--workspace",
            str(monthly_world.settings.workspace),
            "--database-url",
            monthly_world.settings.store_url(),
        ],
    )
    assert pnl.exit_code == 0, pnl.output
    assert "材料费" in pnl.output


def test_unreadable_kingdee_fails_clearly(monthly_world: ReportWorld) -> None:
    data = monthly_world.workspace.model_dump(mode="json", exclude={"base_dir"})
    data["connections"]["kingdee"]["server_url"] = "http://127.0.0.1:9/K3Cloud/"
    data["connections"]["kingdee"]["timeout_seconds"] = 2
    broken = parse_workspace(data, monthly_world.workdir)
    with pytest.raises(KingdeeUnreadable, match="无法从金蝶"):
        service.read_figures(
            monthly_world.store, broken, period=PERIOD, who=SYSTEM, secrets=monthly_world.secrets
        )


def test_project_managers_see_their_projects_only(monthly_world: ReportWorld) -> None:
    create_user(
        monthly_world.store,
        username="pm-a",
        role=Role.PROJECT_MANAGER.value,
        by=SYSTEM,
        password="pw-a-123456789",
        projects=("XM2026002",),
    )
    _, pm_token = create_token(monthly_world.store, username="pm-a", name="t", by=SYSTEM)
    create_user(
        monthly_world.store, username="fin", role=Role.FINANCE.value, by=SYSTEM, password="pw-f-123456789"
    )
    _, fin_token = create_token(monthly_world.store, username="fin", name="t", by=SYSTEM)
    client = TestClient(create_app(monthly_world.store, settings=monthly_world.settings))
    pm = {"Authorization": f"Bearer {pm_token}"}
    fin = {"Authorization": f"Bearer {fin_token}"}
    own = client.get(f"/api/v1/projects/XM2026002/pnl?period={PERIOD}", headers=pm)
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["project"]["code"] == "XM2026002"
    assert body["charts"]["categories"]["labels"][1] == "材料费"
    assert client.get(f"/api/v1/projects/XM2026003/pnl?period={PERIOD}", headers=pm).status_code == 404
    mine = client.get(f"/api/v1/reports/monthly?period={PERIOD}", headers=pm).json()
    assert [p["code"] for p in mine["projects"]] == ["XM2026002"]
    everyone = client.get(f"/api/v1/reports/monthly?period={PERIOD}", headers=fin).json()
    assert len(everyone["projects"]) == 4
    assert mine["overview"]["revenue_to_date"] == next(
        p["revenue_to_date"] for p in everyone["projects"] if p["code"] == "XM2026002"
    )
    xlsx = client.get(f"/api/v1/reports/monthly.xlsx?period={PERIOD}", headers=pm)
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    assert "monthly-2026-11.xlsx" in xlsx.headers["content-disposition"]
    html = client.get(f"/api/v1/reports/monthly.html?period={PERIOD}", headers=pm)
    assert "XM2026002" in html.text
    assert "XM2026003" not in html.text
    assert client.get("/api/v1/reports/monthly?period=2026-1", headers=fin).status_code == 422


def test_console_pnl_page_and_export(monthly_world: ReportWorld) -> None:
    who = Principal("fin", Role.FINANCE, None)
    view = service.pnl(
        monthly_world.store,
        monthly_world.workspace,
        code="XM2026003",
        period=PERIOD,
        who=who,
        secrets=monthly_world.secrets,
    )
    assert view is not None
    client = TestClient(create_app(monthly_world.store, settings=monthly_world.settings))
    client.post("/api/v1/session", json={"username": "fin", "password": "pw-f-123456789"})
    page = client.get(f"/projects/XM2026003/pnl?period={PERIOD}")
    assert page.status_code == 200, page.text
    assert f"{view.project.revenue_to_date:,.2f}" in page.text
    assert "data-report-chart" in page.text
    assert "<script>" not in page.text  # data in attributes, drawn by /static/reports.js
    export = client.get(f"/projects/XM2026003/pnl.xlsx?period={PERIOD}")
    assert export.status_code == 200
    assert export.content[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(export.content)) as book:
        assert any(n.startswith("xl/charts/chart") for n in book.namelist())
    monthly = client.get("/reports/monthly")
    assert monthly.status_code == 200
    assert "/api/v1/reports/monthly.xlsx" in monthly.text

"""Vouchers as vouchers, documents as labelled fields, the chart in use, reconciliation evidence.

Issue 14 items 5–7 over HTTP (no browser; the browser walk is in test_voucher_browser.py): a
posting's page shows the voucher as Kingdee prints it — 凭证字号, lines with 摘要, account code and
name from the Kingdee chart, 核算维度 by name, debit/credit totals — with the JSON behind a fold; a
bill and a document as labelled fields; account names read once per connection and cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.showcase import PROJECT_1, Showcase
from tests.web.test_console_pages import HTML, own_posting, sign_in
from yecai.auth.principal import SYSTEM
from yecai.demo import identity_of
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.jsonutil import loads
from yecai.kingdee.client import KingdeeClient
from yecai.reconcile import service as recon
from yecai.sandbox.kingdee import start_sandbox
from yecai.services import accounts as account_service
from yecai.services import trace
from yecai.services import vouchers as views
from yecai.store.tables import Document, Posting
from yecai.workspace import load_workspace


@pytest.fixture(scope="module")
def sandbox_opener(showcase: Showcase) -> Iterator[views.Opener]:
    """sandbox.kingdee on the showcase's own books (the demo's data centre), as the chart's source."""
    server, credentials = start_sandbox(showcase.settings.workdir / "kingdee")

    def opener(connection: str) -> AbstractContextManager[KingdeeClient]:
        return KingdeeClient(str(credentials["server_url"]), identity_of(credentials), connection=connection)

    try:
        yield opener
    finally:
        server.stop()


@pytest.fixture(scope="module")
def finance(showcase: Showcase, sandbox_opener: views.Opener) -> Iterator[TestClient]:
    app = showcase.app()
    charts = views.ChartCache()
    charts.chart("kingdee", sandbox_opener)  # read once, as the first page would
    app.state.charts = charts
    client = sign_in(TestClient(app), "finance")
    try:
        yield client
    finally:
        client.close()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- the chart cache ---------------------------------------------------------------------------------


class FakeClient:
    def __init__(self, reads: list[str]) -> None:
        self.reads = reads

    def query_all(self, form_id: str, fields: list[str], condition: str = "") -> Iterator[list[Any]]:
        self.reads.append(form_id)
        if form_id == "BD_AccountBook":
            yield ["001", "KMB001"]
            yield ["002", "KMB002"]
        else:
            yield ["5401.04", "人工费", "合同履约成本_人工费", "KMB001"]
            yield ["5401.04", "材料费", "合同履约成本_材料费", "KMB002"]  # same number, another chart


def test_chart_is_read_once_per_connection_and_names_follow_the_book() -> None:
    reads: list[str] = []

    @contextmanager
    def opener(connection: str) -> Iterator[Any]:
        yield FakeClient(reads)

    cache = views.ChartCache()
    first = cache.chart("kingdee", opener)
    again = cache.chart("kingdee", opener)
    assert again is first
    assert reads == ["BD_AccountBook", "BD_Account"]
    named = first.account("5401.04", "001")
    assert named is not None
    assert named.full_name == "合同履约成本_人工费"
    other = first.account("5401.04", "002")
    assert other is not None
    assert other.name == "材料费"


def test_an_unreachable_kingdee_is_remembered_briefly_not_asked_on_every_page() -> None:
    now = [1000.0]
    calls: list[str] = []

    def opener(connection: str) -> Any:
        calls.append(connection)
        raise ConnectionError("connection refused")

    cache = views.ChartCache(clock=lambda: now[0])
    chart = cache.chart("kingdee", opener)
    assert not chart.available
    assert "refused" in (chart.problem or "")
    cache.chart("kingdee", opener)
    assert calls == ["kingdee"]
    now[0] += views.RETRY_AFTER_SECONDS + 1
    cache.chart("kingdee", opener)
    assert calls == ["kingdee", "kingdee"]


def test_every_document_field_has_a_label_in_both_languages() -> None:
    fields = {name for kind in DOCUMENT_TYPES.values() for name in kind.model_fields}
    missing = sorted(fields - set(views.DOCUMENT_FIELDS))
    assert not missing, f"label these document fields in yecai/services/vouchers.py: {missing}"


# --- the posting page --------------------------------------------------------------------------------


def test_a_posted_voucher_reads_like_kingdee_prints_it(
    showcase: Showcase, finance: TestClient, sandbox_opener: views.Opener
) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    detail = trace.posting_detail(showcase.store, SYSTEM, posted.id)
    assert detail is not None
    assert detail.posting.form_id == "GL_VOUCHER"
    page = finance.get(f"/postings/{posted.id}", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="voucher"' in html
    words = text_of(html)
    number = posted.kingdee_number or ""
    assert "凭证字号" in words
    assert number.split(" ")[1] in words
    # every line: 摘要, account code and its name from the Kingdee chart of the voucher's book
    with sandbox_opener("kingdee") as client:
        chart = views.read_chart(client)
    book = detail.payload["FAccountBookID"]["FNumber"]
    for entry in detail.payload["FEntity"]:
        assert entry["FEXPLANATION"] in words
        account = chart.account(entry["FACCOUNTID"]["FNumber"], book)
        assert account is not None
        assert account.full_name
        assert f"{account.number} {account.full_name}" in words
    # 核算维度 by name: the project's name, the supplier's name
    with showcase.store.sessions() as session:
        project = session.scalars(
            select(Document).where(Document.kind == "project", Document.project_code == PROJECT_1)
        ).first()
    assert project is not None
    assert f"项目：{loads(project.data)['name']} {PROJECT_1}" in words
    # debit and credit columns with totals that agree
    totals = re.search(r'data-testid="voucher-totals">(.*?)</tr>', html, re.S)
    assert totals is not None
    amounts = re.findall(r"[\d,]+\.\d\d", totals.group(1))
    assert amounts == [f"{posted.debit_total:,.2f}"] * 2
    # Kingdee's status in words, not its code; the JSON behind a fold
    assert re.search(r'data-testid="kingdee-status">创建<', html)
    assert '<details class="integrators" data-testid="posting-json">' in html
    assert re.search(r"<details[^>]*>.*data-testid=\"posting-request\"", html, re.S)


def test_the_voucher_in_english(showcase: Showcase, finance: TestClient) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    english = sign_in(TestClient(finance.app), "auditor")
    english.cookies.set("yecai_lang", "en")
    page = english.get(f"/postings/{posted.id}", headers=HTML)
    english.close()
    words = text_of(page.text)
    assert "Voucher number" in words
    assert "Debit" in words
    assert "Credit" in words
    assert "project：" in words


def test_a_bill_shows_labelled_fields(showcase: Showcase, finance: TestClient) -> None:
    with showcase.store.sessions() as session:
        bill = session.scalars(
            select(Posting).where(Posting.form_id == "CN_PAYAPPLY", Posting.payload.is_not(None))
        ).first()
    assert bill is not None
    page = finance.get(f"/postings/{bill.id}", headers=HTML)
    assert page.status_code == 200
    words = text_of(page.text)
    assert 'data-testid="bill-fields"' in page.text
    assert "往来单位类型 供应商" in words
    assert "申请付款金额" in words
    assert "收款方户名" in words
    section = re.search(r'data-testid="bill-fields">(.*?)</section>', page.text, re.S)
    assert section is not None
    assert "FCONTACTUNIT" not in section.group(1)


def test_a_document_shows_labelled_fields(showcase: Showcase, finance: TestClient) -> None:
    with showcase.store.sessions() as session:
        cost = session.scalars(
            select(Document).where(Document.kind == "cost_record", Document.project_code == PROJECT_1)
        ).first()
    assert cost is not None
    page = finance.get(f"/documents/{cost.id}", headers=HTML)
    html = page.text
    fields = re.search(r'data-testid="document-fields">(.*?)</dl>', html, re.S)
    assert fields is not None
    shown = text_of(fields.group(1))
    assert "项目编码" in shown
    assert "业务日期" in shown
    assert "金额" in shown
    assert "project_code" not in shown
    assert "business_date" not in shown
    assert re.search(r"<details[^>]*>.*data-testid=\"document-data\"", html, re.S)


def test_voucher_view_totals_and_names_without_a_chart() -> None:
    payload = {
        "FAccountBookID": {"FNumber": "001"},
        "FDate": "2026-10-12",
        "FEntity": [
            {
                "FEXPLANATION": "人工费",
                "FACCOUNTID": {"FNumber": "5401.04"},
                "FDetailID": {"FDETAILID__FF100001": {"FNumber": "XM1"}},
                "FDEBIT": "10.50",
                "FCREDIT": "0",
            },
            {
                "FEXPLANATION": "人工费",
                "FACCOUNTID": {"FNumber": "2202.02"},
                "FDetailID": {"FDETAILID__FFLEX4": {"FNumber": "S1"}},
                "FDEBIT": "0",
                "FCREDIT": "10.50",
            },
        ],
    }
    names = views.Names(projects={"XM1": "一号楼"}, parties={"S1": "某劳务公司"})
    flex = {"project": "FF100001", "supplier": "FFLEX4"}
    view = views.voucher_view(
        payload, number="2026-10 记-0012", chart=views.Chart(available=False), names=names, flex_keys=flex
    )
    assert (view.word, view.period, view.book) == ("记-0012", "2026-10", "001")
    assert view.debit_total == view.credit_total == Decimal("10.50")
    assert view.balanced
    assert [d.name for line in view.lines for d in line.dimensions] == ["一号楼", "某劳务公司"]
    assert [d.label_zh for line in view.lines for d in line.dimensions] == ["项目", "供应商"]
    assert not view.names_available


# --- the mapping page: the chart in use ------------------------------------------------------------


def test_the_mapping_page_shows_the_accounts_the_job_posts_to_with_names(
    showcase: Showcase, finance: TestClient
) -> None:
    page = finance.get("/mappings/books", headers=HTML)
    assert page.status_code == 200
    section = re.search(r'data-testid="accounts-in-use">(.*?)</section>', page.text, re.S)
    assert section is not None, "the mapping page lists no accounts in use"
    cas = re.search(r'data-testid="accounts-cas">(.*?)</table>', section.group(1), re.S)
    assert cas is not None
    words = text_of(cas.group(1))
    # the CAS accounts the demo's vouchers went to, with their names from Kingdee
    assert "5401.01 合同履约成本_人工费" in words
    assert "2202.02" in words
    assert "应付账款_" in words
    assert "企业会计准则" in text_of(section.group(1))
    # the vouchers' debit accounts are all listed
    with showcase.store.sessions() as session:
        payloads = session.scalars(
            select(Posting.payload).where(Posting.rule_set == "cost_actuals", Posting.state == "posted")
        ).all()
    used = {e["FACCOUNTID"]["FNumber"] for p in payloads for e in loads(p)["FEntity"]}
    assert used
    assert used <= set(re.findall(r'<td class="mono">([\d.]+)</td>', cas.group(1)))


# --- a reconciliation shows its evidence; a failed one shows no zeros ------------------------------


def test_a_reconciliation_shows_what_it_compared(
    showcase: Showcase, finance: TestClient, sandbox_opener: views.Opener
) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    period = (posted.kingdee_number or "").split(" ")[0]
    with sandbox_opener("kingdee") as client:
        report = recon.reconcile(showcase.store, client, kingdee_connection="kingdee", period=period)
    detail = recon.run_detail(showcase.store, SYSTEM, report.run_id)
    assert detail is not None
    (row,) = detail.run.evidence
    assert row["period"] == period
    assert row["yecai"]["vouchers"] > 0
    assert row["kingdee"]["vouchers"] >= row["yecai"]["vouchers"] - report.counts["missing_in_kingdee"]
    assert row["yecai"]["debit"] == row["yecai"]["credit"]
    page = finance.get(f"/reconciliations/{report.run_id}", headers=HTML)
    section = re.search(r'data-testid="recon-evidence">(.*?)</section>', page.text, re.S)
    assert section is not None, "the run's page does not say what was compared"
    words = text_of(section.group(1))
    yecai, kingdee = row["yecai"], row["kingdee"]
    expected = (
        f"{period} {yecai['vouchers']} {yecai['lines']} {Decimal(yecai['debit']):,.2f} "
        f"{Decimal(yecai['credit']):,.2f} {kingdee['vouchers']} {kingdee['lines']} "
        f"{Decimal(kingdee['debit']):,.2f} {Decimal(kingdee['credit']):,.2f}"
    )
    assert expected in words
    assert 'data-testid="recon-incomplete"' not in page.text


def test_a_failed_reconciliation_does_not_show_zeros_as_clean(
    showcase: Showcase, finance: TestClient
) -> None:
    class Unreachable:
        def query_all(self, *args: object, **kwargs: object) -> Iterator[list[Any]]:
            raise ConnectionError("金蝶不可达 / Kingdee unreachable")
            yield []  # a generator, as the client's

        def execute_bill_query(self, *args: object, **kwargs: object) -> list[list[Any]]:
            raise ConnectionError("金蝶不可达 / Kingdee unreachable")

    with pytest.raises(ConnectionError):
        recon.reconcile(showcase.store, Unreachable(), kingdee_connection="kingdee", period="2026-10")  # type: ignore[arg-type]
    failed = recon.runs(showcase.store, SYSTEM, limit=1)[0]
    assert failed.status == "failed"
    page = finance.get(f"/reconciliations/{failed.id}", headers=HTML)
    assert 'data-testid="recon-incomplete"' in page.text
    counts = re.search(r'data-testid="recon-counts">(.*?)</table>', page.text, re.S)
    assert counts is not None
    assert re.findall(r'<td class="num">([^<]*)</td>', counts.group(1)) == ["—"] * len(recon.KINDS)
    listing = finance.get("/reconciliations", headers=HTML)
    line = re.search(
        rf'<tr[^>]*>\s*<td[^>]*><a href="/reconciliations/{failed.id}">.*?</tr>', listing.text, re.S
    )
    assert line is not None
    assert ">0<" not in line.group(0)


def test_a_project_on_the_small_standard_adds_its_chart_from_its_book(
    showcase: Showcase, sandbox_opener: views.Opener, tmp_path: Path
) -> None:
    """Only the standards in use are listed, each named from its own book's chart (002: 小企业)."""
    space = yaml.safe_load((showcase.settings.workspace).read_text(encoding="utf-8"))
    table = yaml.safe_load(showcase.mapping.read_text(encoding="utf-8"))
    cas_only = account_service.chart_in_use(
        showcase.store,
        load_workspace(showcase.settings.workspace),
        "books",
        charts=views.ChartCache(),
        opener=sandbox_opener,
    )
    assert [s.standard for s in cas_only.standards] == ["cas"]
    table["projects"]["XM2026003"] = {"number": "XM2026003", "org": "200", "accounting_standard": "small"}
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(table, allow_unicode=True), encoding="utf-8")
    (tmp_path / "yecai.yaml").write_text(yaml.safe_dump(space, allow_unicode=True), encoding="utf-8")
    both = account_service.chart_in_use(
        showcase.store,
        load_workspace(tmp_path / "yecai.yaml"),
        "books",
        charts=views.ChartCache(),
        opener=sandbox_opener,
    )
    by_standard = {s.standard: s for s in both.standards}
    assert set(by_standard) == {"cas", "small"}
    assert by_standard["small"].books == ("002",)
    small = {a.number: a.name for a in by_standard["small"].accounts}
    assert small["4401.01.01"]
    assert small["4401.01.01"].startswith("工程施工")
    cas = {a.number: a.name for a in by_standard["cas"].accounts}
    assert cas["5401.01"] == "合同履约成本_人工费"


def test_without_kingdee_the_voucher_shows_codes_and_says_why(showcase: Showcase) -> None:
    """The showcase's Kingdee listens nowhere: the page still opens, with codes and a notice."""
    client = sign_in(TestClient(showcase.app()), "finance")
    posted = own_posting(showcase, PROJECT_1, state="posted")
    page = client.get(f"/postings/{posted.id}", headers=HTML)
    client.close()
    assert page.status_code == 200
    assert 'data-testid="chart-unavailable"' in page.text
    assert 'data-testid="voucher-lines"' in page.text


RAW = (
    "cost_actuals",
    "GL_VOUCHER",
    "CN_PAYAPPLY",
    "labour",
    "material",
    "machinery",
    "subcontract",
    "indirect",
)


def test_posting_and_document_pages_name_codes_in_words(showcase: Showcase, finance: TestClient) -> None:
    posted = own_posting(showcase, PROJECT_1, state="posted")
    page = finance.get(f"/postings/{posted.id}", headers=HTML).text
    shown = text_of(page.split('<details class="integrators"')[0])
    assert [raw for raw in RAW if raw in shown] == []
    assert "记账凭证" in shown
    with showcase.store.sessions() as session:
        cost = session.scalars(
            select(Document).where(Document.kind == "cost_record", Document.project_code == PROJECT_1)
        ).first()
    assert cost is not None
    document = finance.get(f"/documents/{cost.id}", headers=HTML).text
    shown = text_of(document.split('<details class="integrators"')[0])
    assert [raw for raw in RAW if raw in shown] == []
    mapping = finance.get("/mappings/books", headers=HTML).text
    section = re.search(r'data-testid="accounts-in-use">(.*?)</section>', mapping, re.S)
    assert section is not None
    assert "实际成本 人工费 借方" in text_of(section.group(1))
    assert "cost_actuals" not in text_of(section.group(1))


def test_a_supplier_mapped_by_hand_is_named_from_the_mapping_table(
    showcase: Showcase, tmp_path: Path
) -> None:
    space = yaml.safe_load(showcase.settings.workspace.read_text(encoding="utf-8"))
    table = yaml.safe_load(showcase.mapping.read_text(encoding="utf-8"))
    table["suppliers"] = {"南京手工映射建材有限公司": "VEN0042"}
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(table, allow_unicode=True), encoding="utf-8")
    (tmp_path / "yecai.yaml").write_text(yaml.safe_dump(space, allow_unicode=True), encoding="utf-8")
    names = views.names_of(showcase.store, "kingdee")
    assert "VEN0042" not in names.parties
    views.add_mapped_names(names, load_workspace(tmp_path / "yecai.yaml"), "kingdee")
    assert names.parties["VEN0042"] == "南京手工映射建材有限公司"

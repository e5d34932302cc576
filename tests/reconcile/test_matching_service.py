"""Invoice matching a user can run: the service on the store, `yecai match`, the API and its RBAC,
the Excel export.

The store is filled the way users fill it — sandbox.pm pulled through its connector, or a file
import — and the expected figures come from sandbox.pm's dataset matched directly, so the service's
reading of the store (latest versions, tombstones, the caller's projects) is what is tested.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.reconcile.test_matching import contracts, costs, invoice, payments
from yecai import jsonutil
from yecai.auth import sessions, users
from yecai.auth.principal import SYSTEM, Principal
from yecai.auth.roles import Role
from yecai.cli.main import app as cli
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.domain.documents import Invoice
from yecai.files.importer import import_file
from yecai.reconcile.matching import MatchingResult, Mismatch, match_contracts
from yecai.reconcile.matching_service import match_job
from yecai.reports.periods import Period
from yecai.sandbox.pm import Dataset
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.store.tables import Document, Record
from yecai.sync import intake
from yecai.web.app import create_app
from yecai.workspace import load_workspace

SOURCE = "pm"
PERIOD = "2026-10"
STREAMS = ("projects", "contracts", "cost_records", "invoices", "payment_requests")
OWN = "XM2026001"  # the project manager's project
PASSWORD = "Correct-Horse-9"


@dataclass
class Pm:
    base_url: str
    dataset: Dataset


@pytest.fixture(scope="module")
def pm() -> Iterator[Pm]:
    server, dataset = start_pm(projects=3, months=1, seed=42)
    try:
        yield Pm(server.base_url, dataset)
    finally:
        server.stop()


def pull(store: Store, pm: Pm) -> None:
    """What `yecai sync` does first: every stream matching reads, pulled and validated."""
    connector = PmSandboxConnector(pm.base_url, DEFAULT_TOKEN, connection=SOURCE)
    for stream in STREAMS:
        intake.pull(store, connector, stream, connection=SOURCE)
        intake.validate_staged(store, connector, stream, connection=SOURCE)


def write_workspace(workdir: Path, source: dict[str, object], name: str = SOURCE) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    space = {
        "connections": {
            name: source,
            "kd": {  # never called: matching reads the store only
                "kind": "kingdee",
                "server_url": "http://127.0.0.1:9/K3Cloud/",
                "acct_id": "a",
                "user_name": "u",
                "app_id": "1_x",
                "app_secret": "${KD_SECRET}",
            },
        },
        "syncs": {"books": {"source": name, "target": "kd"}},
    }
    path = workdir / "yecai.yaml"
    path.write_text(yaml.safe_dump(space, allow_unicode=True), encoding="utf-8")
    return path


def pm_workspace(workdir: Path, pm: Pm) -> Path:
    return write_workspace(
        workdir,
        {
            "kind": "source",
            "connector": "pm_sandbox",
            "base_url": pm.base_url,
            "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
        },
    )


def expected(pm: Pm) -> MatchingResult:
    """The dataset's own documents matched directly — what the store must give back."""
    ds = pm.dataset
    return match_contracts(
        contracts(ds), costs(ds), [invoice(i) for i in ds.invoices], payments(ds), period=PERIOD
    )


def manager(projects: tuple[str, ...]) -> Principal:
    return Principal("pm1", Role.PROJECT_MANAGER, frozenset(projects))


# --- the service ------------------------------------------------------------------------------------


def test_the_service_matches_what_the_store_holds(store: Store, pm: Pm, tmp_path: Path) -> None:
    pull(store, pm)
    space = load_workspace(pm_workspace(tmp_path, pm))
    want = expected(pm)
    assert want.rows
    assert want.unmatched
    report = match_job(store, space, None, period=Period.parse(PERIOD), who=SYSTEM)
    assert (report.job, report.source) == ("books", SOURCE)
    # latest versions only, tombstones left out (sandbox.pm deletes costs and payment requests)
    assert report.result.rows == want.rows
    assert report.result.unmatched == want.unmatched

    mine = match_job(store, space, None, period=Period.parse(PERIOD), who=manager((OWN,)))
    assert mine.result.rows == [r for r in want.rows if r.project_code == OWN]
    assert mine.result.unmatched == [u for u in want.unmatched if u.project_code == OWN]
    assert {r.project_code for r in want.rows} - {OWN}, "other projects exist and are hidden"

    other = sorted({r.project_code for r in want.rows} - {OWN})[0]
    one = match_job(store, space, "books", period=Period.parse(PERIOD), who=SYSTEM, project=other)
    assert one.result.rows == [r for r in want.rows if r.project_code == other]
    # a project manager asking for another's project gets nothing, not that project
    assert (
        match_job(
            store, space, None, period=Period.parse(PERIOD), who=manager((OWN,)), project=other
        ).result.rows
        == []
    )
    assert match_job(store, space, None, period=Period.parse(PERIOD), who=manager(())).result.rows == []


def _add_document(store: Store, model: Invoice, *, deleted: bool = False) -> None:
    data = model.model_dump(mode="json", exclude_none=True)
    with store.transaction() as session:
        record = Record(
            connection=SOURCE,
            stream="invoices",
            source_key=model.invoice_no,
            content_hash=jsonutil.content_hash({**data, "deleted": deleted}),
            revision=2 if deleted else 1,
            payload=jsonutil.dumps(data),
            status="valid",
        )
        session.add(record)
        session.flush()
        session.add(
            Document(
                record_id=record.id,
                connection=SOURCE,
                kind="invoice",
                source_key=model.invoice_no,
                version=record.content_hash,
                project_code=model.project_code,
                business_date=model.issue_date,
                amount=model.amount,
                deleted=deleted,
                data=jsonutil.dumps(data),
            )
        )


def test_an_invoice_without_a_project_counts_for_the_project_of_its_contract(tmp_path: Path, pm: Pm) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'y.sqlite'}")
    try:
        pull(store, pm)
        space = load_workspace(pm_workspace(tmp_path, pm))
        before = match_job(store, space, None, period=Period.parse(PERIOD), who=manager((OWN,)))
        row = next(r for r in before.result.rows if r.contract_no)
        theirs = next(
            c for c in contracts(pm.dataset) if c.project_code != OWN and c.contract_kind.value != "income"
        )
        base = {
            "direction": "in",
            "invoice_type": "special",
            "issue_date": "2026-10-20",
            "seller_name": row.counterparty,
            "buyer_name": "我司",
            "amount": "100.00",
            "tax_amount": "13.00",
            "total": "113.00",
        }
        _add_document(
            store, Invoice.model_validate({**base, "invoice_no": "99000001", "contract_no": row.key})
        )
        _add_document(
            store,
            Invoice.model_validate({**base, "invoice_no": "99000002", "contract_no": theirs.contract_no}),
        )
        after = match_job(store, space, None, period=Period.parse(PERIOD), who=manager((OWN,)))
        now = next(r for r in after.result.rows if r.key == row.key)
        assert now.invoiced_total == row.invoiced_total + 113
        assert {r.key for r in after.result.rows} == {r.key for r in before.result.rows}
        # the project-less invoice of another project's contract stays with that project
        everyone = match_job(store, space, None, period=Period.parse(PERIOD), who=SYSTEM)
        assert any(r.key == theirs.contract_no and r.invoiced_total >= 113 for r in everyone.result.rows)
        # deleted in the source (a tombstone version): it no longer counts
        _add_document(
            store,
            Invoice.model_validate({**base, "invoice_no": "99000001", "contract_no": row.key}),
            deleted=True,
        )
        again = match_job(store, space, None, period=Period.parse(PERIOD), who=manager((OWN,)))
        assert next(r for r in again.result.rows if r.key == row.key).invoiced_total == row.invoiced_total
    finally:
        store.close()


# --- the CLI and the API on one pulled store ---------------------------------------------------------


@dataclass
class World:
    store_url: str
    workspace: Path
    app_settings: Settings
    store: Store
    tokens: dict[str, str]
    want: MatchingResult


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pm: Pm) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("matching")
    url = f"sqlite:///{workdir / 'yecai.sqlite'}"
    store = open_store(url)
    try:
        pull(store, pm)
        path = pm_workspace(workdir, pm)
        tokens = {}
        for name, role, projects in (("finance", "finance", ()), ("pm1", "project_manager", (OWN,))):
            users.create_user(
                store, username=name, role=role, projects=projects, password=PASSWORD, by=SYSTEM
            )
            tokens[name] = sessions.create_token(store, username=name, name="tests", by=SYSTEM)[1]
        yield World(url, path, Settings(workspace=path, workdir=workdir), store, tokens, expected(pm))
    finally:
        store.close()


def invoke(args: list[str], workdir: Path) -> tuple[int, str]:
    # YECAI_WORKDIR: the secret box's key goes to the test's directory, not the checkout
    result = CliRunner().invoke(cli, args, env={"COLUMNS": "320", "YECAI_WORKDIR": str(workdir)})
    return result.exit_code, result.output


def match(world: World, *args: str) -> tuple[int, str]:
    base = ["match", "--workspace", str(world.workspace), "--database-url", world.store_url]
    return invoke([*base, *args], world.app_settings.workdir)


def test_match_prints_contracts_unmatched_and_a_count(world: World) -> None:
    code, out = match(world, "--period", PERIOD)
    assert code == 0, out
    assert "三单匹配" in out
    assert all(h in out for h in ("成本(不含税)", "cost ex-VAT", "价税合计", "invoiced total", "未到票"))
    for row in world.want.rows:
        assert row.key in out
        assert row.counterparty in out  # supplier names, not ids
        assert f"{row.cost:,.2f}" in out
    assert "有成本未到票 cost without invoice" in out
    counts = {m: sum(1 for u in world.want.unmatched if u.kind is m) for m in Mismatch}
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"合同/供应商 {len(world.want.rows)} 个，未匹配 {len(world.want.unmatched)} 项")
    assert f"有成本未到票 {counts[Mismatch.COST_WITHOUT_INVOICE]}" in last
    assert f"{len(world.want.unmatched)} unmatched" in last


def test_match_for_one_project_and_its_excel(world: World, tmp_path: Path) -> None:
    out_file = tmp_path / "三单匹配.xlsx"
    code, out = match(world, "--period", PERIOD, "--project", OWN, "--excel", str(out_file))
    assert code == 0, out
    mine = [r for r in world.want.rows if r.project_code == OWN]
    others = [r for r in world.want.rows if r.project_code != OWN]
    assert mine
    assert others
    assert all(r.key in out for r in mine)
    assert not any(r.key in out for r in others if r.contract_no)
    assert "已写出 written" in out
    book = CalamineWorkbook.from_path(str(out_file))
    assert book.sheet_names == ["三单匹配 Matching", "未匹配 Unmatched", "汇总 Summary"]
    sheet = book.get_sheet_by_name("三单匹配 Matching").to_python()
    assert sheet[0][:4] == [
        "合同/供应商 contract / supplier",
        "项目 project",
        "往来单位 supplier",
        "成本(不含税) cost ex-VAT",
    ]
    assert [r[0] for r in sheet[1:]] == [r.key for r in mine]
    assert [float(r[3]) for r in sheet[1:]] == [float(r.cost) for r in mine]
    unmatched = book.get_sheet_by_name("未匹配 Unmatched").to_python()
    assert len(unmatched) - 1 == sum(1 for u in world.want.unmatched if u.project_code == OWN)


def test_match_exit_codes(world: World, tmp_path: Path) -> None:
    code, out = match(world, "--period", "2026-13")
    assert code == 2
    assert "无效" in out
    assert "is invalid" in out
    code, out = match(world, "--period", PERIOD, "--job", "nope")
    assert code == 1
    assert "没有同步作业 nope" in out
    code, out = invoke(
        [
            "match",
            "--period",
            PERIOD,
            "--workspace",
            str(tmp_path / "absent.yaml"),
            "--database-url",
            world.store_url,
        ],
        tmp_path,
    )
    assert code == 1, out


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.store, settings=world.app_settings)) as client:
        yield client


def get(api: TestClient, world: World, who: str | None, **params: str) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who else {}
    answer = api.get("/api/v1/reconcile/matching", params=params, headers=headers)
    return answer.status_code, answer.json()


def test_the_api_answers_the_matching_as_json(api: TestClient, world: World) -> None:
    status, body = get(api, world, "finance", period=PERIOD)
    assert status == 200, body
    assert (body["job"], body["period"], body["project"]) == ("books", PERIOD, None)
    assert [r["key"] for r in body["rows"]] == [r.key for r in world.want.rows]
    first, row = body["rows"][0], world.want.rows[0]
    assert first["cost"] == f"{row.cost:f}"  # exact decimal text, never a float
    assert first["uninvoiced"] == f"{row.uninvoiced:f}"
    assert first["counterparty"] == row.counterparty
    assert body["total"] == len(world.want.unmatched) == sum(body["counts"].values())
    item = body["unmatched"][0]
    assert item["title_zh"] in {"有成本未到票", "有票无成本", "付款超过到票"}
    assert item["message_en"]


def test_a_project_manager_sees_only_their_projects_contracts(api: TestClient, world: World) -> None:
    status, body = get(api, world, "pm1", period=PERIOD)
    assert status == 200, body
    assert {r["project_code"] for r in body["rows"]} == {OWN}
    assert [r["key"] for r in body["rows"]] == [r.key for r in world.want.rows if r.project_code == OWN]
    assert {u["project_code"] for u in body["unmatched"]} <= {OWN}
    other = next(r.project_code for r in world.want.rows if r.project_code != OWN)
    status, body = get(api, world, "pm1", period=PERIOD, project=other)
    assert status == 200
    assert body["rows"] == []
    assert body["unmatched"] == []
    status, body = get(api, world, "finance", period=PERIOD, project=other)
    assert {r["project_code"] for r in body["rows"]} == {other}


def test_the_api_refuses_bad_input_and_strangers(api: TestClient, world: World) -> None:
    status, body = get(api, world, "finance", period="2026/10")
    assert status == 422
    assert "无效" in body["detail"]["message_zh"]
    status, body = get(api, world, "finance", period=PERIOD, job="nope")
    assert status == 422
    assert "nope" in body["detail"]["message_en"]
    status, _ = get(api, world, None, period=PERIOD)
    assert status == 401


# --- Excel: a payee that looks like a formula stays text ------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/x","付款")'


def test_a_formula_like_payee_is_text_in_the_workbook(tmp_path: Path) -> None:
    """Costs and payments imported from files; the payee's name starts with '='."""
    url = f"sqlite:///{tmp_path / 'y.sqlite'}"
    space = write_workspace(tmp_path / "ws", {"kind": "file"}, name="file")
    quoted = FORMULA.replace('"', '""')
    (tmp_path / "costs.csv").write_text(
        f'单据编号,项目编码,成本类别,业务日期,金额,供应商\nCB-1,P1,材料费,2026-10-05,1000.00,"{quoted}"\n',
        encoding="utf-8",
    )
    (tmp_path / "pay.csv").write_text(
        "申请单号,项目编码,收款单位,申请金额,申请日期,计划付款日期,状态\n"
        f'FK-1,P1,"{quoted}",500.00,2026-10-06,2026-10-08,已付款\n'
        f"FK-2,P1,@SUM(1+1),300.00,2026-10-06,2026-10-09,已付款\n",
        encoding="utf-8",
    )
    store = open_store(url)
    try:
        assert import_file(store, tmp_path / "costs.csv", kind="cost").counts.imported == 1
        assert import_file(store, tmp_path / "pay.csv", kind="payment_request").counts.imported == 2
    finally:
        store.close()
    out_file = tmp_path / "m.xlsx"
    code, out = invoke(
        [
            "match",
            "--period",
            PERIOD,
            "--workspace",
            str(space),
            "--database-url",
            url,
            "--excel",
            str(out_file),
        ],
        tmp_path,
    )
    assert code == 0, out
    assert FORMULA in out  # the terminal shows the name as it is
    book = CalamineWorkbook.from_path(str(out_file))
    rows = book.get_sheet_by_name("三单匹配 Matching").to_python()
    assert sorted(r[2] for r in rows[1:]) == sorted(["'" + FORMULA, "'@SUM(1+1)"])
    unmatched = book.get_sheet_by_name("未匹配 Unmatched").to_python()
    assert {r[3] for r in unmatched[1:]} == {"'" + FORMULA, "'@SUM(1+1)"}
    with zipfile.ZipFile(io.BytesIO(out_file.read_bytes())) as xlsx:
        sheets = [xlsx.read(n).decode() for n in xlsx.namelist() if n.startswith("xl/worksheets/")]
    assert sheets
    assert not any("<f>" in s or "<f " in s for s in sheets)

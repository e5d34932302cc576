"""Reconciliation end to end on SQLite and PostgreSQL: a real world of both sandboxes, a sync, then
each kind of difference planted — in sandbox.kingdee through Kingdee's official SDK, in the source
through sandbox.pm's clock — and found with its project, account, period and amounts."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.kingdee_calls import line, sdk_client, status_of, voucher
from tests.support.planting import PASSWORD
from tests.support.timeline import busiest_moment
from yecai import jsonutil
from yecai.auth import sessions, users
from yecai.auth.principal import SYSTEM
from yecai.cli.main import app as cli
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.reconcile.classify import KINDS
from yecai.reconcile.service import DifferenceView, ReconcileReport, RunView, reconcile
from yecai.reconcile.workbook import workbook
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.store.tables import Binding, Document, Posting, PostingLine
from yecai.sync import intake
from yecai.sync.pipeline import run_sync_job
from yecai.web.app import create_app

pytestmark = [pytest.mark.sdk, pytest.mark.slow]

SOURCE, KINGDEE = "pm", "kd"


class World:
    """sandbox.pm at a moment before its corrections, sandbox.kingdee, one sync (audited vouchers)."""

    def __init__(self, tmp_path: Path, store: Store) -> None:
        probe, dataset = start_pm(projects=3, months=1, seed=12)
        probe.stop()
        self.dataset = dataset
        self.pm, _ = start_pm(projects=3, months=1, seed=12, now=busiest_moment(dataset))
        self.kd, self.credentials = start_kingdee(tmp_path / "kd")
        self.connector = PmSandboxConnector(self.pm.base_url, DEFAULT_TOKEN)
        self.store = store
        self.rules = default_rule_set().model_copy(update={"submit": True, "audit": True})
        with self.client() as client:
            report = run_sync_job(
                store,
                self.connector,
                client,
                rule_sets=[self.rules],
                mapping=default_mapping(),
                source_connection=SOURCE,
                kingdee_connection=KINGDEE,
                backoff=0.01,
            )
        assert report.check.clean
        assert not report.send.failed
        self.sdk = sdk_client(self.credentials)

    def client(self) -> KingdeeClient:
        return KingdeeClient(
            str(self.credentials["server_url"]), identity_of(self.credentials), connection=KINGDEE
        )

    def reconcile(self, period: str | None) -> ReconcileReport:
        with self.client() as client:
            return reconcile(self.store, client, kingdee_connection=KINGDEE, period=period, job="books")

    def postings(self) -> list[Posting]:
        with self.store.transaction() as session:
            found = session.scalars(
                select(Posting).where(Posting.state == "posted").order_by(Posting.id)
            ).all()
            session.expunge_all()
            return list(found)

    def stop(self) -> None:
        self.kd.stop()
        self.pm.stop()

    # --- planting through Kingdee's official SDK ---------------------------------------------------

    def ok(self, answer: Any) -> None:
        assert status_of(answer)["IsSuccess"] is True, answer

    def entries(self, number: str) -> list[list[Any]]:
        raw = self.sdk.ExecuteBillQuery(
            {
                "FormId": "GL_VOUCHER",
                "FieldKeys": "FVOUCHERID,FEntity_FEntryID,FDEBIT,FCREDIT",
                "FilterString": f"FBillNo='{number}'",
                "OrderString": "FEntity_FSeq",
            }
        )
        return json.loads(raw, parse_float=Decimal)

    def resubmit(self, number: str) -> None:
        self.ok(self.sdk.Submit("GL_VOUCHER", {"Numbers": [number]}))
        self.ok(self.sdk.Audit("GL_VOUCHER", {"Numbers": [number]}))


@pytest.fixture
def world(tmp_path: Path, store: Store) -> Iterator[World]:
    running = World(tmp_path, store)
    yield running
    running.stop()


def period_of(posting: Posting) -> str:
    return posting.business_date.strftime("%Y-%m")


def cells_of(posting: Posting) -> dict[tuple[str, str], Decimal]:
    """(project, account) → debit − credit of a posting, from the Model it sent."""
    model = jsonutil.loads(posting.payload)
    project = next(str(v["FNumber"]) for e in model["FEntity"] for v in (e.get("FDetailID") or {}).values())
    out: dict[tuple[str, str], Decimal] = {}
    for entry in model["FEntity"]:
        key = (project, str(entry["FACCOUNTID"]["FNumber"]))
        out[key] = out.get(key, Decimal(0)) + Decimal(str(entry["FDEBIT"])) - Decimal(str(entry["FCREDIT"]))
    return out


def test_each_planted_difference_is_found(world: World) -> None:
    postings = world.postings()
    period = period_of(postings[0])
    same = [p for p in postings if period_of(p) == period]
    assert len(same) >= 5
    clean = world.reconcile(period)
    assert clean.counts == dict.fromkeys(KINDS, 0), clean.differences[:3]
    assert clean.balance["accounts"] > 0
    assert clean.balance["mismatched"] == []
    assert world.reconcile(None).total == 0

    missing, edited, unaudited, retitled = same[0], same[1], same[2], same[3]
    # Kingdee finds them by FBillNo (yecai keeps its key there); yecai shows the 凭证字号
    assert all(str(p.kingdee_key).startswith("YC") for p in same)
    assert all(" 记-" in str(p.kingdee_number) for p in same)
    # (a) deleted in Kingdee (unaudit first: Kingdee deletes only unaudited vouchers)
    world.ok(world.sdk.UnAudit("GL_VOUCHER", {"Numbers": [missing.kingdee_key]}))
    world.ok(world.sdk.Delete("GL_VOUCHER", {"Numbers": [missing.kingdee_key]}))
    # (b) manual vouchers: one on a project's cost accounts, one company-wide on 其他应付款
    with world.store.transaction() as session:
        code, number = session.execute(
            select(Binding.source_key, Binding.kingdee_number).where(Binding.kind == "project").limit(1)
        ).one()
    day = f"{period}-15"
    world.ok(
        world.sdk.Save(
            "GL_VOUCHER",
            {
                "Model": voucher(
                    line("5401.02", debit="888.88", FF100001=number),
                    line("2202.01", credit="888.88", FF100001=number, FFLEX4="GYS0001"),
                    date=day,
                )
            },
        )
    )
    world.ok(
        world.sdk.Save(
            "GL_VOUCHER",
            {
                "Model": voucher(
                    line("6602", debit="50.00", FFLEX5="BM02"), line("2241", credit="50.00"), date=day
                )
            },
        )
    )
    # (c) an amount edited by hand: unaudit → save both lines +100 → submit → audit
    world.ok(world.sdk.UnAudit("GL_VOUCHER", {"Numbers": [edited.kingdee_key]}))
    rows = world.entries(str(edited.kingdee_key))
    model = {
        "FVOUCHERID": rows[0][0],
        "FEntity": [
            {
                "FEntryID": r[1],
                "FDEBIT": str(r[2] + 100 if r[2] else 0),
                "FCREDIT": str(r[3] + 100 if r[3] else 0),
            }
            for r in rows
        ],
    }
    world.ok(
        world.sdk.Save(
            "GL_VOUCHER", {"Model": model, "NeedUpDateFields": ["FEntity.FDEBIT", "FEntity.FCREDIT"]}
        )
    )
    world.resubmit(str(edited.kingdee_key))
    # (c') unaudited only: the amounts agree, the status went back from C to D
    world.ok(world.sdk.UnAudit("GL_VOUCHER", {"Numbers": [unaudited.kingdee_key]}))
    # (c'') a summary rewritten, then audited again: same amounts and status, other content
    world.ok(world.sdk.UnAudit("GL_VOUCHER", {"Numbers": [retitled.kingdee_key]}))
    rows = world.entries(str(retitled.kingdee_key))
    model = {
        "FVOUCHERID": rows[0][0],
        "FEntity": [{"FEntryID": r[1], "FEXPLANATION": "手工改过的摘要"} for r in rows],
    }
    world.ok(world.sdk.Save("GL_VOUCHER", {"Model": model, "NeedUpDateFields": ["FEntity.FEXPLANATION"]}))
    world.resubmit(str(retitled.kingdee_key))

    report = world.reconcile(period)
    by_kind: dict[str, list[Any]] = {
        kind: [d for d in report.differences if d.kind == kind] for kind in KINDS
    }
    assert report.counts == {kind: len(rows) for kind, rows in by_kind.items()}

    expected_missing = cells_of(missing)
    assert {(d.project, d.account): d.yecai_amount for d in by_kind["missing_in_kingdee"]} == expected_missing
    assert all(d.kingdee_amount == 0 and d.period == period for d in by_kind["missing_in_kingdee"])
    assert {d.posting_id for d in by_kind["missing_in_kingdee"]} == {missing.id}

    unknown = {(d.project, d.account): d.kingdee_amount for d in by_kind["unknown_in_kingdee"]}
    assert unknown == {
        (code, "5401.02"): Decimal("888.88"),
        (code, "2202.01"): Decimal("-888.88"),
    }
    # The company-wide 6602 / 2241 voucher is on accounts yecai never posts (since issue 13 other and
    # indirect costs are credited by their nature, not to 其他应付款), so it is outside the comparison.
    assert all(d.yecai_amount == 0 and d.period == period for d in by_kind["unknown_in_kingdee"])

    mismatched = {
        (d.project, d.account): (d.yecai_amount, d.kingdee_amount) for d in by_kind["amount_mismatch"]
    }
    assert mismatched == {
        cell: (amount, amount + (100 if amount > 0 else -100)) for cell, amount in cells_of(edited).items()
    }
    assert {d.posting_id for d in by_kind["amount_mismatch"]} == {edited.id}

    changed = {d.posting_id: d for d in by_kind["changed_in_kingdee"]}
    assert set(changed) == {unaudited.id, retitled.id}
    assert "C → D" not in changed[unaudited.id].message_zh  # said in words, both languages
    assert "由 C 变为 D" in changed[unaudited.id].message_zh
    assert "from C to D" in changed[unaudited.id].message_en
    assert changed[retitled.id].period == period
    assert by_kind["source_changed"] == []

    # (d) the source moves on (corrections and deletions), pulled but not yet posted
    world.pm.runtime.clock.set(world.dataset.timeline_end)
    intake.pull(world.store, world.connector, "cost_records", connection=SOURCE)
    intake.validate_staged(world.store, world.connector, "cost_records", connection=SOURCE)
    expected = source_changes(world.store, period)
    assert expected, "the dataset corrects or deletes some costs of the period"
    after = world.reconcile(period)
    found = [d for d in after.differences if d.kind == "source_changed"]
    assert {d.posting_id for d in found} == set(expected)
    for d in found:
        posted, now, documents = expected[d.posting_id]
        cell = cells_of(next(p for p in postings if p.id == d.posting_id))
        assert d.yecai_amount == cell[(d.project, d.account)]
        assert d.period == period
        assert set(d.document_ids) == documents
        if posted:  # a single-category cost voucher: the source's amount is the documents' now
            sign = 1 if d.yecai_amount > 0 else -1
            assert d.source_amount == sign * now
    # the other differences are unchanged by the source's move
    assert {k: v for k, v in after.counts.items() if k != "source_changed"} == {
        k: v for k, v in report.counts.items() if k != "source_changed"
    }


def source_changes(store: Store, period: str) -> dict[int, tuple[Decimal, Decimal, set[int]]]:
    """posting id → (posted amount, amount the source says now, changed document ids), computed apart."""
    out: dict[int, tuple[Decimal, Decimal, set[int]]] = {}
    with store.transaction() as session:
        rows = session.execute(
            select(Posting, PostingLine, Document)
            .join(PostingLine, PostingLine.posting_id == Posting.id)
            .join(Document, Document.id == PostingLine.document_id)
            .where(PostingLine.active.is_(True), Posting.state.in_(("posted", "saved", "reversed")))
        ).all()
        newest: dict[str, Document] = {}
        for document in session.scalars(select(Document).order_by(Document.id)):
            newest[document.source_key] = document
        grouped: dict[int, list[tuple[Decimal, Document]]] = {}
        for posting, posting_line, document in rows:
            if period_of(posting) == period:
                grouped.setdefault(posting.id, []).append((posting_line.amount, document))
        for posting_id, items in grouped.items():
            changed = {d.id for _, d in items if newest[d.source_key].id != d.id}
            if not changed:
                continue
            posted = sum((a for a, _ in items), Decimal(0))
            now = sum(
                (
                    Decimal(0)
                    if newest[d.source_key].deleted
                    else (newest[d.source_key].amount if d.id in changed else a)
                    for a, d in items
                ),
                Decimal(0),
            )
            out[posting_id] = (posted, now, changed)
    return out


# --- CLI, API, console, Excel ---------------------------------------------------------------------


def write_workspace(world: World, workdir: Path) -> Settings:
    """A workspace on the world's two sandboxes (one sync job), its Kingdee secret stored encrypted."""
    creds = world.credentials
    space = {
        "connections": {
            SOURCE: {"kind": "source", "connector": "pm_sandbox", "base_url": world.pm.base_url},
            KINGDEE: {
                "kind": "kingdee",
                "server_url": str(creds["server_url"]),
                "acct_id": str(creds["acct_id"]),
                "user_name": str(creds["user_name"]),
                "app_id": str(creds["app_id"]),
                "app_secret": "${KD_SECRET}",
                "lcid": int(str(creds["lcid"])),
                "org_num": str(creds["org_num"]),
            },
        },
        "syncs": {"books": {"source": SOURCE, "target": KINGDEE, "reconcile": True}},
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "yecai.yaml"
    path.write_text(yaml.safe_dump(space, allow_unicode=True), encoding="utf-8")
    SecretBox(world.store, load_key(workdir)).set(KINGDEE, "KD_SECRET", str(creds["app_secret"]))
    return Settings(workspace=path, workdir=workdir)


def test_cli_api_and_console(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = write_workspace(world, tmp_path / "work")
    monkeypatch.setenv("YECAI_WORKDIR", str(settings.workdir))
    url = world.store.engine.url.render_as_string(hide_password=False)
    period = period_of(world.postings()[0])
    with world.store.transaction() as session:
        codes = sorted(session.scalars(select(Binding.source_key).where(Binding.kind == "project")))
    mine, other = codes[0], codes[1]
    for code, amount in ((mine, "11.11"), (other, "22.22")):
        world.ok(
            world.sdk.Save(
                "GL_VOUCHER",
                {
                    "Model": voucher(
                        line("5401.02", debit=amount, FF100001=code),
                        line("2202.01", credit=amount, FF100001=code, FFLEX4="GYS0001"),
                        date=f"{period}-20",
                    )
                },
            )
        )
    world.ok(
        world.sdk.Save(
            "GL_VOUCHER",
            {
                "Model": voucher(
                    line("6602", debit="5", FFLEX5="BM02"), line("2241", credit="5"), date=f"{period}-20"
                )
            },
        )
    )
    base = ["--workspace", str(settings.workspace), "--database-url", url]
    out = tmp_path / "diff.xlsx"
    result = CliRunner().invoke(cli, ["reconcile", "--period", period, "--excel", str(out), *base])
    assert result.exit_code == 0, result.output
    for kind in KINDS:
        assert kind in result.output
    assert re.search(r"unknown_in_kingdee\s*│\s*4\b", result.output), result.output
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("差异 Differences").to_python()
    assert rows[0][0].startswith("类型")
    assert len(rows) == 1 + 4  # two projects × two accounts (2241 is not an account yecai posts)
    # bad input exits 2 (docs/cli.md); could not run — an unknown job, Kingdee out of reach — exits 1
    assert CliRunner().invoke(cli, ["reconcile", "--period", "2026-13", *base]).exit_code == 2
    assert CliRunner().invoke(cli, ["reconcile", "--job", "nope", *base]).exit_code == 1

    # the API: a project manager sees their own project's differences only, and counts of those
    users.create_user(
        world.store, username="pm1", role="project_manager", projects=(mine,), password=PASSWORD, by=SYSTEM
    )
    users.create_user(world.store, username="fin", role="finance", projects=(), password=PASSWORD, by=SYSTEM)
    pm = {
        "Authorization": "Bearer "
        + sessions.create_token(world.store, username="pm1", name="t", by=SYSTEM)[1]
    }
    fin = {
        "Authorization": "Bearer "
        + sessions.create_token(world.store, username="fin", name="t", by=SYSTEM)[1]
    }
    client = TestClient(create_app(world.store, settings=settings))
    assert client.post("/api/v1/reconciliations", json={"period": period}, headers=pm).status_code == 403
    made = client.post("/api/v1/reconciliations", json={"period": period, "job": "books"}, headers=fin)
    assert made.status_code == 200, made.text
    run_id = made.json()["id"]
    assert made.json()["counts"]["unknown_in_kingdee"] == 4
    everything = client.get(f"/api/v1/reconciliations/{run_id}", headers=fin).json()
    assert {d["project"] for d in everything["differences"]} == {mine, other}
    own = client.get(f"/api/v1/reconciliations/{run_id}", headers=pm).json()
    assert {d["project"] for d in own["differences"]} == {mine}
    assert own["run"]["counts"]["unknown_in_kingdee"] == 2
    assert own["run"]["balance"] == {}
    listed = client.get("/api/v1/reconciliations", headers=pm).json()
    assert listed[0]["id"] == run_id
    assert listed[0]["counts"]["unknown_in_kingdee"] == 2
    filtered = client.get(f"/api/v1/reconciliations/{run_id}?kind=missing_in_kingdee", headers=fin).json()
    assert filtered["differences"] == []
    book = client.get(f"/api/v1/reconciliations/{run_id}/workbook", headers=pm)
    assert book.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(book.content)).get_sheet_by_name("差异 Differences")
    assert len(sheet.to_python()) == 1 + 2
    assert client.get("/api/v1/reconciliations/999999", headers=fin).status_code == 404

    # the console: the run, its counts and the drill-down links, the run-now form for operators
    client.cookies.clear()
    page = client.get(f"/reconciliations/{run_id}", headers=fin)
    assert page.status_code == 200
    assert "/api/v1/reconciliations/" in page.text
    assert 'data-kind="unknown_in_kingdee"' in page.text
    listing = client.get("/reconciliations", headers=fin)
    assert 'data-testid="reconcile-now"' in listing.text
    assert 'data-testid="reconcile-now"' not in client.get("/reconciliations", headers=pm).text
    assert other not in client.get(f"/reconciliations/{run_id}", headers=pm).text


def test_workbook_defuses_formulas() -> None:
    evil = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(1)", "\tcmd", "\rcmd"]
    run = RunView(
        1,
        "attention",
        "kd",
        "books",
        "2026-10",
        dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        None,
        dict.fromkeys(KINDS, 1),
        None,
        {},
    )
    rows = [
        DifferenceView(
            i + 1,
            "unknown_in_kingdee",
            text,
            text,
            "2026-10",
            None,
            Decimal("0"),
            Decimal("-5.00"),
            None,
            text,
            text,
            [],
            text,
            text,
        )
        for i, text in enumerate(evil)
    ]
    data = workbook(run, rows)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("差异 Differences").to_python()
    for row, text in zip(sheet[1:], evil, strict=True):
        assert row[1] == "'" + text  # project
        assert row[2] == "'" + text  # account
        assert row[6] == -5.0  # amounts stay numbers (a minus sign is no formula there)
        assert row[11] == "'" + text
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in book.read(name).decode()

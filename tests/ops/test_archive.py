"""`yecai archive`: raw payloads of old records go to checksummed files; nothing else is touched.

On SQLite and PostgreSQL: records received 500 days ago are archived (superseded revisions of a
partition parent too, its latest revision kept; staged and recent records kept); the file verifies
and reads back equal to what the database held, byte for byte; each row points at its line; postings
with their request/response, posting lines, bindings, documents, webhook events and the audit log are
unchanged; a tampered byte, a rewritten line, a wrong count or a lost manifest fail verification; a
failure before the file is verified leaves the database untouched; the trace (API and console) says
where an archived payload is and shows it. The CLI runs the same on a workspace whose connector
partitions cost records by project.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from tests.support.planting import PASSWORD, Planted, plant
from yecai import jsonutil
from yecai.auth import audit
from yecai.auth.principal import SYSTEM
from yecai.cli.main import app as cli
from yecai.ops import archive as ops
from yecai.services import archive as service
from yecai.services import trace
from yecai.settings import Settings
from yecai.store.auth_tables import AuditEntry
from yecai.store.db import Store
from yecai.store.tables import Binding, Document, Posting, PostingLine, Record, Run
from yecai.store.webhook_tables import WebhookEvent

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=500)
RECENT = NOW - dt.timedelta(days=10)
AGE = dt.timedelta(days=400)


def _record(
    session: Any, stream: str, key: str, revision: int, status: str, received: dt.datetime, **payload: Any
) -> Record:
    data = {"key": key, "revision": revision, "amount": Decimal("1234.50"), "名称": "钢筋 φ12", **payload}
    record = Record(
        connection="pm",
        stream=stream,
        source_key=key,
        revision=revision,
        content_hash=jsonutil.content_hash(data),
        payload=jsonutil.dumps(data),
        status=status,
        issues=[{"field": "amount", "zh": "错", "en": "wrong"}] if status == "invalid" else None,
        received_at=received,
    )
    session.add(record)
    session.flush()
    return record


def world(store: Store) -> dict[str, int]:
    """Records of every kind the archive must decide on, with documents and postings behind them."""
    ids: dict[str, int] = {}
    with store.transaction() as session:
        run = Run(kind="sync:nightly", status="succeeded", started_at=OLD, finished_at=OLD, counts={})
        session.add(run)
        session.flush()
        # a partition parent: P1 has two revisions (the first can go, the latest stays), P2 one
        ids["p1_r1"] = _record(session, "projects", "P1", 1, "valid", OLD).id
        ids["p1_r2"] = _record(session, "projects", "P1", 2, "valid", OLD, name="改名").id
        ids["p2_r1"] = _record(session, "projects", "P2", 1, "valid", OLD).id
        # cost records: old valid (with a document posted to Kingdee), old invalid, old staged, recent
        cost = _record(session, "cost_records", "C1", 1, "valid", OLD, origin={"sheet": "成本", "row": 7})
        ids["c1"] = cost.id
        ids["c_invalid"] = _record(session, "cost_records", "C2", 1, "invalid", OLD).id
        ids["c_staged"] = _record(session, "cost_records", "C3", 1, "staged", OLD).id
        ids["c_recent"] = _record(session, "cost_records", "C4", 1, "valid", RECENT).id
        document = Document(
            record_id=cost.id,
            connection="pm",
            kind="cost_record",
            source_key="C1",
            version=cost.content_hash,
            project_code="P1",
            business_date=dt.date(2025, 7, 25),
            amount=Decimal("1234.50"),
            data=jsonutil.dumps({"source_key": "C1", "amount": Decimal("1234.50")}),
        )
        session.add(document)
        session.flush()
        ids["document"] = document.id
        posting = Posting(
            posting_key="archive-key-1",
            connection="kd",
            rule_set="cost_actuals",
            form_id="GL_VOUCHER",
            group_key="g1",
            business_date=dt.date(2025, 7, 25),
            state="posted",
            debit_total=Decimal("1234.50"),
            credit_total=Decimal("1234.50"),
            payload=jsonutil.dumps({"Model": {"FBillHead": "x"}}),
            response=jsonutil.dumps({"Result": {"ResponseStatus": {"IsSuccess": True}}}),
            kingdee_number="记-0001",
            created_at=OLD,
        )
        session.add(posting)
        session.flush()
        session.add(
            PostingLine(
                posting_id=posting.id,
                document_id=document.id,
                rule_set="cost_actuals",
                line_no=1,
                amount=Decimal("1234.50"),
            )
        )
        session.add(
            Binding(
                connection="kd",
                kind="cost_record",
                source_key="C1",
                form_id="GL_VOUCHER",
                kingdee_id="1",
                kingdee_number="记-0001",
                created_at=OLD,
            )
        )
        session.add(
            WebhookEvent(
                connection="pm",
                event_id="e1",
                event_type="cost.updated",
                outcome="stored",
                body_hash="h",
                record_id=cost.id,
                received_at=OLD,
            )
        )
        audit.record(
            session, SYSTEM, action="posting.replay", target_type="posting", target_id="archive-key-1"
        )
    return ids


def snapshot(store: Store) -> dict[str, Any]:
    """Everything that must never change: whole rows of the protected tables, record row count."""
    with store.transaction() as session:

        def rows(table: Any) -> list[tuple]:
            return [tuple(row) for row in session.execute(select(table.__table__)).all()]

        return {
            "postings": rows(Posting),
            "posting_lines": rows(PostingLine),
            "bindings": rows(Binding),
            "documents": rows(Document),
            "webhook_events": rows(WebhookEvent),
            "audit_log": rows(AuditEntry),
            "runs": rows(Run),
            "record_count": session.scalar(select(func.count()).select_from(Record)),
        }


def payloads(store: Store) -> dict[int, tuple[str, str | None, int | None]]:
    with store.transaction() as session:
        return {
            r.id: (r.payload, r.archive_file, r.archive_line)
            for r in session.execute(
                select(Record.id, Record.payload, Record.archive_file, Record.archive_line)
            )
        }


KEEP = {"pm": {"projects"}}


def test_archive_verify_and_read_back(store: Store, tmp_path: Path) -> None:
    ids = world(store)
    before = payloads(store)
    protected = snapshot(store)
    directory = tmp_path / "archive"

    result = ops.archive_records(store, directory, older_than=AGE, keep_latest=KEEP, now=NOW)

    archived = {ids[name] for name in ("p1_r1", "c1", "c_invalid")}
    assert result.records == 3
    assert result.by_stream == {"pm/cost_records": 2, "pm/projects": 1}
    assert result.file is not None
    assert result.file.parent == directory
    assert result.manifest == ops.manifest_of(result.file)
    assert not list(directory.glob("*.partial"))

    verified = ops.verify_archive(result.file)
    assert verified.ok, verified.problems
    assert verified.records == 3

    after = payloads(store)
    entries = list(ops.read_archive(result.file))
    assert {e["record_id"] for e in entries} == archived
    for entry in entries:
        record_id = entry["record_id"]
        original_payload = before[record_id][0]
        assert entry["payload"] == original_payload  # the exact text, decimals and Chinese included
        payload, file, line = after[record_id]
        assert (file, line) == (result.file.name, entry["line"])
        assert next(iter(ops.read_archive(result.file, line=line)))["record_id"] == record_id
        assert payload != original_payload
    assert jsonutil.loads(after[ids["c1"]][0]) == {
        "origin": {"sheet": "成本", "row": 7}
    }  # the stub keeps where
    assert jsonutil.loads(after[ids["p1_r1"]][0]) == {}
    c1 = next(e for e in entries if e["record_id"] == ids["c1"])
    assert c1["documents"] == [ids["document"]]
    assert (c1["connection"], c1["stream"], c1["source_key"], c1["revision"], c1["status"]) == (
        "pm",
        "cost_records",
        "C1",
        1,
        "valid",
    )
    invalid = next(e for e in entries if e["record_id"] == ids["c_invalid"])
    assert invalid["issues"] == [{"field": "amount", "zh": "错", "en": "wrong"}]

    # kept: the latest revisions of the partition parent, a record not yet validated, a recent one
    for name in ("p1_r2", "p2_r1", "c_staged", "c_recent"):
        assert after[ids[name]] == before[ids[name]], name
    # nothing else moved: postings with request and response, lines, bindings, documents, audit
    assert snapshot(store) == protected

    # a second run finds nothing more to archive
    again = ops.archive_records(store, directory, older_than=AGE, keep_latest=KEEP, now=NOW)
    assert (again.records, again.file) == (0, None)
    assert len(list(directory.glob("*.jsonl.gz"))) == 1


def test_without_partition_parents_every_old_validated_record_goes(store: Store, tmp_path: Path) -> None:
    ids = world(store)
    dry = ops.archive_records(store, tmp_path / "archive", older_than=AGE, now=NOW, dry_run=True)
    assert dry.records == 5
    assert dry.file is None
    assert not (tmp_path / "archive").exists()
    assert payloads(store)[ids["p2_r1"]][1] is None  # a dry run changes nothing
    result = ops.archive_records(store, tmp_path / "archive", older_than=AGE, now=NOW)
    assert result.records == 5
    assert result.by_stream == {"pm/cost_records": 2, "pm/projects": 3}


def test_a_connection_whose_streams_are_unknown_keeps_every_latest_revision(
    store: Store, tmp_path: Path
) -> None:
    world(store)
    result = ops.archive_records(
        store, tmp_path / "archive", older_than=AGE, keep_latest={"pm": None}, now=NOW
    )
    assert result.by_stream == {"pm/projects": 1}  # only P1's superseded revision


def _archived(store: Store, tmp_path: Path) -> Path:
    world(store)
    result = ops.archive_records(store, tmp_path / "archive", older_than=AGE, keep_latest=KEEP, now=NOW)
    assert result.file is not None
    return result.file


def test_a_tampered_byte_fails_verification(store: Store, tmp_path: Path) -> None:
    path = _archived(store, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = ops.verify_archive(path)
    assert not result.ok
    assert any("sha256" in en for _, en in result.problems)


def test_a_rewritten_line_fails_even_with_the_file_checksum_updated(store: Store, tmp_path: Path) -> None:
    path = _archived(store, tmp_path)
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    entry = json.loads(lines[0])
    entry["payload"] = entry["payload"].replace("1234.50", "1234.56")
    lines[0] = json.dumps(entry, ensure_ascii=False)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    manifest = json.loads(ops.manifest_of(path).read_text(encoding="utf-8"))
    manifest["sha256"] = ops._sha256_file(path)  # a careful forger
    ops.manifest_of(path).write_text(json.dumps(manifest), encoding="utf-8")
    result = ops.verify_archive(path)
    assert not result.ok
    assert any("checksum mismatch" in en for _, en in result.problems)


def test_a_wrong_count_or_a_lost_manifest_fails(store: Store, tmp_path: Path) -> None:
    path = _archived(store, tmp_path)
    manifest_path = ops.manifest_of(path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["records"] = 2
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert any("manifest says 2" in en for _, en in ops.verify_archive(path).problems)
    manifest_path.unlink()
    assert not ops.verify_archive(path).ok


def test_a_file_that_fails_its_check_leaves_the_database_untouched(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world(store)
    before = payloads(store)

    def broken(path: Path, written: list[tuple[int, str, str]]) -> None:
        raise ops.ArchiveError("模拟：写入后读回不一致", "simulated: read back differs after writing")

    monkeypatch.setattr(ops, "_check_written", broken)
    with pytest.raises(ops.ArchiveError):
        ops.archive_records(store, tmp_path / "archive", older_than=AGE, keep_latest=KEEP, now=NOW)
    assert payloads(store) == before
    assert list((tmp_path / "archive").iterdir()) == []  # the partial file is gone, no manifest written


def test_ages_are_read_in_days_weeks_and_years() -> None:
    assert ops.parse_age("400d") == dt.timedelta(days=400)
    assert ops.parse_age("60w") == dt.timedelta(days=420)
    assert ops.parse_age("2y") == dt.timedelta(days=730)
    assert ops.parse_age("30") == dt.timedelta(days=30)
    for bad in ("0d", "-1d", "1m", "soon", ""):
        with pytest.raises(ops.ArchiveError):
            ops.parse_age(bad)


# --- the trace of an archived record ------------------------------------------------------------


def test_the_trace_shows_where_an_archived_payload_is(store: Store, tmp_path: Path) -> None:
    planted: Planted = plant(store, tmp_path)
    assert planted.settings is not None
    document_id = planted.documents["C1"]
    with store.transaction() as session:
        session.execute(update(Record).values(received_at=OLD))
        original = session.scalar(
            select(Record.payload)
            .join(Document, Document.record_id == Record.id)
            .where(Document.id == document_id)
        )
    result = service.archive(store, planted.settings, older_than=AGE, now=NOW)  # no workspace given
    assert result.file is not None
    assert result.file.parent == planted.settings.archive_directory()

    detail = trace.document_detail(store, SYSTEM, document_id)
    assert detail is not None
    assert detail.record_archive is not None
    assert detail.record_archive.file == result.file.name
    line = detail.record_archive.line
    assert next(ops.read_archive(result.file, line=line))["payload"] == original

    app = create_app_for(store, planted.settings)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {planted.tokens['finance']}"}
        body = client.get(f"/api/v1/documents/{document_id}", headers=headers).json()
        assert body["record_archive"]["file"] == result.file.name
        assert body["record_archive"]["line"] == line
        assert body["postings"][0]["kingdee_number"] == "JZ-0001"  # voucher ↔ source still joined
        page = signed_in(client, "finance").get(f"/documents/{document_id}", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert result.file.name in page.text
        assert 'data-testid="record-archive"' in page.text
        shown = re.search(r'data-testid="archived-payload">(.*?)</pre>', page.text, re.S)
        assert shown
        assert "1200.50" in shown.group(1)
        result.file.rename(result.file.with_suffix(".moved"))  # the file moved off the host
        page = client.get(f"/documents/{document_id}", headers={"accept": "text/html"})
        assert 'data-testid="archive-missing"' in page.text


def create_app_for(store: Store, settings: Settings) -> Any:
    from yecai.web.app import create_app

    return create_app(store, settings=settings)


def signed_in(client: TestClient, username: str) -> TestClient:
    login = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return client


# --- the command ---------------------------------------------------------------------------------

CONNECTOR = {
    "name": "partitioned",
    "base_url": "http://127.0.0.1:9",
    "streams": {
        "projects": {
            "path": "/projects",
            "document": "project",
            "primary_key": "key",
            "fields": {"code": "key", "name": "key"},
        },
        "cost_records": {
            "path": "/costs",
            "document": "cost_record",
            "primary_key": "key",
            "partition": {"param": "project", "parent": "projects", "key": "key"},
            "fields": {"source_key": "key", "amount": "amount"},
        },
    },
}


def test_the_command_archives_verifies_and_reads(store: Store, store_url: str, tmp_path: Path) -> None:
    ids = world(store)
    with store.transaction() as session:  # "old" relative to today, for the command's clock
        session.execute(
            update(Record)
            .where(Record.received_at == OLD)
            .values(received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=500))
        )
    (tmp_path / "connector.yaml").write_text(yaml.safe_dump(CONNECTOR), encoding="utf-8")
    workspace = {"connections": {"pm": {"kind": "rest", "connector": "connector.yaml"}}}
    (tmp_path / "yecai.yaml").write_text(yaml.safe_dump(workspace), encoding="utf-8")
    env = {"YECAI_WORKDIR": str(tmp_path / "work"), "YECAI_DATABASE_URL": store_url, "COLUMNS": "200"}
    runner = CliRunner()
    options = ["--workspace", str(tmp_path / "yecai.yaml")]

    dry = runner.invoke(cli, ["archive", "--older-than", "400d", "--dry-run", *options], env=env)
    assert dry.exit_code == 0, dry.output
    assert "pm/cost_records" in dry.output
    assert not (tmp_path / "work" / "archive").exists()

    done = runner.invoke(cli, ["archive", "--older-than", "400d", *options], env=env)
    assert done.exit_code == 0, done.output
    assert "latest record of each key kept: pm: projects" in done.output
    files = list((tmp_path / "work" / "archive").glob("*.jsonl.gz"))
    assert len(files) == 1
    assert payloads(store)[ids["p2_r1"]][1] is None  # the partition parent's latest stays

    verified = runner.invoke(cli, ["archive", "verify", str(files[0])], env=env)
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output
    assert "3" in verified.output

    read = runner.invoke(cli, ["archive", "read", str(files[0]), "--key", "C1"], env=env)
    assert read.exit_code == 0, read.output
    [entry] = [json.loads(line) for line in read.stdout.splitlines() if line.startswith("{")]
    assert entry["record_id"] == ids["c1"]
    assert "1234.50" in entry["payload"]

    missing = runner.invoke(cli, ["archive", "read", str(files[0]), "--key", "nope"], env=env)
    assert missing.exit_code == 1

    data = bytearray(files[0].read_bytes())
    data[-5] ^= 0xFF
    files[0].write_bytes(bytes(data))
    tampered = runner.invoke(cli, ["archive", "verify", str(files[0])], env=env)
    assert tampered.exit_code == 1
    assert "sha256" in tampered.output

    bad_age = runner.invoke(cli, ["archive", "--older-than", "soon", *options], env=env)
    assert bad_age.exit_code == 2


def test_two_runs_at_once_point_each_record_at_one_file(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world(store)
    check = ops._check_written
    other: list[ops.ArchiveResult] = []
    raced: list[bool] = []

    def racing(path: Path, written: list[tuple[int, str, str]]) -> None:
        check(path, written)
        if not raced:  # a second run archives the same records while the first is between steps
            raced.append(True)
            other.append(
                ops.archive_records(store, tmp_path / "archive", older_than=AGE, keep_latest=KEEP, now=NOW)
            )

    monkeypatch.setattr(ops, "_check_written", racing)
    first = ops.archive_records(store, tmp_path / "archive", older_than=AGE, keep_latest=KEEP, now=NOW)
    [second] = other
    assert second.records == 3
    assert (first.records, first.already_archived) == (0, 3)
    assert second.file is not None
    pointed = {file for _payload, file, _line in payloads(store).values() if file}
    assert pointed == {second.file.name}  # each record points at one file, whose line holds it
    for record_id, (_payload, file, line) in payloads(store).items():
        if file:
            assert next(ops.read_archive(second.file, line=line))["record_id"] == record_id
    assert first.file is not None
    assert ops.verify_archive(first.file).ok  # the copies are a whole, verifiable file too

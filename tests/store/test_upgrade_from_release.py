"""A database written by the first tagged release (v0.1.0), with its data, upgraded to head.

The fixtures are what v0.1.0's own code stored on each database (tests/store/make_release_fixture.py
made them once from the tag; CI clones may have no tags). Each is loaded into a fresh database,
`yecai db check` says it is behind, `yecai db upgrade` brings it to head, and today's services read
back the documents, postings and bindings exactly as v0.1.0 recorded them.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from yecai.auth.principal import SYSTEM
from yecai.cli.db import EXIT_AHEAD, EXIT_BEHIND
from yecai.cli.main import app
from yecai.services import postings as posting_service
from yecai.services import trace
from yecai.services.schema import SchemaState, check_schema
from yecai.services.vouchers import names_of
from yecai.store.db import code_heads, known_revisions, open_store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASE = json.loads((FIXTURES / "v0.1.0.json").read_text(encoding="utf-8"))


def load_release(store_url: str) -> None:
    """The v0.1.0 database, as that release left it, into the empty database at `store_url`."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database or "") as connection:
            connection.executescript((FIXTURES / "v0.1.0.sqlite.sql").read_text(encoding="utf-8"))
        return
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute((FIXTURES / "v0.1.0.postgresql.sql").read_text(encoding="utf-8"))


def test_the_fixtures_are_the_first_release_and_small() -> None:
    assert RELEASE["version"] == "0.1.0"
    assert RELEASE["postings"]
    assert RELEASE["bindings"]
    assert RELEASE["documents"]
    total = sum(path.stat().st_size for path in FIXTURES.glob("v0.1.0.*"))
    assert total < 600_000  # a few hundred KB in the repository
    for name in ("v0.1.0.sqlite.sql", "v0.1.0.postgresql.sql"):
        text = (FIXTURES / name).read_text(encoding="utf-8")
        assert "VALUES('0001')" in text.replace(" ", "")  # v0.1.0 knew one revision


def test_a_release_database_upgrades_to_head_with_its_data(store_url: str) -> None:
    load_release(store_url)
    runner = CliRunner()

    store = open_store(store_url, upgrade=False)
    try:
        before = check_schema(store)
    finally:
        store.close()
    assert before.state is SchemaState.BEHIND
    assert before.database == ("0001",)
    assert len(before.pending) == len(known_revisions()) - 1
    checked = runner.invoke(app, ["db", "check", "--database-url", store_url])
    assert checked.exit_code == EXIT_BEHIND, checked.output
    assert "yecai db upgrade" in checked.output

    upgraded = runner.invoke(app, ["db", "upgrade", "--database-url", store_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"0001 → {code_heads()[0]}" in upgraded.output
    again = runner.invoke(app, ["db", "upgrade", "--database-url", store_url])
    assert again.exit_code == 0, again.output
    assert "already current" in again.output
    current = runner.invoke(app, ["db", "check", "--database-url", store_url])
    assert current.exit_code == 0, current.output

    store = open_store(store_url)  # today's open: already at head, nothing to do
    try:
        # postings: every one v0.1.0 posted, with its Kingdee voucher and balanced amounts
        assert posting_service.counts_by_state(store) == {"posted": len(RELEASE["postings"])}
        summaries = {p.posting_key: p for p in trace.postings(store, SYSTEM, limit=1000)}
        assert set(summaries) == set(RELEASE["postings"])
        for key, old in RELEASE["postings"].items():
            summary = summaries[key]
            assert summary.state == old["state"]
            assert summary.kingdee_number == old["number"]
            assert summary.debit_total == Decimal(old["debit"])
            detail = trace.posting_detail(store, SYSTEM, summary.id)
            assert detail is not None
            assert detail.kingdee_id == old["id"]
            # each line leads back to its document (traceability survived the upgrade)
            assert detail.lines
            assert sum((line.amount for line in detail.lines), Decimal(0)) == Decimal(old["debit"])
            assert all(line.document.kind == "cost_record" for line in detail.lines)
        # documents: as many as v0.1.0 validated, each with its data and its record's payload
        documents = trace.documents(store, SYSTEM, limit=1000)
        assert len(documents) == RELEASE["documents"]
        costs = [d for d in documents if d.kind == "cost_record"]
        assert sum((d.amount or Decimal(0) for d in costs), Decimal(0)) == Decimal(RELEASE["source_total"])
        detail_of_one = trace.document_detail(store, SYSTEM, costs[0].id)
        assert detail_of_one is not None
        assert detail_of_one.postings  # the voucher it went into
        assert detail_of_one.data
        assert detail_of_one.record_payload
        # bindings: the project bound to its Kingdee 项目 number
        names = names_of(store, "kingdee")
        for source_key, old in RELEASE["bindings"].items():
            assert old["kind"] == "project"
            assert names.project_codes[old["number"]] == source_key
    finally:
        store.close()


@pytest.mark.parametrize("newer", ["9999"])
def test_a_schema_from_a_newer_release_is_refused(store_url: str, newer: str) -> None:
    load_release(store_url)
    store = open_store(store_url, upgrade=False)
    try:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{newer}'")
    finally:
        store.close()
    runner = CliRunner()
    checked = runner.invoke(app, ["db", "check", "--database-url", store_url])
    assert checked.exit_code == EXIT_AHEAD, checked.output
    assert "比本程序" in checked.output
    assert "ahead of this yecai" in checked.output
    refused = runner.invoke(app, ["db", "upgrade", "--database-url", store_url])
    assert refused.exit_code == 1, refused.output
    assert "newer than this yecai" in refused.output

"""Make the committed fixtures of a database written by the first tagged release (v0.1.0).

The upgrade test (tests/store/test_upgrade_from_release.py) loads these files and upgrades them to
head; CI clones may carry no tags, so the release is never built at test time. This script, run
by hand from a clone that has the tag, does it once:

1. extracts v0.1.0's tree (`git archive`, nothing checked out in the repository) into a temp dir;
2. runs v0.1.0's OWN code there, in a child Python whose path starts with that tree: its
   sandboxes (sandbox.pm, a fresh sandbox.kingdee data centre), its migrations (`open_store`)
   and its nightly cost pipeline (`run_cost_sync`) — once on SQLite and once on a fresh
   PostgreSQL database, so each database's schema is the one v0.1.0's migration made on it;
3. dumps them: SQLite as the `.sql` of `iterdump` (text, loads into any sqlite3), PostgreSQL with
   `pg_dump --inserts` (plain SQL a psycopg connection can run; no owner, no privileges);
4. writes, as v0.1.0 read them from its own database, the counts and totals the test compares with
   what today's code reads after the upgrade (`v0.1.0.json`).

Faithful rather than converted: each dump is what v0.1.0 itself wrote on that database (types,
constraints, the alembic_version row), not SQLite data poured into a schema made by other code.

    PYTHONPATH=$PWD .venv/bin/python tests/store/make_release_fixture.py [--pg-url URL]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TAG = "v0.1.0"
PROJECTS = 1  # small: the fixtures stay a few hundred KB (about 130 cost records, 70 vouchers)
PG_URL = os.environ.get("YECAI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Runs inside v0.1.0's tree: its demo's cost pipeline against the store URL given, then what it
# stored, read with its own tables.
CHILD = r"""
import json, sys
from pathlib import Path
from sqlalchemy import func, select
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import KINGDEE, SOURCE, identity_of
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store import tables
from yecai.store.db import open_store
from yecai.sync.pipeline import run_cost_sync

import yecai
assert Path(yecai.__file__).resolve().is_relative_to(Path(sys.argv[3]).resolve()), yecai.__file__
url, workdir, projects = sys.argv[1], Path(sys.argv[2]), int(sys.argv[4])
store = open_store(url)
pm_server, dataset = start_pm(projects=projects, months=1, seed=42)
kd_server, credentials = start_kingdee(workdir / "kingdee")
try:
    connector = PmSandboxConnector(pm_server.base_url, DEFAULT_TOKEN, connection=SOURCE)
    with KingdeeClient(str(credentials["server_url"]), identity_of(credentials), connection=KINGDEE) as client:
        report = run_cost_sync(store, connector, client, rules=default_rule_set(), mapping=default_mapping(),
                               source_connection=SOURCE, kingdee_connection=KINGDEE)
    assert report.check.clean and not report.send.failed, report
    with store.transaction() as s:
        postings = s.execute(select(tables.Posting).order_by(tables.Posting.posting_key)).scalars().all()
        bindings = s.execute(select(tables.Binding).order_by(tables.Binding.source_key)).scalars().all()
        summary = {
            "version": yecai.__version__,
            "source_records": len(dataset.cost_records),
            "source_total": str(sum(r.amount for r in dataset.cost_records)),
            "records": s.scalar(select(func.count()).select_from(tables.Record)),
            "documents": s.scalar(select(func.count()).select_from(tables.Document)),
            "posting_lines": s.scalar(select(func.count()).select_from(tables.PostingLine)),
            "postings": {p.posting_key: {"state": p.state, "number": p.kingdee_number, "id": p.kingdee_id,
                                         "debit": str(p.debit_total), "credit": str(p.credit_total)}
                         for p in postings},
            "bindings": {b.source_key: {"kind": b.kind, "form": b.form_id, "number": b.kingdee_number}
                         for b in bindings},
        }
finally:
    kd_server.stop()
    pm_server.stop()
    store.close()
print(json.dumps(summary, sort_keys=True))
"""


def extract(tag: str, into: Path) -> Path:
    """The tagged tree, as git stores it, without touching the repository's work trees."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", tag], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_release(tree: Path, url: str, workdir: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(workdir), str(tree), str(PROJECTS)],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def admin_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url", default=PG_URL, help="a PostgreSQL server to create a scratch database on"
    )
    args = parser.parse_args()
    FIXTURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yecai-release-") as scratch:
        tree = extract(TAG, Path(scratch) / "tree")
        # SQLite: the release's default store
        work = Path(scratch) / "sqlite"
        work.mkdir()
        database = work / "yecai.sqlite"
        on_sqlite = run_release(tree, f"sqlite:///{database}", work)
        with sqlite3.connect(database) as connection:
            dump = "\n".join(connection.iterdump()) + "\n"
        (FIXTURES / f"{TAG}.sqlite.sql").write_text(dump, encoding="utf-8")
        # PostgreSQL: a scratch database of our own, dropped afterwards
        name = f"yecai_release_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_conninfo(args.pg_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            work = Path(scratch) / "postgresql"
            work.mkdir()
            url = make_url(args.pg_url).set(database=name)
            on_pg = run_release(tree, url.render_as_string(hide_password=False), work)
            plain = subprocess.run(
                ["pg_dump", "--inserts", "--no-owner", "--no-privileges", "--no-comments",
                 "--dbname", admin_conninfo(url.render_as_string(hide_password=False))],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            # psql meta-commands (a newer pg_dump's \restrict) are not SQL: the test runs this with psycopg
            lines = [line for line in plain.splitlines() if not line.startswith("\\")]
            (FIXTURES / f"{TAG}.postgresql.sql").write_text("\n".join(lines) + "\n", encoding="utf-8")
        finally:
            with psycopg.connect(admin_conninfo(args.pg_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # the same seed and a fresh data centre each time: both databases hold the same business data
    assert on_sqlite == on_pg, "v0.1.0 stored different data on SQLite and PostgreSQL"
    (FIXTURES / f"{TAG}.json").write_text(
        json.dumps(on_sqlite, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    for path in sorted(FIXTURES.glob(f"{TAG}*")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()

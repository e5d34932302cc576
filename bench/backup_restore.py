"""Backup and restore against the sync they protect: how long each takes, as a ratio of the sync.

sandbox.pm's data (`--projects`, `--months`) is synced into a fresh sandbox.kingdee, once into a
SQLite store and once into a new PostgreSQL database (YECAI_TEST_PG_URL's server, dropped after);
then the store is backed up (`yecai.ops.backup`) and restored into an empty database of the same
kind (`yecai.ops.restore`). One line per database kind, the sync being the baseline of the same run:

    sqlite: records=… postings=… sync=…s backup=…s (… MB) restore=…s backup/sync=… restore/sync=…

    .venv/bin/python bench/backup_restore.py --projects 10 --months 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.ops.backup import take_backup
from yecai.ops.restore import restore_backup
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import open_store
from yecai.sync.pipeline import run_sync_job

PG_URL = os.environ.get("YECAI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def measure(kind: str, source: str, target: str, folder: Path, pm_url: str, records: int) -> str:
    kingdee, credentials = start_kingdee(folder / f"kd-{kind}")
    try:
        store = open_store(source)
        try:
            with KingdeeClient(
                str(credentials["server_url"]), identity_of(credentials), connection="kd"
            ) as client:
                started = time.perf_counter()
                run_sync_job(
                    store,
                    PmSandboxConnector(pm_url, DEFAULT_TOKEN),
                    client,
                    rule_sets=[default_rule_set()],
                    mapping=default_mapping(),
                    source_connection="pm",
                    kingdee_connection="kd",
                )
                sync = time.perf_counter() - started
        finally:
            store.close()
    finally:
        kingdee.stop()
    started = time.perf_counter()
    backup = take_backup(source, folder, folder / f"{kind}.backup")
    taken = time.perf_counter() - started
    started = time.perf_counter()
    restore_backup(backup.path, target, folder / f"{kind}-restored")
    restored = time.perf_counter() - started
    return (
        f"{kind}: records={records} postings={sum(backup.manifest.postings.values())} sync={sync:.1f}s "
        f"backup={taken:.2f}s ({backup.size / 1e6:.1f} MB) restore={restored:.2f}s "
        f"backup/sync={taken / sync:.3f} restore/sync={restored / sync:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    pm, dataset = start_pm(projects=args.projects, months=args.months, seed=args.seed)
    records = len(dataset.all_cost_records)
    url = make_url(PG_URL)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    names = [f"yecai_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="yecai-bench-backup-") as tmp:
            folder = Path(tmp)
            sqlite = (f"sqlite:///{folder / 'a.sqlite'}", f"sqlite:///{folder / 'restored' / 'yecai.sqlite'}")
            print(measure("sqlite", *sqlite, folder, pm.base_url, records), flush=True)
            pg = [url.set(database=name).render_as_string(hide_password=False) for name in names]
            print(measure("postgresql", pg[0], pg[1], folder, pm.base_url, records), flush=True)
    finally:
        pm.stop()
        with psycopg.connect(admin, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

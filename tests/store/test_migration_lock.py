"""Two real processes migrating one fresh database at the same moment: one migrates, one waits.

One process opens the store the embedded way (`open_store` migrates on open), the other runs
`yecai db upgrade`; both are held at a start line until both have imported everything, then let
go together. The migration lock (PostgreSQL's advisory lock, SQLite's BEGIN IMMEDIATE) must make
exactly one of them apply the migrations and the other find the schema current, on both databases.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from yecai.store.db import code_heads, make_engine

ROOT = Path(__file__).resolve().parents[2]

# waits for the start line, then migrates through the path named by argv[2]; prints what it did
RACER = r"""
import sys, time
from pathlib import Path
from yecai.store.db import make_engine, open_store
from yecai.cli.main import app
url, how, line, ready = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
ready.touch()
while not line.exists():
    time.sleep(0.005)
if how == "open":
    from yecai.store import db
    real = db.migrate
    def reporting(engine):
        done = real(engine)
        print("migrated" if done.changed else "current", flush=True)
        return done
    db.migrate = reporting
    open_store(url).close()
else:
    app(["db", "upgrade", "--database-url", url], standalone_mode=False)
"""


@pytest.mark.slow
def test_two_processes_opening_a_fresh_database_migrate_it_once(store_url: str, tmp_path: Path) -> None:
    line = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = []
    for how in ("open", "upgrade"):
        ready = tmp_path / f"ready-{how}"
        racers.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", RACER, store_url, how, str(line), str(ready)],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    try:
        deadline = time.monotonic() + 120
        while not all(ready.exists() for ready, _ in racers):
            assert all(p.poll() is None for _, p in racers), [p.communicate() for _, p in racers]
            assert time.monotonic() < deadline, "the racers did not reach the start line"
            time.sleep(0.01)
        line.touch()
        outputs = [p.communicate(timeout=180) for _, p in racers]
    finally:
        for _, p in racers:
            if p.poll() is None:
                p.kill()
                p.wait()
    for (_, p), (_out, err) in zip(racers, outputs, strict=True):
        assert p.returncode == 0, err
    opened, upgraded = (out for out, _ in outputs)
    migrated = ["migrated" in opened, "schema upgraded" in upgraded]
    current = ["current" in opened and "migrated" not in opened, "already current" in upgraded]
    assert sorted(migrated) == [False, True], outputs  # exactly one applied the migrations
    assert migrated[0] != current[0]
    assert migrated[1] != current[1]
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert tuple(versions) == code_heads()

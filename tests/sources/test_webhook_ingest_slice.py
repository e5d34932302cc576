"""A slice of bench/webhook_ingest.py: a real `yecai serve` on SQLite and on PostgreSQL (two web
processes there) takes signed deliveries from many connections, and every acknowledged event is
in the store afterwards — in the unbatched baseline and in the batched run alike.

The printed lines are checked for their shape and their invariants, never for a speed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LAST = re.compile(r"events_per_s=(\d+) p99_ms=(\d+\.\d) stored=(\d+) sent=(\d+)")
RUN = re.compile(
    r"(unbatched|batched): (\w+)(?: \((\d) web processes\))? sent=(\d+) acked=(\d+) .* stored=(\d+) event_rows=(\d+)"
)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_acknowledged_delivery_is_stored(db: str) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "bench/webhook_ingest.py", "--db", db, "--pg-url", PG_URL),
            *("--events", "300", "--baseline-events", "40", "--connections", "8"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    runs = {m.group(1): m for m in map(RUN.match, lines) if m}
    assert set(runs) == {"unbatched", "batched"}, lines
    for label, sent in (("unbatched", 40), ("batched", 300)):
        run = runs[label]
        assert run.group(2) == db
        # every delivery acknowledged, and exactly the acknowledged ones stored, each once
        assert int(run.group(4)) == int(run.group(5)) == int(run.group(6)) == int(run.group(7)) == sent
        if db == "postgres":
            assert run.group(3) == "2"
    assert lines[-2].startswith("ratio_vs_unbatched=")
    last = LAST.fullmatch(lines[-1])
    assert last is not None, lines[-1]
    assert float(last.group(1)) > 0
    assert int(last.group(3)) == int(last.group(4)) == 300

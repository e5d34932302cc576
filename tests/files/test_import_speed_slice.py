"""A small slice of bench/import_speed.py: the bench runs end to end and prints the issue's line.

The bench itself measures a million rows; here 60,000 rows (a file above the size from which rows
are read in a child process, so that path is the one measured) go through the baseline read and
the import into SQLite and PostgreSQL. Nothing about time is asserted: the import must store every
row, and the last line must be `rows_per_s=… peak_rss_mb=…` with figures that can be true.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAST = re.compile(r"rows_per_s=(\d+) peak_rss_mb=(\d+)")

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_bench_imports_every_row_and_ends_with_the_goal_line(db: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "import_speed.py"), "--rows", "60000", "--db", db],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
        cwd=ROOT,
    )
    lines = done.stdout.strip().splitlines()
    found = LAST.fullmatch(lines[-1])
    assert found, done.stdout
    rate, peak = int(found[1]), int(found[2])
    assert rate > 0
    assert 0 < peak < 2000
    imported = next(line for line in lines if line.startswith("import ("))
    assert "60,000 data rows (imported 60,000, rejected 0, duplicate 0, footers skipped 2)" in imported
    assert "row reader" in next(line for line in lines if line.startswith("CPU:"))

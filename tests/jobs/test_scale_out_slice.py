"""A slice of bench/scale_out.py: the nightly sync of 4 projects run by 1 and then 2 `yecai worker`
processes on PostgreSQL + Redis, each on a fresh database and a fresh sandbox.kingdee.

Every worker count ends with Kingdee holding each posting exactly once and the source's debit
total; with two workers the run's sending was shared by two senders; the last line is the one the
issue names. Timings are printed, never asserted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale_out.py"
LINE = re.compile(
    r"^workers=(?P<workers>\d+) wall_s=[\d.]+ vouchers=(?P<vouchers>\d+) postings=(?P<postings>\d+) "
    r"debit=(?P<debit>[\d.]+) source=(?P<source>[\d.]+) exactly_once=(?P<once>\w+) (?P<rest>.*)$"
)


def test_the_bench_prints_its_line_and_every_worker_count_posts_exactly_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--projects",
            "4",
            "--workers",
            "1,2",
            "--parts",
            "2",
            "--pg-url",
            PG_URL,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCH.parents[1],
        env={**os.environ, "PYTHONPATH": str(BENCH.parents[1])},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    runs = [m for line in lines if (m := LINE.match(line))]
    assert [m["workers"] for m in runs] == ["1", "2"], done.stdout
    for m in runs:
        assert m["once"] == "yes"
        assert int(m["vouchers"]) == int(m["postings"]) > 200  # enough batches to be shared
        assert m["debit"] == m["source"]
    assert runs[0]["vouchers"] == runs[1]["vouchers"]  # the same data for every worker count
    assert "senders=2" in runs[1]["rest"], runs[1]["rest"]
    assert re.fullmatch(r"speedup_2=\d+\.\d\d", lines[-1]), lines[-1]

"""A slice of bench/plan_speed.py: 2 projects, one run each, and the lines it prints hold together.

No timing is asserted (the machine may be shared); the bench must run through — the in-memory
planner, the frozen heap and the pipeline's plan_postings all planning the same vouchers — and end
with the line the issue names.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_plans_a_small_seed_case_and_prints_lines_per_second() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "plan_speed.py"), "--projects", "2", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    seed = re.fullmatch(
        r"seed case: 2 projects × 1 month\(s\): ([\d,]+) cost lines → ([\d,]+) vouchers", out[0]
    )
    assert seed, out[0]
    lines, vouchers = (int(g.replace(",", "")) for g in seed.groups())
    assert 0 < vouchers <= lines
    assert re.fullmatch(r"lines_per_s=\d+", out[-1]), out[-1]
    assert int(out[-1].split("=")[1]) > 0
    assert any(line.startswith("pipeline plan_postings") for line in out)

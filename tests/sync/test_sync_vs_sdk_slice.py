"""A slice of bench/sync_vs_sdk.py: 2 projects, a light latency model, both contenders in one run.

The bench's figures are timings and are not asserted; what is checked is that it runs end to end
(sandboxes in their own processes, yecai's pipeline, the SDK saving the same vouchers), prints its
floor with the formula and the counts it was made of, and ends with the line the issue names, whose
figures agree with each other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sync_vs_sdk.py"

pytestmark = [pytest.mark.slow, pytest.mark.sdk]

LAST = re.compile(
    r"sdk_s=(?P<sdk>[\d.]+) yecai_s=(?P<yecai>[\d.]+) floor_s=(?P<floor>[\d.]+) "
    r"ratio_vs_sdk=(?P<vs_sdk>[\d.]+) ratio_vs_floor=(?P<vs_floor>[\d.]+)"
)
FLOOR = re.compile(
    r"floor = \(calls × latency \+ records × per-record\) / concurrency = \((?P<calls>[\d,]+) × 5 ms \+ "
    r"(?P<records>[\d,]+) × 1 ms\) / 4 = (?P<waited>[\d.]+) s / 4 = (?P<floor>[\d.]+) s"
)


def test_the_bench_prints_its_floor_and_its_last_line() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--projects", "2", "--latency-ms", "5", "--per-record-ms", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    last = LAST.fullmatch(lines[-1])
    assert last, lines[-1]
    floor = next((m for line in lines if (m := FLOOR.fullmatch(line))), None)
    assert floor, output
    calls, records = int(floor["calls"].replace(",", "")), int(floor["records"].replace(",", ""))
    # yecai made calls and was charged for records: saves, read-backs, base data
    assert calls > 0
    assert records > calls
    assert float(floor["waited"]) == pytest.approx((calls * 5 + records * 1) / 1000, abs=0.01)
    assert float(floor["floor"]) == pytest.approx(float(floor["waited"]) / 4, abs=0.01)
    assert float(last["floor"]) == pytest.approx(float(floor["floor"]), abs=0.006)
    sdk, yecai = float(last["sdk"]), float(last["yecai"])
    assert sdk > 0
    assert yecai > 0
    # the figures are printed rounded (seconds to 0.01, the floor to 0.001): ratios agree within that
    assert float(last["vs_sdk"]) == pytest.approx(sdk / yecai, rel=0.05)
    assert float(last["vs_floor"]) == pytest.approx(yecai / float(last["floor"]), rel=0.05)
    vouchers = re.search(r"official SDK Save × ([\d,]+) vouchers", result.stdout)
    assert vouchers
    assert int(vouchers[1].replace(",", "")) > 0

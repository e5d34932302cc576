"""A representative slice of bench/hostile_inputs.py: malformed files and webhook deliveries through
the CLI, the HTTP import and the webhook endpoint of a real, memory-capped server process.

The whole corpus (1,000+ inputs) runs in the bench; here one or two of each family go through the
API and the webhook endpoint, and one of each family through `yecai import`. Nothing may crash,
answer 5xx or hang, and every good row beside a defect must land.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import PINNED, corpus
from tests.support.hostile_run import cases_named, run

pytestmark = pytest.mark.slow


def test_the_slice_never_crashes_and_loses_no_good_row(tmp_path: Path) -> None:
    found = corpus("slice")
    # the slice stays representative
    assert len(found.files) >= 60
    assert len(found.hooks) >= 40
    tally = run(found, ways=("cli", "api"), cli_cases=cases_named(found, PINNED), timeout=300, root=tmp_path)
    report = "\n".join([tally.line(), *tally.details()])
    assert (tally.crashes, tally.http5xx, tally.hangs) == (0, 0, 0), report
    assert tally.lost == [], report
    assert tally.unnamed == [], report
    # the two families whose good rows are readable around the defect were read: not refused whole
    assert any(o.succeeded for o in tally.outcomes if o.case.startswith("quoting/")), report

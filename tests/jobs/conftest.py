"""Fixtures of the job tests: both sandboxes running, and a collector of alert events.

`sandboxes` is (sandbox.pm server, its dataset, sandbox.kingdee server, Kingdee credentials):
two projects over one month. A module sets `KINGDEE_FAULTS` (a `FaultSettings`) to run Kingdee
with faults or latency. `collector` records the events a runtime raises (tests/support/job_runtime.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.job_runtime import Collector
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.server import start_sandbox as start_pm


@pytest.fixture
def sandboxes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Any, Any, Any, dict[str, Any]]]:
    pm, dataset = start_pm(projects=2, months=1, seed=11)
    faults = getattr(request.module, "KINGDEE_FAULTS", None)
    kingdee, credentials = start_kingdee(tmp_path / "kingdee", faults=faults)
    try:
        yield pm, dataset, kingdee, credentials
    finally:
        kingdee.stop()
        pm.stop()


@pytest.fixture
def collector() -> Collector:
    return Collector()

"""A run shared by two workers while Kingdee loses answers: still every posting exactly once.

sandbox.kingdee commits one BatchSave in five and then drops its answer. A sender leaves such a
batch `uncertain` (nothing is looked up while the other sender writes); the job's final step,
alone, finds those postings by key and resends nothing that landed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.jobs.test_jobs_e2e import (
    WORKER,
    assert_exactly_once,
    distributed,
    part_runs,
    posted,
    queue_name,
    spawn,
    stop,
)
from tests.support.job_runtime import expected_vouchers, runs_of, wait_for
from yecai.jobs import leases, states
from yecai.sandbox.kingdee.faults import FaultSettings

pytestmark = pytest.mark.slow

__all__ = ["queue_name"]  # the fixture, shared with the end-to-end tests

KINGDEE_FAULTS = FaultSettings(latency_ms=40, drop_after_commit_rate=0.2, seed=7)


@pytest.mark.postgres
def test_answers_lost_while_two_workers_share_a_run_are_settled_by_key(
    tmp_path: Path, pg_url: str, queue_name: str, sandboxes: tuple[Any, Any, Any, dict[str, Any]]
) -> None:
    pm, dataset, _kingdee, credentials = sandboxes
    store, env, queue = distributed(
        tmp_path, pg_url, queue_name, credentials, pm.base_url, batch_size=4, lease_seconds=30.0, parts=2
    )
    total = expected_vouchers(dataset)
    workers = [spawn(WORKER, env, tmp_path / f"worker-{n}.log", "--workers", "1") for n in (1, 2)]
    try:
        assert queue.enqueue("costs").queued
        wait_for(lambda: (s := states.state(store, "costs")) and s.last_outcome is not None, timeout=120)
        job_state = states.state(store, "costs")
        assert job_state is not None
        assert job_state.last_outcome == "succeeded", job_state.last_message
        (run,) = runs_of(store, "costs")
        assert run.counts["check"]["vouchers"] == total
        assert run.counts["send"]["found_after_unknown"] > 0  # answers were lost, and settled
        shares = part_runs(store)
        assert len(shares) == 2
        assert all(share.counts["taken"] > 0 for share in shares)
        assert posted(store) == total
        assert_exactly_once(credentials, dataset)
        assert leases.all_leases(store) == []
    finally:
        for worker in workers:
            stop(worker)
        store.close()

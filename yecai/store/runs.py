"""Runs: start one, finish it with its counts and outcome, and count a stream's staged records.

Every sync, import, reconciliation and report is a run (the console's 运行记录); the pipeline, the
jobs and the demo open and close them here. Keyword-only arguments, one unit of work each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from yecai.store.db import Store
from yecai.store.tables import Record, Run


def start_run(store: Store, *, kind: str, connection: str | None = None, stream: str | None = None) -> int:
    with store.transaction() as session:
        run = Run(kind=kind, connection=connection, stream=stream, status="running", counts={})
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    store: Store, *, run_id: int, status: str, counts: dict[str, Any], message: str | None = None
) -> None:
    with store.transaction() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LookupError(f"run {run_id} does not exist")
        run.status = status
        run.counts = counts
        run.message = message
        run.finished_at = dt.datetime.now(dt.UTC)


def record_counts(store: Store, *, connection: str, stream: str) -> dict[str, int]:
    """Staged records of a stream by status (staged / valid / invalid)."""
    with store.transaction() as session:
        rows = session.execute(
            select(Record.status, func.count())
            .where(Record.connection == connection, Record.stream == stream)
            .group_by(Record.status)
        )
        return {key: value for key, value in rows}

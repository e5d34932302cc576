"""Connection health: consecutive failed runs, automatic pause after N of them, pause and resume.

A failed run counts against the connection its error names (when that is one of the job's two
connections) or else against both; any successful run of a job resets both of its connections.
A paused connection's jobs are neither enqueued nor started until a person resumes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from yecai.store.clock import as_utc, to_store, utcnow
from yecai.store.db import Store
from yecai.store.inserts import insert_ignore
from yecai.store.job_tables import ConnectionHealth


@dataclass(frozen=True, slots=True)
class Health:
    connection: str
    consecutive_failures: int
    paused: bool
    paused_at: dt.datetime | None
    paused_by: str | None
    paused_reason: str | None
    last_error: str | None
    last_success_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: ConnectionHealth) -> Health:
        return cls(
            row.connection,
            row.consecutive_failures,
            row.paused,
            as_utc(row.paused_at),
            row.paused_by,
            row.paused_reason,
            row.last_error,
            as_utc(row.last_success_at),
        )


def _ensure(session: Any, connection: str) -> None:
    insert_ignore(
        session,
        ConnectionHealth,
        {"connection": connection, "consecutive_failures": 0, "paused": False, "updated_at": utcnow()},
    )


def _count(session: Any, connection: str, **values: Any) -> None:
    """Set a connection's run counters, creating its row first: a connection is tracked from its
    first run on, whether that run failed or succeeded."""
    _ensure(session, connection)
    session.execute(
        update(ConnectionHealth).where(ConnectionHealth.connection == connection).values(**values)
    )


def health(store: Store, connection: str) -> Health | None:
    with store.transaction() as session:
        row = session.get(ConnectionHealth, connection)
        return Health.of(row) if row else None


def all_health(store: Store) -> dict[str, Health]:
    with store.transaction() as session:
        return {row.connection: Health.of(row) for row in session.scalars(select(ConnectionHealth))}


def paused_among(store: Store, connections: Iterable[str]) -> list[str]:
    """Which of these connections are paused."""
    names = list(dict.fromkeys(connections))
    with store.transaction() as session:
        rows = session.scalars(
            select(ConnectionHealth.connection).where(
                ConnectionHealth.connection.in_(names), ConnectionHealth.paused.is_(True)
            )
        )
        found = set(rows)
    return [name for name in names if name in found]


def record_failure(
    store: Store, connections: Iterable[str], *, error: str, pause_after: int, now: dt.datetime | None = None
) -> list[str]:
    """Count one failed run against each connection; returns those this failure paused."""
    moment = to_store(now or utcnow())
    newly_paused: list[str] = []
    with store.transaction() as session:
        for connection in dict.fromkeys(connections):
            _count(
                session,
                connection,
                consecutive_failures=ConnectionHealth.consecutive_failures + 1,
                last_failure_at=moment,
                last_error=error,
            )
            # Only the run that crosses the threshold pauses (and alerts), whoever else is counting.
            result: Any = session.execute(
                update(ConnectionHealth)
                .where(
                    ConnectionHealth.connection == connection,
                    ConnectionHealth.paused.is_(False),
                    ConnectionHealth.consecutive_failures >= pause_after,
                )
                .values(
                    paused=True,
                    paused_at=moment,
                    paused_by="auto",
                    paused_reason=f"连续 {pause_after} 次运行失败 / {pause_after} consecutive failed runs: {error}",
                )
            )
            if result.rowcount == 1:
                newly_paused.append(connection)
    return newly_paused


def record_success(store: Store, connections: Iterable[str], *, now: dt.datetime | None = None) -> None:
    moment = to_store(now or utcnow())
    with store.transaction() as session:
        for connection in dict.fromkeys(connections):
            _count(session, connection, consecutive_failures=0, last_success_at=moment)


def record_test(
    store: Store, connection: str, *, ok: bool, message: str, now: dt.datetime | None = None
) -> None:
    """What a person's 测试连接 found, shown in the health column like a run's outcome: a failed test
    counts one failure (it never pauses the connection: only runs do); a passing one clears them."""
    moment = to_store(now or utcnow())
    with store.transaction() as session:
        if ok:
            _count(session, connection, consecutive_failures=0, last_error=None)
        else:
            _count(
                session,
                connection,
                consecutive_failures=ConnectionHealth.consecutive_failures + 1,
                last_failure_at=moment,
                last_error=f"测试连接失败 / connection test failed: {message}",
            )


def pause(store: Store, connection: str, *, who: str, reason: str, now: dt.datetime | None = None) -> bool:
    """Pause by hand; False when it was already paused."""
    with store.transaction() as session:
        _ensure(session, connection)
        result: Any = session.execute(
            update(ConnectionHealth)
            .where(ConnectionHealth.connection == connection, ConnectionHealth.paused.is_(False))
            .values(paused=True, paused_at=to_store(now or utcnow()), paused_by=who, paused_reason=reason)
        )
        return bool(result.rowcount == 1)


def resume(store: Store, connection: str) -> bool:
    """Resume and start counting failures afresh; False when it was not paused."""
    with store.transaction() as session:
        _ensure(session, connection)
        result: Any = session.execute(
            update(ConnectionHealth)
            .where(ConnectionHealth.connection == connection, ConnectionHealth.paused.is_(True))
            .values(paused=False, consecutive_failures=0, paused_at=None, paused_by=None, paused_reason=None)
        )
        return bool(result.rowcount == 1)

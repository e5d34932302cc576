"""The console's first page in figures: runs, backlog, failures by what to do next, last syncs.

Failures are grouped by who must act (invariant 5): "fix configuration" (mapping, rules,
connection), "fix data" (the source record) and "waiting to retry" (transient or remote faults
that the next attempt may clear). Project managers get their own projects' figures only;
company-wide operations (runs, dead letters, connections) are for roles that see every project.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select

from yecai.auth.principal import Principal
from yecai.domain.posting_states import OPEN, PostingState
from yecai.services.trace import _visible_posting
from yecai.store.clock import as_utc
from yecai.store.db import Store
from yecai.store.job_tables import ConnectionHealth, DeadLetter
from yecai.store.tables import Document, Posting, Record, Run

GROUPS = ("configuration", "data", "retry")
_FAULT_GROUP = {"configuration": "configuration", "data": "data", "transient": "retry", "remote": "retry"}


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    kind: str
    connection: str | None
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, object]
    message: str | None


@dataclass(frozen=True, slots=True)
class LastSync:
    connection: str
    finished_at: dt.datetime | None
    status: str
    paused: bool
    paused_reason: str | None


@dataclass(slots=True)
class Dashboard:
    postings_by_state: dict[str, int]
    backlog: int
    failures: dict[str, int]  # group → count
    failure_sources: dict[str, dict[str, int]]  # group → {postings, dead_letters, records}
    invalid_records: int
    awaiting_approval: int
    dead_letters: int
    runs: list[RunRow] = field(default_factory=list)
    last_syncs: list[LastSync] = field(default_factory=list)
    documents: int = 0
    company_wide: bool = True


def failure_group(fault: str | None, action: str | None) -> str:
    """Who must act on a failure: "configuration", "data" or "retry" (waiting for the next attempt)."""
    if action == "retry":
        return "retry"
    return _FAULT_GROUP.get(fault or "", "configuration" if fault is None else "retry")


def recent_runs(store: Store, *, limit: int = 20) -> list[RunRow]:
    with store.sessions() as session:
        return [
            RunRow(
                r.id,
                r.kind,
                r.connection,
                r.status,
                as_utc(r.started_at) or r.started_at,
                as_utc(r.finished_at),
                dict(r.counts or {}),
                r.message,
            )
            for r in session.scalars(select(Run).order_by(Run.id.desc()).limit(limit))
        ]


def dashboard(store: Store, who: Principal) -> Dashboard:
    failures = dict.fromkeys(GROUPS, 0)
    sources: dict[str, dict[str, int]] = {group: {} for group in GROUPS}

    def add(group: str, source: str, count: int) -> None:
        failures[group] += count
        sources[group][source] = sources[group].get(source, 0) + count

    with store.sessions() as session:
        visible = _visible_posting(who)
        by_state = select(Posting.state, func.count()).group_by(Posting.state)
        failed = (
            select(Posting.error_fault, Posting.error_action, func.count())
            .where(Posting.state.in_((PostingState.FAILED, PostingState.DEAD, PostingState.HELD)))
            .group_by(Posting.error_fault, Posting.error_action)
        )
        if visible is not None:
            by_state = by_state.where(visible)
            failed = failed.where(visible)
        states = {state: count for state, count in session.execute(by_state)}
        for fault, action, count in session.execute(failed):
            add(failure_group(fault, action), "postings", count)
        documents = (
            session.scalar(
                select(func.count()).select_from(Document).where(who.project_clause(Document.project_code))
            )
            or 0
        )
        invalid = 0
        dead = 0
        runs: list[RunRow] = []
        last: list[LastSync] = []
        company_wide = who.projects is None
        if company_wide:
            # an invalid record has no document yet, so no project to scope it by: company-wide only
            invalid = (
                session.scalar(select(func.count()).select_from(Record).where(Record.status == "invalid"))
                or 0
            )
            if invalid:
                add("data", "records", invalid)
            for fault, action, count in session.execute(
                select(DeadLetter.error_fault, DeadLetter.error_action, func.count())
                .where(DeadLetter.status == "dead")
                .group_by(DeadLetter.error_fault, DeadLetter.error_action)
            ):
                dead += count
                add(failure_group(fault, action), "dead_letters", count)
            health = {h.connection: h for h in session.scalars(select(ConnectionHealth))}
            finished = session.execute(
                select(Run.connection, func.max(Run.finished_at))
                .where(Run.connection.is_not(None), Run.finished_at.is_not(None))
                .group_by(Run.connection)
            ).all()
            seen: set[str] = set()
            for connection, finished_at in finished:
                status = session.scalar(
                    select(Run.status)
                    .where(Run.connection == connection, Run.finished_at == finished_at)
                    .order_by(Run.id.desc())
                    .limit(1)
                )
                h = health.get(connection)
                last.append(
                    LastSync(
                        connection,
                        as_utc(finished_at),
                        status or "-",
                        bool(h and h.paused),
                        h.paused_reason if h else None,
                    )
                )
                seen.add(connection)
            for connection, h in health.items():
                if connection not in seen:
                    last.append(LastSync(connection, None, "-", bool(h.paused), h.paused_reason))
    if company_wide:
        runs = recent_runs(store, limit=10)
    return Dashboard(
        postings_by_state=states,
        backlog=sum(count for state, count in states.items() if state in OPEN),
        failures=failures,
        failure_sources=sources,
        invalid_records=invalid,
        awaiting_approval=states.get(PostingState.AWAITING_APPROVAL, 0),
        dead_letters=dead,
        runs=runs,
        last_syncs=sorted(last, key=lambda item: item.connection),
        documents=documents,
        company_wide=company_wide,
    )

"""Alert deliveries in the store: the de-duplication and rate-limit decision, its outcome, the list.

Every alert for every channel is a row of `alert_deliveries`, so the rules hold across processes
(`yecai serve` threads, `yecai worker` processes on several hosts) on SQLite and PostgreSQL alike:
`reserve` inserts the row and decides in one transaction that is serialised per channel — a
PostgreSQL advisory lock, SQLite's single writer (the insert comes first, so the write lock is
taken before anything is read). Statuses: sent, failed, duplicate, rate_limited; `sending` while
the message is on its way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from yecai.store.auth_tables import AlertDelivery
from yecai.store.clock import as_utc, to_store
from yecai.store.db import Store

SENDING = "sending"
# What counts against the de-duplication window: delivered, or being delivered right now (a
# failed send does not hide the next report of the same problem).
DELIVERED = ("sent", SENDING)
# What counts against the hourly limit: every attempt, failed ones too, so that a broken or
# throttling webhook is not hammered (DingTalk and WeCom themselves allow 20 messages a minute).
ATTEMPTED = ("sent", SENDING, "failed")


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    channel: str
    event: str
    dedupe_key: str
    status: str  # sent | failed | duplicate | rate_limited | sending
    title: str
    body: str | None
    error: str | None
    at: dt.datetime

    @classmethod
    def of(cls, row: AlertDelivery) -> Delivery:
        at = as_utc(row.at)
        assert at is not None
        return cls(
            row.id, row.channel, row.event, row.dedupe_key, row.status, row.title, row.body, row.error, at
        )


def _lock_id(channel: str) -> int:
    """A stable signed 64-bit advisory-lock key per channel (Python's hash() is salted per process)."""
    digest = hashlib.sha256(f"yecai.alerts:{channel}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _serialise(session: Session, channel: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Held until commit: a second process deciding for this channel waits, then sees our row.
        session.execute(select(func.pg_advisory_xact_lock(_lock_id(channel))))


def reserve(
    store: Store,
    *,
    channel: str,
    event: str,
    dedupe_key: str,
    title: str,
    body: str | None,
    now: dt.datetime,
    dedupe_minutes: int,
    max_per_hour: int,
) -> Delivery:
    """Record the alert for the channel and decide: `duplicate`, `rate_limited`, or `sending` (the
    caller sends it now and then calls `settle`)."""
    moment = to_store(now)
    with store.transaction() as session:
        _serialise(session, channel)
        row = AlertDelivery(
            channel=channel,
            event=event,
            dedupe_key=dedupe_key,
            status=SENDING,
            title=title,
            body=body,
            at=moment,
        )
        session.add(row)
        session.flush()
        others = (AlertDelivery.channel == channel, AlertDelivery.id != row.id)
        duplicate = dedupe_minutes > 0 and session.scalar(
            select(func.count())
            .select_from(AlertDelivery)
            .where(
                *others,
                AlertDelivery.dedupe_key == dedupe_key,
                AlertDelivery.status.in_(DELIVERED),
                # no upper bound: a row another process committed while we waited for the lock
                # may carry a moment a little after ours
                AlertDelivery.at > moment - dt.timedelta(minutes=dedupe_minutes),
            )
        )
        if duplicate:
            row.status = "duplicate"
        else:
            attempts = session.scalar(
                select(func.count())
                .select_from(AlertDelivery)
                .where(
                    *others,
                    AlertDelivery.status.in_(ATTEMPTED),
                    AlertDelivery.at > moment - dt.timedelta(hours=1),
                )
            )
            if (attempts or 0) >= max_per_hour:
                row.status = "rate_limited"
        session.flush()
        return Delivery.of(row)


def settle(store: Store, delivery_id: int, *, status: str, error: str | None = None) -> None:
    """The outcome of a `sending` delivery: sent or failed (with the redacted error)."""
    with store.transaction() as session:
        session.execute(
            update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(status=status, error=error)
        )


def recent_deliveries(store: Store, *, limit: int = 50, channel: str | None = None) -> list[Delivery]:
    """The newest deliveries first (for `yecai alerts list` and the console)."""
    with store.transaction() as session:
        query = select(AlertDelivery).order_by(AlertDelivery.at.desc(), AlertDelivery.id.desc()).limit(limit)
        if channel:
            query = query.where(AlertDelivery.channel == channel)
        return [Delivery.of(row) for row in session.scalars(query)]

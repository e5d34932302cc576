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
import re
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

# The channels' labels, as errors begin with them (robots.py, mail.py).
LABELS = {
    "钉钉机器人": "DingTalk robot",
    "飞书机器人": "Feishu bot",
    "企业微信机器人": "WeCom robot",
    "邮件通道": "email channel",
}
_OLD_REFUSAL = re.compile(r"拒绝了消息（HTTP (\d{3}), code (-?\d+)?")
_OLD_UNREADABLE = re.compile(r"的应答无法识别：HTTP (\d{3})")


def scrubbed(channel: str, error: str | None) -> str | None:
    """An error in the words of releases before the outbound policy, which quoted the remote
    body, the exception's text (telling open ports from closed) or the platform's message, put
    into today's fixed words; any other text is returned unchanged. Only what yecai itself wrote
    is kept: the channel, the HTTP status and a numeric platform code, which came first."""
    if not error:
        return error
    for label_zh, label_en in LABELS.items():
        who_zh, who_en = f"{label_zh} {channel}", f"{label_en} {channel}"
        if not error.startswith(who_zh + " "):
            continue
        rest = error[len(who_zh) + 1 :]
        if rest.startswith("无法送达："):
            return f"{who_zh}：无法连接告警地址 / {who_en}: cannot reach the alert address"
        if rest.startswith("发送失败（"):
            return (
                f"{who_zh}：发送失败（旧记录，详情已移除）/ {who_en}: failed (older record, details removed)"
            )
        unreadable = _OLD_UNREADABLE.match(rest)
        if unreadable:
            status = unreadable.group(1)
            return f"{who_zh} 的应答无法识别（HTTP {status}）/ {who_en} gave an unreadable answer (HTTP {status})"
        refusal = _OLD_REFUSAL.match(rest)
        if refusal:
            shown = f"HTTP {refusal.group(1)}" + (f", code {refusal.group(2)}" if refusal.group(2) else "")
            return f"{who_zh} 拒绝了消息（{shown}）/ {who_en} refused the message ({shown})"
    return error


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
        # Rows written before the outbound policy may quote remote bodies: never shown as stored.
        error = scrubbed(row.channel, row.error)
        return cls(row.id, row.channel, row.event, row.dedupe_key, row.status, row.title, row.body, error, at)


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
        row = session.get(AlertDelivery, delivery_id)
        if row is not None:
            error = scrubbed(row.channel, error)  # on write too: old wording never lands in the log
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

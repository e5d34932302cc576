"""After a restore: postings the backup held as not sent may be in Kingdee — looked up by key first.

A backup taken mid-sync knows nothing of what was written after it: postings it holds as planned
(or failed, held, skipped, awaiting approval) may have been sent and saved since, and documents
pulled again after the restore plan the same posting keys again. Kingdee keeps those vouchers and
yecai's key in them (invariant 2), so a restore leaves a marker per Kingdee connection (a `runs`
row of kind `restore`, pending) and, while it is pending, every posting of the connection that
would be sent is first looked up by key — found ones are confirmed, never sent again. The marker
lasts `lookup_days` (default 7: every daily and weekly job has re-read its source by then); the
cost is one query per 40–200 new postings. Written with SQL Core only, so a restored database whose
schema is older than the code can be marked before `yecai db upgrade`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlalchemy import JSON, Connection, column, inspect, select, table, text

from yecai.domain.posting_states import PostingState as S
from yecai.kingdee.keys import Found, key_value
from yecai.store.clock import as_utc
from yecai.store.db import Store
from yecai.store.tables import Posting, Run

KIND = "restore"
PENDING = "pending"
DONE = "succeeded"
LOOKUP_DAYS = 7
# Not in Kingdee as far as the restored database knows, but maybe sent after the backup was taken
# (sent/uncertain are looked up by `sending.resolve_unknown` anyway).
NOT_SENT = (S.PLANNED, S.AWAITING_APPROVAL, S.FAILED, S.DEAD, S.HELD, S.SKIPPED)
# Saved in the backup: Submit/Audit may have happened since — their status is read again first, or
# the next run would submit an audited voucher and, refused, compensate it.
LOOK_UP = (*NOT_SENT, S.SAVED)
# Updates rewrite in place and deletions end in "already gone": repeating them is harmless.
NEW_DOCUMENTS = ("posting", "reversal")

_runs = table(
    "runs",
    column("kind"),
    column("connection"),
    column("status"),
    column("started_at"),
    column("counts", JSON),
    column("message"),
)


def mark_restored(
    connection: Connection, *, created_at: str, source: str, lookup_days: int = LOOKUP_DAYS
) -> list[str]:
    """Leave a pending marker for every Kingdee connection the restored postings name; those names."""
    if not inspect(connection).has_table("postings"):
        return []
    names = sorted(
        str(n) for n in connection.execute(text("SELECT DISTINCT connection FROM postings")).scalars()
    )
    now = dt.datetime.now(dt.UTC)
    until = (now + dt.timedelta(days=lookup_days)).isoformat()
    for name in names:
        connection.execute(
            _runs.insert().values(
                kind=KIND,
                connection=name,
                status=PENDING,
                started_at=now,
                counts={
                    "backup_created_at": created_at,
                    "backup": source,
                    "lookup_until": until,
                    "checked_to_id": 0,
                    "looked_up": 0,
                    "found": 0,
                },
                message=(
                    "恢复备份后：发送前按键在金蝶中查找可能已过账的凭证 / after a restore: postings are "
                    "looked up by key in Kingdee before they are sent"
                ),
            )
        )
    return names


# (form id, key field, key values) → value → the document found: the sender's own lookup
Find = Callable[[str, str, Iterable[str]], dict[str, Found]]


def settle_after_restore(
    store: Store,
    find: Find,
    *,
    kingdee_connection: str,
    confirm: Callable[[Posting, Found], None],
) -> int:
    """While a restore marker is pending: look up every not-yet-checked posting by key; how many found.

    Saved postings are re-read too (their status may have moved on) but not counted as found.

    `confirm(posting, hit)` records a found posting (the sender's own confirmation, as after an
    unknown outcome). The marker row is locked for the lookup (PostgreSQL): two senders of the
    connection starting together take turns, and the second looks up only what the first did not.
    The marker closes once its time is up.
    """
    with store.transaction() as session:
        marker = session.scalars(
            select(Run)
            .where(Run.kind == KIND, Run.connection == kingdee_connection, Run.status == PENDING)
            .order_by(Run.id)
            .limit(1)
            .with_for_update()
        ).first()
        if marker is None:
            return 0
        counts = dict(marker.counts or {})
        checked_to = int(counts.get("checked_to_id") or 0)
        postings = list(
            session.scalars(
                select(Posting)
                .where(
                    Posting.connection == kingdee_connection,
                    Posting.id > checked_to,
                    Posting.state.in_(LOOK_UP),
                    Posting.kind.in_(NEW_DOCUMENTS),
                )
                .order_by(Posting.id)
                # a row a sender is claiming right now is waited for, then seen `sent` and left out
                .with_for_update()
            )
        )
        found = _look_up(find, postings, confirm)
        top = max([checked_to, *(p.id for p in postings)])
        counts.update(
            checked_to_id=top,
            looked_up=int(counts.get("looked_up") or 0) + len(postings),
            found=int(counts.get("found") or 0) + found,
        )
        marker.counts = counts
        until = counts.get("lookup_until")
        if until and dt.datetime.now(dt.UTC) >= as_utc(dt.datetime.fromisoformat(str(until))):
            marker.status = DONE
            marker.finished_at = dt.datetime.now(dt.UTC)
        return found


def _look_up(find: Find, postings: Iterable[Posting], confirm: Callable[[Posting, Found], None]) -> int:
    groups: dict[tuple[str, str], list[Posting]] = defaultdict(list)
    for posting in postings:
        groups[(posting.form_id, posting.key_field)].append(posting)
    found = 0
    for (form_id, key_field), members in groups.items():
        values = {p.id: p.kingdee_key or key_value(p.key_field, p.posting_key) for p in members}
        hits = find(form_id, key_field, values.values())
        for posting in members:
            hit = hits.get(values[posting.id])
            if hit is not None:
                was_saved = posting.state == S.SAVED
                confirm(posting, hit)
                found += 0 if was_saved else 1
    return found


def pending_markers(store: Store) -> list[str]:
    """The Kingdee connections whose postings are still looked up before sending (a restore's marker)."""
    with store.transaction() as session:
        return sorted(
            {
                str(name)
                for name in session.scalars(
                    select(Run.connection).where(Run.kind == KIND, Run.status == PENDING)
                )
            }
        )

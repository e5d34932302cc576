"""The restore marker: postings looked up once each, new ones as they come, until the marker's time is up.

`settle_after_restore` is driven with a recording lookup in place of Kingdee: the first call asks
about every posting the backup held as not sent (and the saved ones), confirms those found and
leaves the others; a posting planned later is asked about at the next call, the earlier ones not
again; updates and deletions are never asked about; once `lookup_until` has passed the marker
closes and nothing more is looked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select

from yecai.kingdee.keys import BILL_NO, Found, key_value
from yecai.store.db import Store
from yecai.store.tables import Posting, Run
from yecai.sync import restored
from yecai.sync.sending import _confirm


def add(store: Store, key: str, state: str, kind: str = "posting") -> int:
    with store.transaction() as session:
        posting = Posting(
            posting_key=key,
            connection="kd",
            rule_set="cost_actuals",
            form_id="GL_VOUCHER",
            group_key=f"P1|labour|{key}",
            business_date=dt.date(2026, 11, 2),
            state=state,
            debit_total=Decimal("100.00"),
            credit_total=Decimal("100.00"),
            payload="{}",
            kind=kind,
            key_field=BILL_NO,
        )
        session.add(posting)
        session.flush()
        return posting.id


class RecordingLookup:
    """Answers like Kingdee for the keys in `present` (status per key), and records what was asked."""

    def __init__(self, present: dict[str, str]) -> None:
        self.present = {key_value(BILL_NO, key): status for key, status in present.items()}
        self.asked: list[str] = []

    def __call__(self, form_id: str, key_field: str, values: Iterable[str]) -> dict[str, Found]:
        wanted = list(values)
        self.asked += wanted
        return {
            v: Found(f"id-{v}", v, self.present[v], Decimal("100.00"), Decimal("100.00"))
            for v in wanted
            if v in self.present
        }


def settle(store: Store, lookup: RecordingLookup) -> int:
    return restored.settle_after_restore(
        store,
        lookup,
        kingdee_connection="kd",
        confirm=lambda posting, hit: _confirm(posting, hit, None, reason="found by key after a restore"),
    )


def states(store: Store) -> dict[str, str]:
    with store.transaction() as session:
        return {p.posting_key: p.state for p in session.scalars(select(Posting))}


def marker(store: Store) -> Run:
    with store.transaction() as session:
        return session.scalars(select(Run).where(Run.kind == restored.KIND)).one()


def test_each_posting_is_looked_up_once_and_new_ones_as_they_come(store: Store) -> None:
    for key, state in [
        ("p1", "planned"),
        ("p2", "planned"),
        ("f1", "failed"),
        ("s1", "saved"),
        ("ok", "posted"),
    ]:
        add(store, key, state)
    add(store, "u1", "planned", kind="update")
    with store.engine.begin() as connection:
        assert restored.mark_restored(connection, created_at="2026-12-01T00:00:00+00:00", source="b") == [
            "kd"
        ]
    assert restored.pending_markers(store) == ["kd"]
    lookup = RecordingLookup({"p1": "A", "f1": "C", "s1": "C", "ok": "C"})
    assert settle(store, lookup) == 2  # p1 and f1 found; s1 re-read, not counted
    assert sorted(lookup.asked) == sorted(key_value(BILL_NO, k) for k in ("p1", "p2", "f1", "s1"))
    assert states(store) == {"p1": "posted", "p2": "planned", "f1": "posted", "s1": "posted", "ok": "posted",
                             "u1": "planned"}  # fmt: skip
    counts = marker(store).counts
    assert (counts["looked_up"], counts["found"]) == (4, 2)

    add(store, "p3", "planned")  # planned after the restore (a document pulled again)
    again = RecordingLookup({"p3": "A"})
    assert settle(store, again) == 1
    assert again.asked == [key_value(BILL_NO, "p3")]  # p2 was asked already, not again
    assert states(store)["p3"] == "posted"


def test_the_marker_closes_when_its_time_is_up(store: Store) -> None:
    add(store, "p1", "planned")
    with store.engine.begin() as connection:
        restored.mark_restored(connection, created_at="2026-12-01T00:00:00+00:00", source="b", lookup_days=0)
    lookup = RecordingLookup({})
    assert settle(store, lookup) == 0
    assert lookup.asked == [key_value(BILL_NO, "p1")]  # the last look
    closed = marker(store)
    assert closed.status == restored.DONE
    assert closed.finished_at is not None
    add(store, "p2", "planned")
    later = RecordingLookup({"p2": "A"})
    assert settle(store, later) == 0
    assert later.asked == []
    assert restored.pending_markers(store) == []


def test_without_postings_no_marker_is_left(store: Store) -> None:
    with store.engine.begin() as connection:
        assert restored.mark_restored(connection, created_at="2026-12-01T00:00:00+00:00", source="b") == []
    assert restored.pending_markers(store) == []

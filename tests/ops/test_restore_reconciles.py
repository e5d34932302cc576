"""A backup taken mid-sync restores into an empty database and reconciles: nothing posted twice.

A sync sends vouchers to sandbox.kingdee four calls at a time (each call slowed by the sandbox's
latency); when the second batch's answer is stored, another thread takes a backup (the store's
writer waits for it) while the first round's other BatchSaves are still in flight. The sync then
finishes. The backup is restored into an empty database — it holds
postings `sent` (their outcome unknown to it) and `planned` (sent after it was taken) — and the
sync runs again: every such posting is found in Kingdee by its key, nothing is sent, and the
reconciliation (yecai.reconcile) finds no difference; each posting key is in Kingdee once, with the
source's amounts. With Submit/Audit in the rule set the backup also holds `saved` postings audited
after it: their status is read again, never submitted twice. On SQLite and PostgreSQL. A control restore without the restore's marker shows
the planned postings would otherwise be posted a second time (the test can fail).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from tests.support.posting_world import Systems, rules_with, systems_for
from yecai.domain.money import money_sum
from yecai.kingdee.keys import BILL_NO, SUMMARY
from yecai.mapping.rules import default_mapping
from yecai.ops.backup import BackupResult, take_backup
from yecai.ops.restore import restore_backup
from yecai.reconcile.service import reconcile
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.store.db import Store, open_store
from yecai.store.tables import Posting, Run
from yecai.sync import restored
from yecai.sync.pipeline import SyncReport, run_sync_job
from yecai.sync.readback import read_yecai_vouchers

pytestmark = pytest.mark.slow


@pytest.fixture
def slow_systems(tmp_path: Path) -> Iterator[Systems]:
    # every call takes 150 ms: with four senders, three BatchSaves are in flight when one lands
    yield from systems_for(tmp_path, faults=FaultSettings(latency_ms=150))


def sync(
    store: Store,
    systems: Systems,
    key_field: str,
    step: Callable[[str, int | None], Any] | None = None,
    audit: bool = False,
) -> SyncReport:
    with systems.client() as client:
        return run_sync_job(
            store,
            systems.connector,
            client,
            rule_sets=[rules_with(kingdee={"key_field": key_field}, submit=audit, audit=audit)],
            mapping=default_mapping(),
            source_connection="pm",
            kingdee_connection="kd",
            batch_size=3,
            senders=4,
            backoff=0.01,
            step=step,
        )


def keys_in_kingdee(systems: Systems) -> Counter[str]:
    """Posting key → how many vouchers in Kingdee carry it (by 摘要 token or FBillNo key)."""
    with systems.client() as client:
        vouchers = read_yecai_vouchers(client)
    return Counter(key for voucher in vouchers.values() for key in voucher.keys)


def kingdee_total(systems: Systems) -> Any:
    with systems.client() as client:
        vouchers = read_yecai_vouchers(client)
    return money_sum(voucher.debit for voucher in vouchers.values())


def backup_mid_sync(
    store_url: str,
    store: Store,
    systems: Systems,
    key_field: str,
    workdir: Path,
    out: Path,
    audit: bool = False,
) -> BackupResult:
    """Run the sync; after its second saved batch, a backup from another thread while calls fly."""
    taken: list[BackupResult] = []
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []
    saved = 0

    def backup() -> None:
        try:
            taken.append(take_backup(store_url, workdir, out))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    def step(name: str, _total: int | None) -> Callable[[int], None] | None:
        if name != "post":
            return None

        def landed(_count: int) -> None:
            nonlocal saved
            saved += 1
            if saved == 2:
                # The sender's store thread waits here for the backup; the other BatchSaves of the
                # first round are still flying (or landed, their answers not yet stored): the backup
                # holds them as `sent`, whatever order the four calls come back in.
                threads.append(threading.Thread(target=backup, name="backup"))
                threads[0].start()
                threads[0].join(timeout=120)

        return landed

    report = sync(store, systems, key_field, step, audit)
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert report.check.clean, report.check
    assert taken, "the backup never ran: the sync saved fewer than two batches"
    return taken[0]


# bill_no: Kingdee itself refuses a second FBillNo; summary: nothing in Kingdee stops a second copy,
# only the lookup by key does.
# audit: Submit and Audit follow the saves, so the backup also holds `saved` postings whose
# Submit/Audit happened after it.
@pytest.mark.parametrize(("key_field", "audit"), [(BILL_NO, False), (SUMMARY, False), (SUMMARY, True)])
def test_a_backup_taken_mid_sync_restores_and_nothing_is_posted_twice(
    store_url: str, empty_url: str, slow_systems: Systems, tmp_path: Path, key_field: str, audit: bool
) -> None:
    systems = slow_systems
    source_total = money_sum(r.amount for r in systems.dataset.all_cost_records)
    store = open_store(store_url)
    try:
        backup = backup_mid_sync(
            store_url, store, systems, key_field, tmp_path / "work", tmp_path / "yecai.backup", audit
        )
        with store.transaction() as session:
            # what each posting's key reads as in Kingdee: the 摘要 token's key, or the FBillNo
            expected = {
                p.posting_key if p.key_field == SUMMARY else p.kingdee_key
                for p in session.scalars(select(Posting))
            }
    finally:
        store.close()
    before = keys_in_kingdee(systems)
    assert set(before) == expected
    assert set(before.values()) == {1}
    # The backup was taken mid-run: some postings were in flight, some not yet sent, some posted.
    states = backup.manifest.postings
    assert states.get("sent", 0) + states.get("uncertain", 0) > 0, states
    assert states.get("planned", 0) > 0, states
    assert states.get("saved" if audit else "posted", 0) > 0, states  # saved: Submit/Audit came after

    result = restore_backup(backup.path, empty_url, tmp_path / "restored-work")
    assert result.postings == states
    assert result.marked == ["kd"]
    assert not result.behind
    restored_store = open_store(empty_url)
    try:
        again = sync(restored_store, systems, key_field, audit=audit)
        assert again.send.sent == 0, again.send
        # saved in the backup, audited since: their status is read again, nothing submitted twice
        assert (again.send.submitted, again.send.audited, again.send.compensated) == (0, 0, 0)
        assert again.send.found_after_unknown == states.get("sent", 0) + states.get("uncertain", 0)
        assert again.send.found_after_restore == states["planned"]
        assert again.check.clean, again.check
        with restored_store.transaction() as session:
            assert {p.state for p in session.scalars(select(Posting))} == {"posted"}
            marker = session.scalars(select(Run).where(Run.kind == restored.KIND)).one()
            assert marker.counts["found"] == states["planned"]
        with systems.client() as client:
            recon = reconcile(restored_store, client, kingdee_connection="kd", period=None)
        assert recon.total == 0, recon.counts
    finally:
        restored_store.close()
    after = keys_in_kingdee(systems)
    assert after == before  # every posting key exactly once, none added
    assert kingdee_total(systems) == source_total


def test_without_the_restore_marker_the_unsent_postings_would_post_twice(
    tmp_path: Path, slow_systems: Systems
) -> None:
    """The control: what the marker prevents really happens without it (so the test above can fail)."""
    systems = slow_systems
    store_url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    store = open_store(store_url)
    try:
        backup = backup_mid_sync(
            store_url, store, systems, SUMMARY, tmp_path / "work", tmp_path / "yecai.backup"
        )
    finally:
        store.close()
    planned = backup.manifest.postings.get("planned", 0)
    assert planned > 0
    target = f"sqlite:///{tmp_path / 'control' / 'yecai.sqlite'}"
    restore_backup(backup.path, target, tmp_path / "control-work")
    control = open_store(target)
    try:
        with control.transaction() as session:
            session.execute(delete(Run).where(Run.kind == restored.KIND))
        again = sync(control, systems, SUMMARY)
    finally:
        control.close()
    twice = [key for key, count in keys_in_kingdee(systems).items() if count > 1]
    assert again.send.sent == planned
    assert len(twice) == planned

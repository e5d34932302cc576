"""The posting engine against a running sandbox.kingdee, on SQLite and PostgreSQL.

Keys where the rule set wants them (a deterministic FBillNo defeats writes that commit after the
caller gave up), Save → Submit → Audit with compensation, closed periods by policy, the approval
gate, and replay / skip of postings.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.support.posting_world import Systems, distinct_vouchers, rules_with, systems_for
from yecai.domain.money import money_sum
from yecai.errors import YecaiError
from yecai.mapping.rules import PeriodPolicy
from yecai.sandbox.kingdee import SandboxSettings
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.services import postings as service
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync.sending import send_postings

pytestmark = pytest.mark.slow


def test_bill_number_keys_and_audit(store: Store, posting_systems: Systems) -> None:
    rules = rules_with(kingdee={"key_field": "bill_no"}, submit=True, audit=True)
    report = posting_systems.sync(store, rules)
    assert report.check.clean
    vouchers = distinct_vouchers(posting_systems.vouchers())
    assert len(vouchers) == report.send.posted == report.send.audited
    assert all(row[1].startswith("YC") and row[3] == "C" for row in vouchers.values())
    with store.transaction() as session:
        postings = session.scalars(select(Posting)).all()
    assert {(p.state, p.step, p.kingdee_status, p.key_field) for p in postings} == {
        ("posted", "audit", "C", "bill_no")
    }
    # The number shown is the 凭证字号 Kingdee gave (期间 + 记-n), not yecai's own key in FBillNo.
    assert {p.kingdee_number for p in postings} == set(voucher_labels(posting_systems).values())
    assert all(voucher_labels(posting_systems)[p.kingdee_id] == p.kingdee_number for p in postings)
    assert all(p.kingdee_key and p.kingdee_key.startswith("YC") for p in postings)


def voucher_labels(systems: Systems) -> dict[str, str]:
    """Kingdee voucher id → 期间 记-凭证号, read straight from Kingdee's own fields."""
    with systems.client() as client:
        rows = list(
            client.query_all(
                "GL_VOUCHER",
                ["FVOUCHERID", "FYEAR", "FPERIOD", "FVOUCHERGROUPID.FName", "FVOUCHERGROUPNO"],
                "",
            )
        )
    return {str(r[0]): f"{r[1]}-{r[2]:02d} {r[3]}-{int(r[4]):04d}" for r in rows}


def test_a_voucher_found_by_key_gets_its_kingdee_number(store: Store, posting_systems: Systems) -> None:
    rules = rules_with(kingdee={"key_field": "summary"})
    posting_systems.sync(store, rules)
    with store.transaction() as session:
        for posting in session.scalars(select(Posting)):
            # as if every write had timed out after Kingdee committed it
            posting.state, posting.kingdee_id, posting.kingdee_number = "uncertain", None, None
    with posting_systems.client() as client:
        found = send_postings(store, client, kingdee_connection="kd", settle_seconds=0)
    assert found.found_after_unknown > 0
    assert found.sent == 0
    labels = voucher_labels(posting_systems)
    with store.transaction() as session:
        postings = session.scalars(select(Posting)).all()
    assert {p.state for p in postings} == {"posted"}
    assert all(p.kingdee_number == labels[p.kingdee_id] for p in postings)


def test_a_refused_audit_is_compensated(store: Store, tmp_path: Path) -> None:
    for systems in systems_for(tmp_path, SandboxSettings(voucher_creator_may_audit=False)):
        rules = rules_with(submit=True, audit=True, options={"on_step_failure": "delete"})
        report = systems.sync(store, rules)
        assert report.send.failed == report.send.compensated > 0
        assert systems.vouchers() == []  # nothing half-processed lingers in Kingdee
        with store.transaction() as session:
            failed = session.scalars(select(Posting).where(Posting.state == "failed")).all()
        assert failed
        assert all("补偿" in (p.note or "") and p.kingdee_id is None for p in failed)
        # after the fix (here: allow self-audit), a replay posts them
        systems.kingdee.sandbox.settings = SandboxSettings(voucher_creator_may_audit=True)
        for posting in failed:
            assert service.replay(store, posting_id=posting.id) == "uncertain"
        again = systems.sync(store, rules)
        assert again.send.posted == len(failed)
        assert again.check.clean


def test_closed_period_next_open_or_hold(store: Store, posting_systems: Systems) -> None:
    posting_systems.kingdee.sandbox.close_period(2026, 10)
    held = posting_systems.sync(store, rules_with(period_policy=PeriodPolicy.HOLD))
    assert held.send.held > 0
    assert held.send.posted == 0
    assert posting_systems.vouchers() == []
    with store.transaction() as session:
        states = {p.state for p in session.scalars(select(Posting))}
    assert states == {"held"}


def test_closed_period_moves_to_the_next_open_one(store: Store, posting_systems: Systems) -> None:
    posting_systems.kingdee.sandbox.close_period(2026, 10)
    report = posting_systems.sync(store, rules_with(period_policy=PeriodPolicy.NEXT_OPEN))
    assert report.check.clean
    assert report.send.moved_period == report.send.posted > 0
    rows = distinct_vouchers(posting_systems.vouchers())
    assert {row[2][:10] for row in rows.values()} == {"2026-11-01"}
    assert money_sum(row[4] for row in rows.values()) == money_sum(
        r.amount for r in posting_systems.dataset.all_cost_records
    )
    with store.transaction() as session:
        notes = {p.note for p in session.scalars(select(Posting))}
    assert all("2026-11-01" in (n or "") for n in notes)


def test_the_approval_gate(store: Store, posting_systems: Systems) -> None:
    rules = rules_with(approval=True)
    first = posting_systems.sync(store, rules)
    assert first.send.sent == 0
    assert posting_systems.vouchers() == []
    assert service.counts_by_state(store) == {"awaiting_approval": first.plan.planned}
    assert service.approve(store, who="会计 王芳") == first.plan.planned
    second = posting_systems.sync(store, rules)
    assert second.send.posted == first.plan.planned
    with store.transaction() as session:
        assert {p.approved_by for p in session.scalars(select(Posting))} == {"会计 王芳"}


def test_replay_and_skip_rules(store: Store, posting_systems: Systems) -> None:
    posting_systems.sync(store, rules_with(approval=True))
    with store.transaction() as session:
        first = session.scalars(select(Posting).limit(1)).one()
    with pytest.raises(YecaiError, match="原因"):
        service.skip(store, posting_id=first.id, reason=" ", who="x")
    service.skip(store, posting_id=first.id, reason="重复录入", who="会计")
    assert service.list_postings(store, state="skipped")[0].message == "会计: 重复录入"
    assert service.replay(store, posting_id=first.id) == "planned"
    with pytest.raises(YecaiError, match="不能重放"):
        service.replay(store, posting_id=first.id)
    with pytest.raises(YecaiError, match="不存在"):
        service.replay(store, posting_id=999999)


def test_bill_numbers_defeat_late_commits(store: Store, tmp_path: Path) -> None:
    """Writes that hang past the client's timeout and commit afterwards never double a voucher."""
    # Only writes hang, so lookups answer at once — before the hung write commits: the case a
    # key in the 摘要 alone cannot survive, and a unique bill number can.
    faults = FaultSettings(timeout_rate=0.5, hang_seconds=1.5, hang_writes_only=True, seed=3)
    for systems in systems_for(tmp_path, faults=faults):
        rules = rules_with(kingdee={"key_field": "bill_no"})
        timeout = httpx.Timeout(0.4, connect=5.0)
        hung = 0
        for _ in range(4):  # keep syncing while late commits land, as nightly runs would
            systems.sync(store, rules, batch_size=10, timeout=timeout, read_attempts=6)
            hung = systems.kingdee.faults.counts.hung
            time.sleep(1.6)  # let hung writes land (or be refused) before the next run
        assert hung >= 3  # the hazard really happened, several times
        time.sleep(1.6)  # every hung write has now either landed or been refused
        systems.kingdee.faults.update({"timeout_rate": 0.0})
        final = systems.sync(store, rules)
        assert final.check.clean, final.check
        rows = distinct_vouchers(systems.vouchers())
        expected = {
            (r.project_code, r.category.value, r.business_date) for r in systems.dataset.all_cost_records
        }
        assert len(rows) == len(expected)
        assert money_sum(row[4] for row in rows.values()) == money_sum(
            r.amount for r in systems.dataset.all_cost_records
        )


def test_summary_keys_wait_out_the_settle_time(store: Store, posting_systems: Systems) -> None:
    rules = rules_with(kingdee={"key_field": "summary"}, approval=True)
    posting_systems.sync(store, rules)
    service.approve(store, who="t")
    with store.transaction() as session:
        for posting in session.scalars(select(Posting)):
            posting.state = "uncertain"  # as if every write had timed out
    with posting_systems.client() as client:
        waiting = send_postings(store, client, kingdee_connection="kd", settle_seconds=120)
        assert waiting.waiting > 0
        assert (waiting.sent, waiting.reset_after_unknown) == (0, 0)
        assert posting_systems.vouchers() == []
        cleared = send_postings(store, client, kingdee_connection="kd", settle_seconds=0)
    assert cleared.reset_after_unknown == waiting.waiting
    assert cleared.posted == waiting.waiting

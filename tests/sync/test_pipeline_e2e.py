"""End to end on SQLite and PostgreSQL: sandbox.pm → yecai → sandbox.kingdee over real HTTP.

Checks the demo path (totals equal the source to the cent, one voucher per project × category ×
day, a second run posts nothing), and the exactly-once machinery under the faults a real network
produces: a response lost after Kingdee committed, an error page before it did, a refusal.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from yecai import jsonutil
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.domain.money import money_sum
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.mapping.rules import CategoryRule, MappingTable, RuleSet, default_mapping, default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.models import Dataset
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync.pipeline import run_cost_sync
from yecai.sync.readback import check_postings

pytestmark = pytest.mark.slow

THROTTLED = (
    '{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[{"FieldName":null,'
    '"Message":"调用过于频繁","DIndex":0}],"SuccessEntitys":[],"SuccessMessages":[],"MsgCode":14}}}'
)


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the real sandbox, then loses or replaces chosen answers of chosen services.

    `drop_after` loses the answer after Kingdee has processed the call (commit-then-drop);
    `fail_before` returns an HTML error page without forwarding (nothing reached Kingdee);
    `throttle` answers MsgCode 14 without forwarding.
    """

    def __init__(
        self,
        drop_after: set[int] | None = None,
        fail_before: set[int] | None = None,
        throttle: set[int] | None = None,
    ) -> None:
        self._inner = httpx.HTTPTransport()
        self.drop_after = drop_after or set()
        self.fail_before = fail_before or set()
        self.throttle = throttle or set()
        self.batch_saves = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.url.path.endswith("DynamicFormService.BatchSave.common.kdsvc")
            and b"GL_VOUCHER" in request.content
        ):
            with self._lock:
                self.batch_saves += 1
                number = self.batch_saves
            if number in self.fail_before:
                return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>", request=request)
            if number in self.throttle:
                return httpx.Response(200, text=THROTTLED, request=request)
            response = self._inner.handle_request(request)
            response.read()
            if number in self.drop_after:
                raise httpx.ReadTimeout("answer lost after commit", request=request)
            return response
        return self._inner.handle_request(request)


@dataclass
class Systems:
    dataset: Dataset
    connector: PmSandboxConnector
    credentials: dict[str, Any]

    def client(self, transport: httpx.BaseTransport | None = None) -> KingdeeClient:
        return KingdeeClient(
            str(self.credentials["server_url"]),
            identity_of(self.credentials),
            transport=transport,
            connection="kd",
        )


@pytest.fixture
def systems(tmp_path: Path) -> Iterator[Systems]:
    pm_server, dataset = start_pm(projects=4, months=1, seed=11)
    kd_server, credentials = start_kingdee(tmp_path / "kingdee")
    try:
        yield Systems(dataset, PmSandboxConnector(pm_server.base_url, DEFAULT_TOKEN), credentials)
    finally:
        kd_server.stop()
        pm_server.stop()


def sync(
    store: Store,
    systems: Systems,
    client: KingdeeClient,
    rules: RuleSet | None = None,
    mapping: MappingTable | None = None,
    batch_size: int = 10,
):
    return run_cost_sync(
        store,
        systems.connector,
        client,
        rules=rules or default_rule_set(),
        mapping=mapping or default_mapping(),
        source_connection="pm",
        kingdee_connection="kd",
        batch_size=batch_size,
        backoff=0.01,
    )


def expected_groups(dataset: Dataset) -> int:
    return len({(r.project_code, r.category.value, r.business_date) for r in dataset.all_cost_records})


def test_costs_reach_kingdee_once_and_balance(store: Store, systems: Systems) -> None:
    source_total = money_sum(r.amount for r in systems.dataset.all_cost_records)
    with systems.client() as client:
        report = sync(store, systems, client)
        assert report.check.clean, report.check
        assert report.check.vouchers == report.send.posted == expected_groups(systems.dataset)
        assert report.check.debit_total == report.check.credit_total == source_total
        assert report.plan.unmapped == []
        assert report.projects.created == len(systems.dataset.projects)

        again = sync(store, systems, client)
        assert (again.plan.planned, again.send.sent, again.send.posted) == (0, 0, 0)
        assert again.check.vouchers == report.check.vouchers
        assert again.check.debit_total == source_total
        assert again.projects.created == 0

    with store.transaction() as session:
        postings = session.scalars(select(Posting)).all()
        assert {p.state for p in postings} == {"posted"}
        assert all(p.kingdee_id and p.kingdee_number for p in postings)
        # every source amount is on exactly one voucher line
        assert sum(len(p.lines) for p in postings) == len(systems.dataset.all_cost_records)
        assert money_sum(line.amount for p in postings for line in p.lines) == source_total


def test_lost_answers_after_commit_are_found_not_resent(store: Store, systems: Systems) -> None:
    transport = FaultyTransport(drop_after={1, 3})
    with systems.client(transport) as client:
        report = sync(store, systems, client)
    assert report.check.clean, report.check
    assert report.send.found_after_unknown == 20  # two batches of 10 landed though their answers were lost
    assert report.send.reset_after_unknown == 0
    assert report.check.vouchers == expected_groups(systems.dataset)
    assert report.check.debit_total == money_sum(r.amount for r in systems.dataset.all_cost_records)


def test_error_pages_before_commit_are_looked_up_then_sent_again(store: Store, systems: Systems) -> None:
    transport = FaultyTransport(fail_before={1, 2})
    with systems.client(transport) as client:
        report = sync(store, systems, client)
    assert report.check.clean, report.check
    assert report.send.reset_after_unknown == 20  # looked up, provably absent, sent again
    assert report.send.found_after_unknown == 0
    assert report.check.vouchers == expected_groups(systems.dataset)


def test_a_crash_mid_send_resumes_without_duplicates(store: Store, systems: Systems) -> None:
    """Postings left 'sending' by a killed worker are looked up before anything is resent."""
    transport = FaultyTransport(drop_after={2})
    with systems.client(transport) as client:
        sync(store, systems, client)
    with store.transaction() as session:  # pretend a worker died right after its BatchSave
        for posting in session.scalars(select(Posting).limit(15)):
            posting.state = "sent"
    with systems.client() as client:
        report = sync(store, systems, client)
    assert report.send.found_after_unknown == 15
    assert report.send.sent == 0
    assert report.check.clean


def test_unmapped_and_missing_projects_are_held_before_posting(store: Store, systems: Systems) -> None:
    codes = sorted({p.project_code for p in systems.dataset.projects})
    mapping = MappingTable(projects={codes[0]: codes[0]}, project_default="none")
    rules = default_rule_set().model_copy(update={"create_missing_projects": False})
    with systems.client() as client:
        report = sync(store, systems, client, rules=rules, mapping=mapping)
    held = {
        u.value for u in report.plan.unmapped if u.kind == "project"
    }  # suppliers: the bare table lacks them too
    costed = {r.project_code for r in systems.dataset.all_cost_records}
    assert held == costed - {codes[0]}
    assert report.projects.missing == [codes[0]] or codes[0] not in costed
    # the one mapped project does not exist in Kingdee and may not be created: held too, not refused
    assert report.check.vouchers == 0


def test_kingdee_refusal_fails_the_posting_with_the_reason(store: Store, systems: Systems) -> None:
    rules = default_rule_set()
    bad = dict(rules.categories)
    bad[next(iter(bad))] = CategoryRule(debit="5401", credit="2202.02")  # 5401 is not a leaf account
    with systems.client() as client:
        report = sync(store, systems, client, rules=rules.model_copy(update={"categories": bad}))
    assert report.send.failed > 0
    with store.transaction() as session:
        failed = session.scalars(select(Posting).where(Posting.state == "failed")).all()
    assert failed
    assert all(p.error_fault == "configuration" and "明细科目" in (p.error_message or "") for p in failed)
    assert report.check.clean  # what was posted is consistent; nothing half-written


def test_throttling_backs_off_without_charging_attempts(store: Store, systems: Systems) -> None:
    transport = FaultyTransport(throttle={1, 2, 3})
    with systems.client(transport) as client:
        report = sync(store, systems, client)
    assert report.check.clean
    assert report.send.retried == 30
    assert report.send.failed == 0
    with store.transaction() as session:
        assert {p.attempts for p in session.scalars(select(Posting))} == {1}


def test_endless_throttling_ends_the_run_and_keeps_postings_planned(store: Store, systems: Systems) -> None:
    transport = FaultyTransport(throttle=set(range(1, 100)))
    with systems.client(transport) as client, pytest.raises(KingdeeError) as caught:
        sync(store, systems, client)
    assert caught.value.msg_code == 14
    with store.transaction() as session:
        postings = session.scalars(select(Posting)).all()
    assert {(p.state, p.attempts) for p in postings} == {("planned", 0)}
    # four at once (the senders), then one at a time with backoff until the seventh refusal
    assert transport.batch_saves == 7


@pytest.mark.parametrize("key_field", ["bill_no", "summary"])
def test_a_nightly_run_checks_what_it_touched_by_key(store: Store, systems: Systems, key_field: str) -> None:
    """The scoped read-back finds every touched posting by its key, and sees what went wrong."""
    rules = default_rule_set()
    rules = rules.model_copy(update={"kingdee": rules.kingdee.model_copy(update={"key_field": key_field})})
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with systems.client() as client:
        report = sync(store, systems, client, rules=rules)
        assert report.check.clean, report.check
        scoped = check_postings(store, client, kingdee_connection="kd", since=before)
        assert scoped.clean, scoped
        assert scoped.vouchers == report.send.posted > 0
        source_total = money_sum(r.amount for r in systems.dataset.all_cost_records)
        assert scoped.debit_total == scoped.credit_total == source_total
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        assert check_postings(store, client, kingdee_connection="kd", since=later).vouchers == 0

        # In Kingdee, someone deletes one yecai voucher and copies another by hand (its 摘要 too).
        with store.transaction() as session:
            first, second = session.scalars(select(Posting).order_by(Posting.id).limit(2)).all()
            first_key, second_key, second_id = first.posting_key, second.posting_key, second.kingdee_id
            copy = jsonutil.loads(first.payload)
        client.delete("GL_VOUCHER", ids=[str(second_id)])
        copy.pop("FVOUCHERID", None)
        copy.pop("FBillNo", None)  # Kingdee would refuse a second FBillNo; the 摘要 token stays
        client.save("GL_VOUCHER", copy)
        touched = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        with store.transaction() as session:
            for posting in session.scalars(
                select(Posting).where(Posting.posting_key.in_([first_key, second_key]))
            ):
                posting.note = "checked again tonight"  # bumps updated_at: this night's work
        recheck = check_postings(store, client, kingdee_connection="kd", since=touched)
        assert recheck.missing == [second_key]
        full = check_postings(store, client, kingdee_connection="kd")
        # the full read finds every voucher by where its key lives (token or FBillNo)
        assert (full.missing, full.unknown, full.amount_mismatch) == ([second_key], [], [])
        if key_field == "summary":
            assert any(first_key in d for d in full.duplicated), full
            assert any(first_key in d for d in recheck.duplicated), recheck
        else:
            # Keyed by FBillNo, the 摘要 carries no token: the copy (without the key number) is a
            # manual voucher to the read-back, left to the reconciliation (it reads every voucher).
            assert (full.duplicated, recheck.duplicated) == ([], [])
            assert all("#YC:" not in line["FEXPLANATION"] for line in copy["FEntity"])

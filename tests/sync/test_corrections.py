"""Corrections after posting, end to end on SQLite and PostgreSQL: the source's clock moves on,
costs are corrected and deleted, and Kingdee follows by policy — rewritten while unaudited,
reversed (红字冲销) once audited — so that its totals equal the source's final totals, with every
original, correction and reversal linked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.timeline import busiest_moment
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.domain.money import money_sum
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync.pipeline import SyncReport, run_sync_job

pytestmark = pytest.mark.slow


class Site:
    def __init__(self, tmp_path: Path) -> None:
        probe, dataset = start_pm(projects=2, months=1, seed=12)
        probe.stop()
        self.dataset = dataset
        self.pm, _ = start_pm(projects=2, months=1, seed=12, now=busiest_moment(dataset))
        self.kd, self.credentials = start_kingdee(tmp_path / "kd")
        self.connector = PmSandboxConnector(self.pm.base_url, DEFAULT_TOKEN)

    def sync(self, store: Store, rules: RuleSet) -> SyncReport:
        with KingdeeClient(
            str(self.credentials["server_url"]), identity_of(self.credentials), connection="kd"
        ) as client:
            return run_sync_job(
                store,
                self.connector,
                client,
                rule_sets=[rules],
                mapping=default_mapping(),
                source_connection="pm",
                kingdee_connection="kd",
                backoff=0.01,
            )

    def kingdee_total(self) -> Any:
        with KingdeeClient(str(self.credentials["server_url"]), identity_of(self.credentials)) as client:
            rows = client.query_all("GL_VOUCHER", ["FVOUCHERID", "FDEBITTOTAL"], "FEXPLANATION like '%#YC:%'")
            return money_sum({row[0]: row[1] for row in rows}.values())

    def stop(self) -> None:
        self.kd.stop()
        self.pm.stop()


@pytest.fixture
def correction_site(tmp_path: Path) -> Iterator[Site]:
    running = Site(tmp_path)
    yield running
    running.stop()


def final_total(correction_site: Site) -> Any:
    return money_sum(r.amount for r in correction_site.dataset.all_cost_records)


@pytest.mark.parametrize(("audited", "expected_kinds"), [(False, {"update", "delete"}), (True, {"reversal"})])
def test_kingdee_follows_the_source_by_policy(
    store: Store, correction_site: Site, audited: bool, expected_kinds: set[str]
) -> None:
    rules = default_rule_set().model_copy(update={"submit": audited, "audit": audited})
    first = correction_site.sync(store, rules)
    assert first.check.clean
    correction_site.pm.runtime.clock.set(
        correction_site.dataset.timeline_end
    )  # corrections and deletions happen
    second = correction_site.sync(store, rules)
    assert second.check.clean, second.check
    corrections = second.corrections[rules.name]
    assert corrections.examined > 0
    with store.transaction() as session:
        postings = session.scalars(select(Posting)).all()
    kinds = {p.kind for p in postings} - {"posting"}
    assert kinds & expected_kinds
    assert not kinds - expected_kinds - {"update", "delete", "reversal"}
    for correction in (p for p in postings if p.kind != "posting"):
        original = next(p for p in postings if p.id == correction.reverses_id)
        assert correction.state == "posted"
        assert (
            original.state
            == {"update": "superseded", "delete": "deleted", "reversal": "reversed"}[correction.kind]
        )
        if correction.kind == "reversal":
            assert correction.debit_total == -original.debit_total
    # Kingdee's net total equals the source's final total, to the cent
    assert correction_site.kingdee_total() == final_total(correction_site)
    third = correction_site.sync(store, rules)
    assert third.send.sent == 0  # nothing left to correct
    assert correction_site.kingdee_total() == final_total(correction_site)


def test_hold_policy_reports_and_touches_nothing(store: Store, correction_site: Site) -> None:
    rules = default_rule_set().model_copy(update={"options": {"corrections": "hold"}})
    correction_site.sync(store, rules)
    before = correction_site.kingdee_total()
    correction_site.pm.runtime.clock.set(correction_site.dataset.timeline_end)
    report = correction_site.sync(store, rules)
    assert report.corrections[rules.name].held
    with store.transaction() as session:
        assert {p.kind for p in session.scalars(select(Posting))} == {"posting"}
    assert correction_site.kingdee_total() != final_total(correction_site) or before == final_total(
        correction_site
    )

"""Corrections after posting, end to end on SQLite and PostgreSQL: the source's clock moves on,
costs are corrected and deleted, and Kingdee follows by policy — rewritten while unaudited,
reversed (红字冲销) once audited — so that its totals equal the source's final totals, with every
original, correction and reversal linked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.support.posting_world import Site
from yecai.domain.money import money_sum
from yecai.mapping.rules import default_rule_set
from yecai.store.db import Store
from yecai.store.tables import Posting

pytestmark = pytest.mark.slow


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

"""One plan binds the parties it references (issue 15): no dry plan run only to learn them.

The planner asks for suppliers yecai may create by their would-be numbers, they are found or
created in Kingdee while the payloads are built, and the plan is stored as made — unless Kingdee
knew a party under another number, in which case the plan is made again with that number before
anything is stored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.posting_world import Systems
from yecai.mapping import registry
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.store.tables import Binding, Posting
from yecai.sync.binder import _even_chunks, party_number
from yecai.sync.pipeline import run_sync_job


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many documents each call of the planner was given (dry plans included)."""
    calls: list[int] = []
    real = registry.plan

    def counted(documents: Any, *args: Any) -> Any:
        calls.append(len(documents))
        return real(documents, *args)

    monkeypatch.setattr(registry, "plan", counted)
    return calls


def _suppliers(systems: Systems) -> set[str]:
    return {r.supplier_name for r in systems.dataset.all_cost_records if r.supplier_name}


def _kingdee_suppliers(systems: Systems) -> Counter[str]:
    with systems.client() as client:
        return Counter(str(name) for (name,) in client.query_all("BD_Supplier", ["FName"]))


def _bound_once(store: Store, systems: Systems) -> tuple[set[str], Counter[str]]:
    """Every supplier of the source bound under its would-be number and in Kingdee exactly once;
    the names and Kingdee's count of each."""
    names = _suppliers(systems)
    with store.transaction() as session:
        bound = {
            b.source_key: b.kingdee_number
            for b in session.scalars(select(Binding).where(Binding.kind == "supplier"))
        }
    assert bound == {name: party_number(name) for name in names}
    counts = _kingdee_suppliers(systems)
    assert all(counts[name] == 1 for name in names)
    return names, counts


def _payloads(store: Store) -> list[str]:
    with store.transaction() as session:
        return list(session.scalars(select(Posting.payload)))


def test_new_suppliers_are_bound_by_the_one_plan(
    store: Store, posting_systems: Systems, plans: list[int]
) -> None:
    report = posting_systems.sync(store, default_rule_set())
    assert report.check.clean
    assert report.send.posted == report.check.vouchers > 0
    documents = len(posting_systems.dataset.all_cost_records)
    assert plans == [documents]  # planned once: no dry plan before it, no second plan after
    names, counts = _bound_once(store, posting_systems)
    payloads = "\n".join(_payloads(store))
    assert all(party_number(name) in payloads for name in names)

    again = posting_systems.sync(store, default_rule_set())  # nothing new: nothing asked, nothing created
    assert again.plan.planned == 0
    assert _kingdee_suppliers(posting_systems) == counts


def test_a_supplier_kingdee_knows_under_another_number_is_planned_with_it(
    store: Store, posting_systems: Systems, plans: list[int]
) -> None:
    name = sorted(_suppliers(posting_systems))[0]
    with posting_systems.client() as client:
        client.save(
            "BD_Supplier",
            {
                "FNumber": "GYS9001",
                "FName": name,
                "FCreateOrgId": {"FNumber": "100"},
                "FUseOrgId": {"FNumber": "100"},
            },
        )
    report = posting_systems.sync(store, default_rule_set())
    assert report.check.clean
    documents = len(posting_systems.dataset.all_cost_records)
    assert plans == [documents, documents]  # the plan as made named a number Kingdee lacks: made again
    with store.transaction() as session:
        number = session.scalar(
            select(Binding.kingdee_number).where(Binding.kind == "supplier", Binding.source_key == name)
        )
    assert number == "GYS9001"
    payloads = "\n".join(_payloads(store))
    assert "GYS9001" in payloads
    assert party_number(name) not in payloads  # never the would-be number of a party found by name
    assert _kingdee_suppliers(posting_systems)[name] == 1


@pytest.mark.parametrize(
    ("names", "senders", "sizes"),
    [
        (566, 4, [142, 142, 142, 140]),  # one round of 4 calls, not 4 + 2 of 100
        (10, 4, [10]),  # a handful is one call
        (120, 4, [50, 50, 20]),  # never below 50 a call
        (1000, 4, [125] * 8),  # two whole rounds under the 200 cap
        (0, 4, []),
    ],
)
def test_party_chunks_fill_whole_rounds(names: int, senders: int, sizes: list[int]) -> None:
    chunks = _even_chunks([f"n{i}" for i in range(names)], senders, 200)
    assert [len(c) for c in chunks] == sizes
    assert [n for c in chunks for n in c] == [f"n{i}" for i in range(names)]


def _sync_in_parts(store: Store, systems: Systems, size: int) -> tuple[Any, list[bool]]:
    """The nightly sync with its first plan made in parts of about `size` documents (as a
    fanned-out job plans); the `done` flag of every call of the hook."""
    calls: list[bool] = []

    def planned(_store: Store, _client: Any, *, done: bool, **_send: Any) -> None:
        calls.append(done)

    with systems.client() as client:
        report = run_sync_job(
            store,
            systems.connector,
            client,
            rule_sets=[default_rule_set()],
            mapping=default_mapping(),
            source_connection="pm",
            kingdee_connection="kd",
            backoff=0.01,
            planned=planned,
            plan_part_documents=size,
        )
    return report, calls


def test_a_plan_in_parts_binds_each_party_once(
    store: Store, posting_systems: Systems, plans: list[int]
) -> None:
    documents = len(posting_systems.dataset.all_cost_records)
    report, calls = _sync_in_parts(store, posting_systems, documents // 3)
    assert report.check.clean
    assert report.send.posted == report.check.vouchers > 0
    # every document planned once, in parts; the hook told of each part, then of the end
    assert len(plans) >= 2
    assert sum(plans) == documents
    assert calls == [False] * len(plans) + [True]
    _bound_once(store, posting_systems)  # a supplier of several parts created once too


def test_a_part_naming_a_supplier_kingdee_knows_otherwise_is_planned_again_alone(
    store: Store, posting_systems: Systems, plans: list[int]
) -> None:
    name = sorted(_suppliers(posting_systems))[-1]
    with posting_systems.client() as client:
        client.save(
            "BD_Supplier",
            {
                "FNumber": "GYS9002",
                "FName": name,
                "FCreateOrgId": {"FNumber": "100"},
                "FUseOrgId": {"FNumber": "100"},
            },
        )
    documents = len(posting_systems.dataset.all_cost_records)
    report, calls = _sync_in_parts(store, posting_systems, documents // 3)
    assert report.check.clean
    parts = len(calls) - 1
    assert parts >= 2
    # the parts naming the supplier were planned twice, the others once
    assert documents < sum(plans) < 2 * documents
    assert len(plans) > parts
    payloads = "\n".join(_payloads(store))
    assert "GYS9002" in payloads
    assert party_number(name) not in payloads
    assert _kingdee_suppliers(posting_systems)[name] == 1

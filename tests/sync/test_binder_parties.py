"""Suppliers and customers under policy `create`: found by name, else created once, then remembered —
and only those a voucher or bill of the job's rule sets will reference.

The source names parties by name only (宏达劳务, 马钢 …). yecai looks each up in Kingdee by name,
creates the ones Kingdee lacks under a stable number, and stores the binding. A run that dies
after the create but before the binding finds the party by name next time: never two suppliers
for one name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from tests.support.posting_world import Systems
from tests.support.spreadsheets import GOOD, write_csv
from yecai.demo import identity_of
from yecai.errors import Action, YecaiError
from yecai.files import import_file
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set
from yecai.mapping.tables import MappingTable, UnmappedPolicy
from yecai.store.db import Store
from yecai.store.tables import Binding, Posting
from yecai.sync.binder import bind_parties, party_number, with_parties
from yecai.sync.pipeline import run_sync_job

# The cost rule set puts the 供应商 on every payable line: each cost record's supplier is referenced.
COSTS = [default_rule_set()]


def suppliers_by_name(client: KingdeeClient) -> Counter[str]:
    return Counter(str(name) for (name,) in client.query_all("BD_Supplier", ["FName"]))


def test_found_by_name_created_once_and_remembered(
    store: Store, kingdee: dict[str, Any], tmp_path: Path
) -> None:
    header, rows, _ = GOOD["cost"]
    names = {row[header.index("供应商")] for row in rows if row[header.index("供应商")]}
    assert {"宏达劳务", "马钢"} <= names
    import_file(store, write_csv(tmp_path / "cost.csv", [header, *rows]), kind="cost", connection="pm")
    mapping = default_mapping()
    assert mapping.supplier_default is UnmappedPolicy.CREATE
    with KingdeeClient(str(kingdee["server_url"]), identity_of(kingdee), connection="kd") as client:
        client.save(
            "BD_Supplier",
            {
                "FNumber": "GYS9001",
                "FName": "马钢",
                "FCreateOrgId": {"FNumber": "100"},
                "FUseOrgId": {"FNumber": "100"},
            },
        )
        first = bind_parties(
            store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd", rule_sets=COSTS
        )
        assert first.failed == []
        assert first.found == 1  # 马钢, under the number a person gave it
        assert first.created == len(names) - 1
        assert first.numbers["supplier"]["马钢"] == "GYS9001"
        assert first.numbers["supplier"]["宏达劳务"] == party_number("宏达劳务")
        counts = suppliers_by_name(client)
        assert all(counts[name] == 1 for name in names)

        again = bind_parties(
            store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd", rule_sets=COSTS
        )
        assert (again.found, again.created) == (0, 0)
        assert again.numbers == first.numbers

        # A run that died after creating but before storing the bindings.
        with store.transaction() as session:
            session.execute(delete(Binding).where(Binding.kind == "supplier"))
        recovered = bind_parties(
            store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd", rule_sets=COSTS
        )
        assert (recovered.found, recovered.created) == (len(names), 0)
        assert recovered.numbers == first.numbers
        assert suppliers_by_name(client) == counts

    bound = with_parties(mapping.model_copy(update={"suppliers": {"马钢": "GYS0001"}}), recovered)
    assert bound.suppliers["马钢"] == "GYS0001"  # an explicit row in the table wins
    assert bound.suppliers["宏达劳务"] == party_number("宏达劳务")


def test_report_policy_creates_nothing(store: Store, kingdee: dict[str, Any], tmp_path: Path) -> None:
    header, rows, _ = GOOD["cost"]
    import_file(store, write_csv(tmp_path / "cost.csv", [header, *rows]), kind="cost", connection="pm")
    mapping = default_mapping().model_copy(update={"supplier_default": UnmappedPolicy.REPORT})
    with KingdeeClient(str(kingdee["server_url"]), identity_of(kingdee), connection="kd") as client:
        before = suppliers_by_name(client)
        result = bind_parties(
            store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd", rule_sets=COSTS
        )
        assert (result.found, result.created) == (0, 0)
        assert suppliers_by_name(client) == before


def _without_supplier_dimension() -> RuleSet:
    """The cost rule set with payables by project only (see `_mapping_without_suppliers`)."""
    rules = default_rule_set()
    categories = {
        category: rule.model_copy(update={"credit_dimensions": ("project",)})
        for category, rule in rules.categories.items()
    }
    return rules.model_copy(update={"categories": categories})


def _mapping_without_suppliers() -> MappingTable:
    """The default mapping whose 费用明细 (utilities, insurance …) are owed by project only."""
    mapping = default_mapping()
    items = {
        name: item.model_copy(
            update={"credit_dimensions": tuple(d for d in item.credit_dimensions if d != "supplier")}
        )
        for name, item in mapping.cost_items.items()
    }
    return mapping.model_copy(update={"cost_items": items})


def test_only_parties_a_voucher_references_are_created(store: Store, posting_systems: Systems) -> None:
    """Projects name their customers and cost records their suppliers; cost vouchers reference
    suppliers on payable lines only: the customers are never created, nor suppliers when neither
    the rule set's nor the 费用明细's dimensions ask for them."""
    dataset = posting_systems.dataset
    suppliers = {r.supplier_name for r in dataset.all_cost_records if r.supplier_name}
    customers = {p.customer_name for p in dataset.projects if p.customer_name}
    assert suppliers
    assert customers  # mentioned by the source, never on a cost voucher
    with posting_systems.client() as client:
        before = {form: _names(client, form) for form in ("BD_Supplier", "BD_Customer")}

    with posting_systems.client() as client:
        report = run_sync_job(
            store,
            posting_systems.connector,
            client,
            rule_sets=[_without_supplier_dimension()],
            mapping=_mapping_without_suppliers(),
            source_connection="pm",
            kingdee_connection="kd",
        )
    assert report.check.clean
    assert report.send.posted > 0
    with posting_systems.client() as client:
        assert {form: _names(client, form) for form in before} == before

    # A second rule set that does put the 供应商 on payables: exactly the cost records' suppliers.
    with posting_systems.client() as client:
        parties = bind_parties(
            store,
            client,
            mapping=default_mapping(),
            source_connection="pm",
            kingdee_connection="kd",
            rule_sets=[default_rule_set().model_copy(update={"name": "costs_by_supplier"})],
        )
        assert parties.failed == []
        assert set(parties.numbers["supplier"]) == suppliers
        assert parties.numbers["customer"] == {}
        assert _names(client, "BD_Supplier") - before["BD_Supplier"] == suppliers - before["BD_Supplier"]
        assert _names(client, "BD_Customer") == before["BD_Customer"]


def test_parties_of_documents_already_posted_are_not_asked_for(
    store: Store, posting_systems: Systems
) -> None:
    """Once a rule set has posted a document, its parties are no longer a reason to create."""
    rules = _without_supplier_dimension()
    with posting_systems.client() as client:
        run_sync_job(
            store,
            posting_systems.connector,
            client,
            rule_sets=[rules],
            mapping=_mapping_without_suppliers(),
            source_connection="pm",
            kingdee_connection="kd",
        )
        parties = bind_parties(
            store,
            client,
            mapping=default_mapping(),
            source_connection="pm",
            kingdee_connection="kd",
            # the same rule set, now asking for suppliers: but every cost record is posted by it
            rule_sets=[default_rule_set().model_copy(update={"name": rules.name})],
        )
    assert (parties.created, parties.found) == (0, 0)


def _names(client: KingdeeClient, form_id: str) -> set[str]:
    return {str(name) for (name,) in client.query_all(form_id, ["FName"])}


class _FirstSupplierSaveFails(httpx.BaseTransport):
    """An error page instead of the first BatchSave of suppliers (nothing reached Kingdee)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.failed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            not self.failed
            and request.url.path.endswith("BatchSave.common.kdsvc")
            and b"BD_Supplier" in request.content
        ):
            self.failed += 1
            return httpx.Response(500, text="<html><body>500</body></html>", request=request)
        return self._inner.handle_request(request)


def test_a_party_left_unconfirmed_stops_the_run_before_planning(
    store: Store, posting_systems: Systems
) -> None:
    """Planning with part of the suppliers bound would hold the others' documents back, and they
    would post later in a second voucher of their group: the run stops and is retried instead."""
    transport = _FirstSupplierSaveFails()
    with posting_systems.client(transport=transport) as client, pytest.raises(YecaiError) as stopped:
        run_sync_job(
            store,
            posting_systems.connector,
            client,
            rule_sets=[default_rule_set()],
            mapping=default_mapping(),
            source_connection="pm",
            kingdee_connection="kd",
        )
    assert transport.failed == 1
    assert stopped.value.action is Action.RETRY
    with store.transaction() as session:
        assert session.scalars(select(Posting.id)).first() is None  # nothing planned
    report = posting_systems.sync(store, default_rule_set())  # the retry
    assert report.check.clean
    groups = {
        (r.project_code, r.category.value, r.business_date) for r in posting_systems.dataset.all_cost_records
    }
    assert report.check.vouchers == len(groups)

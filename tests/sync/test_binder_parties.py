"""Suppliers and customers under policy `create`: found by name, else created once, then remembered.

The source names parties by name only (宏达劳务, 马钢 …). yecai looks each up in Kingdee by name,
creates the ones Kingdee lacks under a stable number, and stores the binding. A run that dies
after the create but before the binding finds the party by name next time: never two suppliers
for one name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from tests.support.spreadsheets import GOOD, write_csv
from yecai.demo import identity_of
from yecai.files import import_file
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import default_mapping
from yecai.mapping.tables import UnmappedPolicy
from yecai.store.db import Store
from yecai.store.tables import Binding
from yecai.sync.binder import bind_parties, party_number, with_parties


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
        first = bind_parties(store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd")
        assert first.failed == []
        assert first.found == 1  # 马钢, under the number a person gave it
        assert first.created == len(names) - 1
        assert first.numbers["supplier"]["马钢"] == "GYS9001"
        assert first.numbers["supplier"]["宏达劳务"] == party_number("宏达劳务")
        counts = suppliers_by_name(client)
        assert all(counts[name] == 1 for name in names)

        again = bind_parties(store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd")
        assert (again.found, again.created) == (0, 0)
        assert again.numbers == first.numbers

        # A run that died after creating but before storing the bindings.
        with store.transaction() as session:
            session.execute(delete(Binding).where(Binding.kind == "supplier"))
        recovered = bind_parties(
            store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd"
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
        result = bind_parties(store, client, mapping=mapping, source_connection="pm", kingdee_connection="kd")
        assert (result.found, result.created) == (0, 0)
        assert suppliers_by_name(client) == before

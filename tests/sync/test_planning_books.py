"""Planning routes each voucher to the 账簿 of its projects' organisation (mapping `account_books`),
and refuses — holds, never posts half — a voucher whose lines fall in two books."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.support.spreadsheets import GOOD, write_csv
from yecai import jsonutil
from yecai.files import import_file
from yecai.mapping.rules import Aggregation, MappingTable, ProjectMapping, default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync import planning

ROWS = [
    [
        1,
        "B-1",
        "XM-HQ",
        "材料费",
        "2026-10-12",
        "钢筋",
        None,
        None,
        None,
        100000,
        "13%",
        "江苏恒固建材有限公司",
    ],
    [
        2,
        "B-2",
        "XM-FGS",
        "材料费",
        "2026-10-14",
        "水泥",
        None,
        None,
        None,
        50000,
        "13%",
        "江苏恒固建材有限公司",
    ],
]


def import_costs(store: Store, path: Path) -> None:
    result = import_file(store, write_csv(path, [GOOD["cost"][0], *ROWS]), kind="cost", connection="pm")
    assert result.counts.imported == len(ROWS), result.issues


def branch_mapping() -> MappingTable:
    """XM-FGS belongs to the 分公司 (org 200), whose vouchers go to book 002."""
    mapping = default_mapping()
    return mapping.model_copy(update={"projects": {"XM-FGS": ProjectMapping(org="200")}})


def books_of(store: Store) -> dict[str, str]:
    with store.transaction() as session:
        return {
            p.group_key: jsonutil.loads(p.payload)["FAccountBookID"]["FNumber"]
            for p in session.scalars(select(Posting))
        }


def test_each_voucher_goes_to_its_projects_book(store: Store, tmp_path: Path) -> None:
    import_costs(store, tmp_path / "costs.csv")
    rules = default_rule_set("cost_actuals")
    result = planning.plan_postings(
        store, rules=rules, mapping=branch_mapping(), source_connection="pm", kingdee_connection="kd"
    )
    assert result.planned == 2, result
    books = books_of(store)
    assert {key.split("|")[0]: book for key, book in books.items()} == {"XM-HQ": "001", "XM-FGS": "002"}


def test_a_voucher_spanning_two_books_is_held_not_posted(store: Store, tmp_path: Path) -> None:
    import_costs(store, tmp_path / "costs.csv")
    rules = default_rule_set("cost_actuals").model_copy(update={"aggregation": Aggregation.PERIOD})
    result = planning.plan_postings(
        store, rules=rules, mapping=branch_mapping(), source_connection="pm", kingdee_connection="kd"
    )
    assert result.planned == 0
    assert books_of(store) == {}
    (held,) = result.held
    assert "不同账簿（001、002）" in held.zh
    assert "different account books (001, 002)" in held.en
    assert len(held.document_ids) == 2
    # once both projects keep the same book, the period voucher is planned
    same = planning.plan_postings(
        store, rules=rules, mapping=default_mapping(), source_connection="pm", kingdee_connection="kd"
    )
    assert same.planned == 1
    assert set(books_of(store).values()) == {"001"}

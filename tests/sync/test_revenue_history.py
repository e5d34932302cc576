"""Revenue by the input method across runs: each month builds on what earlier postings recognised.

October: cost 100,000 of an estimated 1,000,000, price 1,200,000 → revenue 120,000.
November: another 100,000, and the estimate is revised down to 800,000 → cumulative progress
200,000 / 800,000 = 25 %, cumulative revenue 300,000, so November recognises 300,000 − 120,000 =
180,000 (CAS 14 catch-up). Without the history from October's posting it would be 150,000.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tests.support.spreadsheets import GOOD, write_csv
from yecai import jsonutil
from yecai.files import import_file
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync import planning


def import_costs(store: Store, path: Path, rows: list[list[object]]) -> None:
    header = GOOD["cost"][0]
    result = import_file(store, write_csv(path, [header, *rows]), kind="cost", connection="pm")
    assert result.counts.imported == len(rows), result.issues


def revenue_rules(estimate: str) -> RuleSet:
    rules = default_rule_set("revenue")
    options = {
        **rules.options,
        "estimate": "option",
        "estimated_total_cost": {"XM9": estimate},
        "contract_price": {"XM9": "1200000.00"},
    }
    return rules.model_copy(update={"options": options})


def revenue_of(store: Store, period: str) -> Decimal:
    with store.transaction() as session:
        posting = session.scalars(
            select(Posting).where(Posting.rule_set == "revenue", Posting.group_key == f"XM9|{period}")
        ).one()
        lines = jsonutil.loads(posting.payload)["FEntity"]
    return sum(
        (Decimal(str(line["FCREDIT"])) for line in lines if line["FACCOUNTID"]["FNumber"] == "6001"),
        Decimal(0),
    )


def plan(store: Store, rules: RuleSet) -> planning.PlanResult:
    return planning.plan_postings(
        store, rules=rules, mapping=default_mapping(), source_connection="pm", kingdee_connection="kd"
    )


def test_a_revised_estimate_catches_up_on_what_was_recognised(store: Store, tmp_path: Path) -> None:
    october = [
        [1, "R-1", "XM9", "人工费", "2026-10-12", "钢筋班组", None, None, None, 100000, "3%", "宏达劳务"]
    ]
    import_costs(store, tmp_path / "oct.csv", october)
    first = plan(store, revenue_rules("1000000.00"))
    assert first.planned == 1, first
    assert revenue_of(store, "2026-10") == Decimal("120000.00")

    november = [
        [1, "R-2", "XM9", "材料费", "2026-11-03", "商品混凝土", None, None, None, 100000, "13%", "马钢"]
    ]
    import_costs(store, tmp_path / "nov.csv", november)
    second = plan(store, revenue_rules("800000.00"))
    assert second.planned == 1, second
    assert revenue_of(store, "2026-11") == Decimal("180000.00")


def test_reversed_postings_are_not_history(store: Store, tmp_path: Path) -> None:
    october = [
        [1, "R-1", "XM9", "人工费", "2026-10-12", "钢筋班组", None, None, None, 100000, "3%", "宏达劳务"]
    ]
    import_costs(store, tmp_path / "oct.csv", october)
    plan(store, revenue_rules("1000000.00"))
    with store.transaction() as session:
        posting = session.scalars(select(Posting).where(Posting.rule_set == "revenue")).one()
        history = planning._history(session, revenue_rules("1000000.00"), "kd")
        assert history["revenue_to_date"]["XM9"] == {
            "cost": Decimal("100000.00"),
            "revenue": Decimal("120000.00"),
        }
        posting.state = "reversed"
    with store.transaction() as session:
        assert planning._history(session, revenue_rules("1000000.00"), "kd")["revenue_to_date"] == {}

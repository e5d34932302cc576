"""Revenue by the input method across runs: each month builds on what earlier postings recognised.

October: cost 100,000 of an estimated 1,000,000, price 1,200,000 → revenue 120,000.
November: another 100,000, and the estimate is revised down to 800,000 → cumulative progress
200,000 / 800,000 = 25 %, cumulative revenue 300,000, so November recognises 300,000 − 120,000 =
180,000 (CAS 14 catch-up). Without the history from October's posting it would be 150,000.
"""

from __future__ import annotations

import datetime as dt
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
    # no income contract here, so no customer: 合同结算 is kept by 项目 alone
    dimensions = {**rules.dimensions, "settlement_revenue": ("project",)}
    return rules.model_copy(update={"options": options, "dimensions": dimensions})


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


# -- issue 13, defect 8: cost other rule sets put into 合同履约成本 is carried, once ------------------


def store_voucher(
    store: Store, rule_set: str, day: dt.date, lines: list[tuple[str, str, str, str | None]], *, key: str
) -> None:
    """A posting of another rule set as planning stores it: (account, debit, credit, 项目 number)."""
    entries = []
    for account, debit, credit, project in lines:
        entry: dict[str, object] = {
            "FACCOUNTID": {"FNumber": account},
            "FDEBIT": Decimal(debit),
            "FCREDIT": Decimal(credit),
        }
        if project:
            entry["FDetailID"] = {"FDETAILID__FF100001": {"FNumber": project}}
        entries.append(entry)
    total = sum((Decimal(d) for _, d, _, _ in lines), Decimal(0))
    with store.transaction() as session:
        session.add(
            Posting(
                posting_key=key,
                connection="kd",
                rule_set=rule_set,
                form_id="GL_VOUCHER",
                group_key=f"{key}|{day:%Y-%m}",
                business_date=day,
                state="posted",
                debit_total=total,
                credit_total=total,
                payload=jsonutil.dumps({"FDate": day.isoformat(), "FEntity": entries}),
                attempts=1,
            )
        )


def carried(store: Store, period: str) -> dict[str, Decimal]:
    with store.transaction() as session:
        posting = session.scalars(
            select(Posting).where(Posting.rule_set == "revenue", Posting.group_key == f"XM9|{period}")
        ).one()
        lines = jsonutil.loads(posting.payload)["FEntity"]
    out: dict[str, Decimal] = {}
    for line in lines:
        account = line["FACCOUNTID"]["FNumber"]
        out[account] = (
            out.get(account, Decimal(0)) + Decimal(str(line["FCREDIT"])) - Decimal(str(line["FDEBIT"]))
        )
    return out


def test_allocated_and_invoice_cost_is_carried_once(store: Store, tmp_path: Path) -> None:
    # October: 5,000 of pool cost allocated onto XM9 (month-end) and the cost record of 100,000.
    store_voucher(
        store,
        "indirect_allocation",
        dt.date(2026, 10, 31),
        [("5401.06", "5000.00", "0", "XM9"), ("5401.06", "0", "5000.00", "JJFY")],
        key="alloc-10",
    )
    october = [
        [1, "R-1", "XM9", "人工费", "2026-10-12", "钢筋班组", None, None, None, 100000, "3%", "宏达劳务"]
    ]
    import_costs(store, tmp_path / "oct.csv", october)
    plan(store, revenue_rules("1000000.00"))
    first = carried(store, "2026-10")
    assert first["5401.06"] == Decimal("5000.00")
    assert first["6401"] == Decimal("-105000.00")  # Dr 主营业务成本 105,000
    assert revenue_of(store, "2026-10") == Decimal("126000.00")  # 105,000 / 1,000,000 × 1,200,000

    # A 普票 dated October arrives after October's revenue: its tax (300, into 5401.01) is carried in
    # November; the allocation is not carried a second time.
    store_voucher(
        store,
        "purchase_invoice",
        dt.date(2026, 10, 20),
        [("5401.01", "300.00", "0", "XM9"), ("2202.02", "0", "300.00", "XM9")],
        key="inv-10",
    )
    with store.transaction() as session:
        rows = planning._history(session, revenue_rules("1000000.00"), "kd")["fulfilment_cost"]["XM9"]
    # every 项目 line of those postings is reported; the planner keeps the 合同履约成本 accounts
    assert sorted((r["account"], r["amount"], r["carried"]) for r in rows) == [
        ("2202.02", Decimal("-300.00"), False),
        ("5401.01", Decimal("300.00"), False),
        ("5401.06", Decimal("5000.00"), True),
    ]
    november = [
        [1, "R-2", "XM9", "材料费", "2026-11-03", "商品混凝土", None, None, None, 100000, "13%", "马钢"]
    ]
    import_costs(store, tmp_path / "nov.csv", november)
    plan(store, revenue_rules("1000000.00"))
    second = carried(store, "2026-11")
    assert "5401.06" not in second
    assert second["5401.01"] == Decimal("300.00")
    assert second["6401"] == Decimal("-100300.00")
    # cumulative 205,300 / 1,000,000 × 1,200,000 = 246,360; less 126,000
    assert revenue_of(store, "2026-11") == Decimal("120360.00")


def test_prepaid_vat_history_names_the_projects_already_prepaid(store: Store) -> None:
    # A posted prepayment has used the go-live carry up; a reversed one has not.
    store_voucher(
        store,
        "prepaid_vat",
        dt.date(2026, 10, 31),
        [("2221.03", "10.00", "0", "XM9"), ("1002.01", "0", "10.00", None)],
        key="XM9",
    )
    store_voucher(
        store,
        "prepaid_vat",
        dt.date(2026, 10, 31),
        [("2221.03", "10.00", "0", "XM8"), ("1002.01", "0", "10.00", None)],
        key="XM8",
    )
    with store.transaction() as session:
        session.scalars(select(Posting).where(Posting.posting_key == "XM8")).one().state = "reversed"
    with store.transaction() as session:
        history = planning._history(session, default_rule_set("prepaid_vat"), "kd")
    assert history == {"prepaid_vat_posted": ["XM9"]}

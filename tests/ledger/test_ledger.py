"""The whole ledger: a month of PM documents through the real pipeline, read back as Kingdee's
trial balance (科目余额表), and checked the way an auditor would — from the documents alone.

The world (tests/support/ledger_world.py) is pulled as a REST source and posted by every default
rule set into a served sandbox.kingdee. Then, independently of the rules' code:
- the trial balance balances (opening, movement, closing);
- each supplier's payable per project = cost received + VAT invoiced − paid;
- each customer's receivable per project = issued invoices (价税合计) − receipts;
- 合同履约成本 is empty at period end (all cost carried to 主营业务成本);
- 进项税额 = deductible tax of general-method projects' special invoices; 销项税额 / 简易计税 =
  issued invoices' tax by the project's VAT method; 预交增值税 only on 跨县市 projects;
- revenue of the month = contract price × progress − revenue recognised before (opening balances
  included), and cost of sales = the cost carried;
- the small-enterprise project is kept in the 分公司's book 002 on its own chart, whose trial balance
  balances too, and never on the CAS book's 合同履约成本.
Account numbers are those of the default configuration (sandbox.kingdee's seeded chart); supplier
and customer numbers are the default mapping table's. The hypothesis test varies amounts and the
order the source lists its records in, with the same assertions.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.ledger_world import Amounts, LedgerWorld, build_world, ledger_mapping, world_connector
from yecai.demo import identity_of, needed_streams
from yecai.domain.money import round_money
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import default_job_rule_sets, default_mapping
from yecai.reports.periods import Period
from yecai.reports.trial_balance import AccountBalance, TrialBalance, read_trial_balance
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.store.db import Store, open_store
from yecai.sync.pipeline import SyncReport, run_sync_job

pytestmark = pytest.mark.slow

D = Decimal
OCTOBER = Period(2026, 10)
PAYABLES = "2202"
PROVISION = "2801"
RECEIVABLE = "1122"
CONTRACT_COST = "5401"
INPUT_VAT, OUTPUT_VAT, SIMPLE_VAT, PREPAID_VAT = "2221.01.01", "2221.01.02", "2221.06", "2221.03"
REVENUE, COST_OF_SALES = "6001", "6401"


SMALL_BOOK = "002"  # the 分公司's book (org 200), on the 小企业会计准则 chart


def run_month(
    store: Store, data_dir: Path, world: LedgerWorld, order: random.Random | None = None
) -> tuple[SyncReport, TrialBalance, TrialBalance]:
    """The month through the pipeline, and the trial balances of book 001 and of book 002."""
    server, credentials = start_kingdee(data_dir)
    try:
        connector = world_connector(world, order=order)
        rule_sets = list(default_job_rule_sets().values())
        with KingdeeClient(
            str(credentials["server_url"]), identity_of(credentials), connection="kd"
        ) as client:
            report = run_sync_job(
                store,
                connector,
                client,
                rule_sets=rule_sets,
                mapping=ledger_mapping(),
                source_connection="pm",
                kingdee_connection="kd",
                streams=needed_streams(connector, rule_sets),
                backoff=0.01,
                full_check=True,
            )
            balance = read_trial_balance(client, book="001", start=OCTOBER, dimensions=True)
            small = read_trial_balance(client, book=SMALL_BOOK, start=OCTOBER, dimensions=True)
        return report, balance, small
    finally:
        server.stop()


# -- what the books must say, from the documents ---------------------------------------------------


def projects(world: LedgerWorld) -> dict[str, dict[str, Any]]:
    return {p["code"]: p for p in world.of("project")}


def supplier_numbers() -> dict[str, str]:
    return dict(default_mapping().suppliers)


def customer_numbers() -> dict[str, str]:
    return dict(default_mapping().customers)


def owed_to_suppliers(world: LedgerWorld) -> dict[tuple[str, str], Decimal]:
    """(supplier number, project) → cost received (ex-VAT) + VAT invoiced − paid."""
    numbers = supplier_numbers()
    owed: dict[tuple[str, str], Decimal] = {}

    def add(name: str, project: str, amount: Decimal) -> None:
        key = (numbers[name], project)
        owed[key] = owed.get(key, D(0)) + amount

    for cost in world.of("cost_record"):
        if cost.get("supplier_name"):
            add(cost["supplier_name"], cost["project_code"], cost["amount"])
    for invoice in world.of("invoice"):
        if invoice["direction"] == "in":
            add(invoice["seller_name"], invoice["project_code"], invoice["tax_amount"])
    for payment in world.of("payment_request"):
        if payment["status"] == "paid":
            add(payment["payee_name"], payment["project_code"], -payment["amount"])
    return owed


def owed_by_customers(world: LedgerWorld, with_receipts: bool) -> dict[tuple[str, str], Decimal]:
    """(customer number, project) → issued invoices' 价税合计 − receipts."""
    numbers = customer_numbers()
    owed: dict[tuple[str, str], Decimal] = {}
    for invoice in world.of("invoice"):
        if invoice["direction"] == "out":
            key = (numbers[invoice["buyer_name"]], invoice["project_code"])
            owed[key] = owed.get(key, D(0)) + invoice["total"]
    for receipt in world.of("receipt") if with_receipts else []:
        key = (numbers[receipt["payer"]], receipt["project_code"])
        owed[key] = owed.get(key, D(0)) - receipt["amount"]
    return owed


def cost_of_month(world: LedgerWorld, project: str) -> Decimal:
    """The month's contract cost: ex-VAT cost, plus the VAT a simple-method project cannot deduct."""
    cost = sum((c["amount"] for c in world.of("cost_record") if c["project_code"] == project), D(0))
    if projects(world)[project]["vat_method"] == "simple":
        cost += sum(
            (
                i["tax_amount"]
                for i in world.of("invoice")
                if i["direction"] == "in" and i["project_code"] == project
            ),
            D(0),
        )
    return cost


def revenue_of_month(world: LedgerWorld, project: str) -> Decimal:
    """Contract price (ex-VAT) × cumulative progress (cost ÷ budget) − revenue recognised before."""
    price = price_of(world, project)
    opening = [o for o in world.of("opening_balance") if o["project_code"] == project]
    revenue_before = sum((o["revenue_to_date"] for o in opening), D(0))
    return round_money(price * progress_of(world, project)) - revenue_before


def price_of(world: LedgerWorld, project: str) -> Decimal:
    return sum(
        (
            c["amount"] / (1 + c["tax_rate"])
            for c in world.of("contract")
            if c["project_code"] == project and c["contract_kind"] == "income"
        ),
        D(0),
    )


def estimate_of(world: LedgerWorld, project: str) -> Decimal:
    return sum((b["amount"] for b in world.of("budget_line") if b["project_code"] == project), D(0))


def progress_of(world: LedgerWorld, project: str) -> Decimal:
    """Cumulative cost (go-live cost + the month's) ÷ the estimated total cost, at most 100 %."""
    cost_before = sum(
        (o["cost_to_date"] for o in world.of("opening_balance") if o["project_code"] == project), D(0)
    )
    return min((cost_before + cost_of_month(world, project)) / estimate_of(world, project), D(1))


def provision_of(world: LedgerWorld, project: str) -> Decimal:
    """预计负债 of a loss-making contract (entry 15): the expected loss on the part not yet done."""
    loss = estimate_of(world, project) - price_of(world, project)
    return round_money(loss * (1 - progress_of(world, project))) if loss > 0 else D("0.00")


def net_per(account: AccountBalance | None, *numbers: str) -> Decimal:
    """Closing balance (debit − credit) of an account's dimension rows carrying all `numbers`."""
    if account is None:
        return D(0)
    return sum((d.closing.net for d in account.detail(*numbers)), D(0))


def movement_per(account: AccountBalance | None, project: str) -> Decimal:
    if account is None:
        return D(0)
    return sum((d.movement.net for d in account.detail(project)), D(0))


def payable_rows(balance: TrialBalance) -> list[AccountBalance]:
    return [row for row in balance.rows if row.number.startswith(f"{PAYABLES}.")]


# -- the assertions --------------------------------------------------------------------------------


class Findings:
    """Every assertion of the books is checked and all that fail are reported together, with the
    figures, so one wrong account does not hide the others."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.failed.append(message)


def check_books(world: LedgerWorld, report: SyncReport, balance: TrialBalance, small: TrialBalance) -> None:
    found = Findings()
    audit(found, world, report, balance, small)
    audit_small_book(found, world, balance, small)
    assert not found.failed, "\n".join(found.failed)


def audit_small_book(found: Findings, world: LedgerWorld, balance: TrialBalance, small: TrialBalance) -> None:
    """The 分公司's book: balanced on its own, holding its project's cost on 工程施工 (4401), and the
    group's book holding nothing of that project."""
    expect = found.expect
    expect(small.balanced, f"book {SMALL_BOOK}'s trial balance does not balance: {small.totals}")
    codes = [p["code"] for p in world.of("project") if p["accounting_standard"] == "small"]
    for code in codes:
        cost = sum((c["amount"] for c in world.of("cost_record") if c["project_code"] == code), D(0))
        booked = sum(
            (d.closing.net for r in small.rows if r.number.startswith("4401.01.") for d in r.detail(code)),
            D(0),
        )
        expect(booked == cost, f"{code} 工程施工—合同成本 in book {SMALL_BOOK}: {booked}, cost {cost}")
        stray = sorted({r.number for r in balance.rows if r.detail(code)})
        expect(not stray, f"{code} booked in the group's book 001 on {stray}")


def audit(
    found: Findings, world: LedgerWorld, report: SyncReport, balance: TrialBalance, small: TrialBalance
) -> None:
    expect = found.expect
    # a project's sub-ledgers are in its organisation's book: the small-enterprise one in book 002
    in_small = {p["code"] for p in world.of("project") if p["accounting_standard"] == "small"}

    def book_of(project: str) -> TrialBalance:
        return small if project in in_small else balance

    with_receipts = any(pull.stream == "receipts" for pull in report.pulls)
    expect(not report.send.failed, f"Kingdee refused postings: {report.send.errors[:5]}")
    expect(report.check.clean, f"read-back: {report.check}")
    expect(balance.balanced, f"trial balance does not balance: {balance.totals}")

    # each supplier's payable, per project, over every 应付账款 sub-account
    for (supplier, project), owed in owed_to_suppliers(world).items():
        booked = sum((net_per(row, supplier, project) for row in payable_rows(book_of(project))), D(0))
        expect(booked == -owed, f"应付 {supplier} × {project}: booked {-booked}, owed {owed}")

    # each customer's receivable, per project
    for (customer, project), owed in owed_by_customers(world, with_receipts).items():
        booked = net_per(book_of(project).account(RECEIVABLE), customer, project)
        expect(booked == owed, f"应收 {customer} × {project}: booked {booked}, owed {owed}")

    # 合同履约成本 is empty at the end of the period for every CAS project (cost carried over)
    cost_account = balance.account(CONTRACT_COST)
    left = cost_account.closing.net if cost_account else D(0)
    expect(left == 0, f"合同履约成本 ends at {left}, not empty")

    # VAT ties to the invoices, by the projects' VAT method
    kinds = projects(world)
    invoices = world.of("invoice")
    deductible = sum(
        (
            i["tax_amount"]
            for i in invoices
            if i["direction"] == "in"
            and i["invoice_type"] == "special"
            and kinds[i["project_code"]]["vat_method"] == "general"
        ),
        D(0),
    )
    # VAT is per book: the two books' movements together tie to the company's invoices
    booked_input = balance.movement(INPUT_VAT).debit + small.movement(INPUT_VAT).debit
    expect(booked_input == deductible, f"进项税额 {booked_input}, deductible {deductible}")
    for method, account in (("general", OUTPUT_VAT), ("simple", SIMPLE_VAT)):
        issued = sum(
            (
                i["tax_amount"]
                for i in invoices
                if i["direction"] == "out" and kinds[i["project_code"]]["vat_method"] == method
            ),
            D(0),
        )
        credited = balance.movement(account).credit + small.movement(account).credit
        expect(
            credited == issued, f"{account} ({method}): credited {credited}, issued invoices' tax {issued}"
        )
    prepaid = balance.account(PREPAID_VAT)
    local = [code for code, p in kinds.items() if not p["cross_region"]]
    for code in local:
        on_local = net_per(prepaid, code)
        expect(on_local == 0, f"预交增值税 {on_local} on the local project {code}")

    # revenue = price × progress (opening balances included) and cost of sales = the cost carried
    revenue, cost_of_sales = balance.account(REVENUE), balance.account(COST_OF_SALES)
    for code, project in kinds.items():
        if project["accounting_standard"] != "cas":
            continue
        booked, due = -movement_per(revenue, code), revenue_of_month(world, code)
        expect(booked == due, f"revenue of {code}: booked {booked}, price × progress {due}")
        # the month's cost, plus the provision for a loss-making contract (both 主营业务成本)
        provision = provision_of(world, code)
        carried, cost = movement_per(cost_of_sales, code), cost_of_month(world, code) + provision
        expect(carried == cost, f"cost of sales of {code}: booked {carried}, cost + provision {cost}")
        provided = -net_per(balance.account(PROVISION), code)
        expect(
            provided == provision, f"预计负债 of {code}: booked {provided}, expected loss left {provision}"
        )

    # the small-enterprise project is never booked on the CAS 合同履约成本 (5401 is 主营业务成本 there)
    small = [code for code, p in kinds.items() if p["accounting_standard"] == "small"]
    for code in small:
        for row in balance.rows:
            if row.number.startswith(f"{CONTRACT_COST}."):
                expect(not row.detail(code), f"{code} booked on {row.number}")


# -- the tests -------------------------------------------------------------------------------------


@pytest.fixture
def world() -> LedgerWorld:
    return build_world()


def test_the_month_adds_up_to_a_ledger(store: Store, tmp_path: Path, world: LedgerWorld) -> None:
    report, balance, small = run_month(store, tmp_path / "kd", world)
    check_books(world, report, balance, small)


def test_a_second_run_changes_nothing(tmp_path: Path, world: LedgerWorld) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    try:
        _first, before, _ = run_month(store, tmp_path / "kd", world)
        second, after, _ = run_month(store, tmp_path / "kd", world)
    finally:
        store.close()
    assert second.send.posted == 0
    assert after.totals == before.totals


cents = st.decimals(min_value=D("1000.00"), max_value=D("900000.00"), places=2)


# no shrinking: each example is a whole month through the pipeline; the findings list the figures
@settings(
    max_examples=12,  # a second or two each
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    material=cents,
    labour=cents,
    subcontract=cents,
    simple_material=cents,
    paid=st.decimals(min_value=D("0"), max_value=D("1"), places=2),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_any_amounts_in_any_order(
    tmp_path_factory: pytest.TempPathFactory,
    material: Decimal,
    labour: Decimal,
    subcontract: Decimal,
    simple_material: Decimal,
    paid: Decimal,
    seed: int,
) -> None:
    amounts = Amounts(
        material=material,
        labour=labour,
        subcontract=subcontract,
        simple_material=simple_material,
        paid_share=paid,
    )
    world = build_world(amounts)
    base = tmp_path_factory.mktemp("ledger")
    store = open_store(f"sqlite:///{base / 'yecai.sqlite'}")
    try:
        report, balance, small = run_month(store, base / "kd", world, order=random.Random(seed))
    finally:
        store.close()
    check_books(world, report, balance, small)

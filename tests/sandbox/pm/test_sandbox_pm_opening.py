"""sandbox.pm's opening balances (期初): one row per contract running at go-live, consistent with
the history the generator tells and the progress figures it reports, served and pushed like any
stream, and valid canonical documents through the connector.

The figures are checked against the other streams, not against opening.py's own arithmetic where
another stream says the same thing: the first approved progress report's cumulative valuation less
its own is what was billed before the window; the percent complete before it prices the revenue.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.domain import documents as canonical
from yecai.jsonutil import dumps, loads
from yecai.sandbox.pm import Dataset, ProjectStatus, generate
from yecai.sandbox.pm.records import Contract, ContractKind, OpeningBalance
from yecai.sandbox.pm.runtime import PmRuntime

SANDBOX = {"projects": 8, "months": 1, "seed": 5}  # what this module's HTTP sandbox serves
CENT = Decimal("0.01")
CONNECTOR = Path(__file__).parents[3] / "yecai" / "connectors" / "pm_sandbox" / "connector.yaml"


@pytest.fixture(scope="module")
def world() -> Dataset:
    return generate(projects=12, months=2, seed=42)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _go_live_contracts(dataset: Dataset) -> dict[str, Contract]:
    """Each contract as it stood at go-live (the window later raises some by 补充协议)."""
    return {c.contract_no: c for c in dataset.at(dataset.timeline_start).contracts}


def _check(dataset: Dataset) -> None:
    """Every invariant of the opening balances of one data set."""
    contracts = _go_live_contracts(dataset)
    rows = {row.contract_no: row for row in dataset.opening_balances}
    projects = {p.project_code: p for p in dataset.projects}
    # exactly the contracts running on the first day of projects then under construction
    running = {
        c.contract_no
        for c in contracts.values()
        if projects[c.project_code].status is ProjectStatus.UNDER_CONSTRUCTION
        and projects[c.project_code].start_date < dataset.first_day
        and c.start_date < dataset.first_day
    }
    assert set(rows) == running
    first_period = f"{dataset.first_day:%Y-%m}"
    reports = {r.project_code: r for r in dataset.progress_reports if r.period == first_period}
    for row in rows.values():
        contract = contracts[row.contract_no]
        assert row.opening_id == f"QC-{row.contract_no}"
        assert (row.project_code, row.contract_kind) == (contract.project_code, contract.contract_kind)
        assert row.go_live_date == dataset.first_day
        assert row.created_at < dataset.timeline_start  # already there when the window opens
        assert row.created_at > contract.created_at
        assert row.prepaid_vat_carry <= 0
        assert row.retention_to_date <= row.billed_to_date
    for project_code in {row.project_code for row in rows.values()}:
        own = [row for row in rows.values() if row.project_code == project_code]
        income = next(row for row in own if row.contract_kind is ContractKind.INCOME)
        suppliers = [row for row in own if row is not income]
        contract = contracts[income.contract_no]
        budget = [
            b for b in dataset.at(dataset.timeline_start).budget_lines if b.project_code == project_code
        ]
        # the progress figures the PM system reports carry on from the opening ones
        report = reports.get(project_code)
        if report is not None:
            # each BOQ line rounds its amount on its own: a cent per line measured this month
            before = report.cumulative_valuation - report.valuation_amount
            assert abs(income.billed_to_date - before) <= CENT * len(report.measured)
            assert income.percent_complete <= report.percent_complete
        share = income.percent_complete / 100
        assert income.retention_to_date == _money(income.billed_to_date * contract.retention_rate)
        issued = _money((income.billed_to_date - income.retention_to_date) * (1 + contract.tax_rate))
        assert income.received_to_date <= issued  # the owner pays less than was invoiced
        assert income.estimated_total_cost == sum((b.amount for b in budget), Decimal(0))
        # cost to date ÷ 预计总成本 tells the progress story, give or take
        assert income.estimated_total_cost is not None
        assert abs(income.cost_to_date / income.estimated_total_cost - share) <= Decimal("0.06") + share / 10
        # revenue to date is the input method's: price × cost to date ÷ 预计总成本 (CAS 14 投入法)
        progress = min(income.cost_to_date / income.estimated_total_cost, Decimal(1))
        assert income.revenue_to_date == _money(contract.amount / (1 + contract.tax_rate) * progress)
        assert sum((s.cost_to_date for s in suppliers), Decimal(0)) <= income.cost_to_date
        subcontracted = sum(
            (s.invoiced_to_date for s in suppliers if s.contract_kind is ContractKind.SUBCONTRACT), Decimal(0)
        )
        assert income.prepaid_vat_carry == min(Decimal("0.00"), issued - subcontracted)
        for row in suppliers:
            supplier = contracts[row.contract_no]
            assert (row.billed_to_date, row.retention_to_date, row.received_to_date) == (0, 0, 0)
            assert row.revenue_to_date == 0
            assert row.invoiced_to_date == _money(row.cost_to_date * (1 + supplier.tax_rate))
            paid = (row.invoiced_to_date * supplier.payment_ratio).quantize(CENT, ROUND_DOWN)
            assert row.paid_to_date == min(paid, supplier.amount)
            if supplier.contract_type_name != "专业分包合同":  # a specialist may have finished
                # below the 85 % at which a 补充协议 would have raised the contract before go-live
                assert row.invoiced_to_date <= supplier.amount * Decimal("0.86")
            assert row.invoiced_to_date <= supplier.amount


def test_opening_balances_agree_with_the_rest_of_the_history(world: Dataset) -> None:
    assert len({row.project_code for row in world.opening_balances}) >= 5
    _check(world)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), start=st.sampled_from(["2025-01", "2026-03", "2026-10", "2027-12"]))
def test_any_seed_and_go_live_month_keeps_them_consistent(seed: int, start: str) -> None:
    _check(generate(projects=4, months=1, seed=seed, start_month=start))


def test_a_longer_window_has_the_same_opening_balances(world: Dataset) -> None:
    shorter = generate(projects=12, months=1, seed=42)
    assert shorter.opening_balances == world.opening_balances


def test_a_specialist_carries_on_from_what_it_settled_before_go_live(world: Dataset) -> None:
    contracts = _go_live_contracts(world)
    specialists = [
        row
        for row in world.opening_balances
        if contracts[row.contract_no].contract_type_name == "专业分包合同"
    ]
    assert specialists
    assert any(row.cost_to_date > 0 for row in specialists)
    labour = [
        row
        for row in world.opening_balances
        if contracts[row.contract_no].contract_type_name == "劳务分包合同"
    ]
    assert labour
    assert all(row.contract_kind is ContractKind.LABOUR for row in labour)  # 劳务分包: their own kind


def _to_document(connector: dict[str, Any], row: OpeningBalance) -> dict[str, Any]:
    item = loads(dumps(row))  # through JSON, as a client receives it
    return {field: item[source] for field, source in connector["fields"].items()}


def test_every_row_is_a_valid_canonical_document_through_the_connector(world: Dataset) -> None:
    stream = yaml.safe_load(CONNECTOR.read_text(encoding="utf-8"))["streams"]["opening_balances"]
    assert stream["document"] == "opening_balance"
    for row in world.opening_balances:
        document, issues = canonical.validate(canonical.OpeningBalance, _to_document(stream, row))
        assert issues == [], (row.opening_id, issues)
        assert document is not None
        assert document.as_of == world.first_day
        assert document.key == row.opening_id


def test_bad_rows_include_opening_balances_the_domain_refuses() -> None:
    dirty = generate(projects=12, months=1, seed=42, bad_rate=0.2)
    stream = yaml.safe_load(CONNECTOR.read_text(encoding="utf-8"))["streams"]["opening_balances"]
    bad = {d.key: d for d in dirty.defects if d.entity == "opening_balance"}
    assert {d.kind for d in bad.values()} == {"negative_cumulative", "retention_above_billing"}
    for row in dirty.opening_balances:
        document, issues = canonical.validate(canonical.OpeningBalance, _to_document(stream, row))
        assert (document is None) == (row.opening_id in bad), row.opening_id
        if row.opening_id in bad:
            assert [issue.field for issue in issues] == [bad[row.opening_id].field]


def test_the_clock_passing_go_live_eve_pushes_them_as_created_events(world: Dataset) -> None:
    runtime = PmRuntime(world)
    eve = world.timeline_start - dt.timedelta(days=1)
    events = [e for e in runtime.events_between(eve, world.timeline_start) if e.entity == "opening_balance"]
    assert {e.version.record.key for e in events} == {row.opening_id for row in world.opening_balances}
    assert {e.event_type for e in events} == {"opening_balance.created"}
    body = json.loads(events[0].body(), parse_float=Decimal)
    assert body["data"]["opening_id"] == events[0].version.record.key


# --- over HTTP ------------------------------------------------------------------------------------


def test_the_listing_serves_every_row_exactly(client: httpx.Client, dataset: Dataset) -> None:
    served: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = client.get("/api/v1/opening-balances", params={"page": page, "page_size": 7})
        assert answer.status_code == 200, answer.text
        data = json.loads(answer.text, parse_float=Decimal)["data"]
        served.extend(data["items"])
        if not data["items"]:
            break
        page += 1
    expected = [
        loads(dumps(row)) for row in sorted(dataset.opening_balances, key=lambda r: (r.updated_at, r.key))
    ]
    assert served == json.loads(dumps(expected), parse_float=Decimal)
    assert any(isinstance(item["cost_to_date"], Decimal) for item in served)  # JSON numbers, exact


def test_the_listing_filters_by_project_and_contract(client: httpx.Client, dataset: Dataset) -> None:
    row = dataset.opening_balances[0]
    by_project = client.get("/api/v1/opening-balances", params={"project_code": row.project_code}).json()
    assert {item["project_code"] for item in by_project["data"]["items"]} == {row.project_code}
    by_contract = client.get("/api/v1/opening-balances", params={"contract_no": row.contract_no}).json()
    assert [item["opening_id"] for item in by_contract["data"]["items"]] == [row.opening_id]
    one = client.get(f"/api/v1/opening-balances/{row.opening_id}")
    assert one.status_code == 200
    assert one.json()["data"]["contract_no"] == row.contract_no
    missing = client.get("/api/v1/opening-balances/QC-NOPE")
    assert missing.status_code == 404
    assert "期初余额 QC-NOPE 不存在" in missing.json()["message"]

"""Invoice matching (cost ↔ invoice ↔ payment per contract) on sandbox.pm's data and by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from yecai.domain import documents as d
from yecai.reconcile.matching import Mismatch, match_contracts
from yecai.sandbox.pm import Dataset, generate

D = Decimal


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(projects=3, months=1, seed=42)


def contracts(ds: Dataset) -> list[d.Contract]:
    return [
        d.Contract(
            contract_no=c.contract_no,
            project_code=c.project_code,
            contract_kind=c.contract_kind.value,
            name=c.contract_name,
            counterparty=c.counterparty_name,
            amount=c.amount,
            tax_rate=c.tax_rate,
        )
        for c in ds.contracts
    ]


def costs(ds: Dataset) -> list[d.CostRecord]:
    return [
        d.CostRecord(
            source_key=r.record_id,
            project_code=r.project_code,
            category=r.category.value,
            business_date=r.business_date,
            amount=r.amount,
            supplier_name=r.supplier_name,
            contract_no=r.contract_no,
        )
        for r in (*ds.cost_records, *ds.other_cost_records)
    ]


def invoice(i: Any) -> d.Invoice:
    return d.Invoice(
        invoice_no=i.invoice_no,
        direction=i.direction.value,
        invoice_type=i.invoice_type.value,
        issue_date=i.issue_date,
        project_code=i.project_code,
        seller_name=i.seller_name,
        buyer_name=i.buyer_name,
        amount=i.amount,
        tax_amount=i.tax_amount,
        total=i.total_amount,
        contract_no=i.contract_no,
    )


def payments(ds: Dataset) -> list[d.PaymentRequest]:
    return [
        d.PaymentRequest(
            request_no=p.request_no,
            project_code=p.project_code,
            contract_no=p.contract_no,
            payee_name=p.payee_name,
            amount=p.amount,
            request_date=p.request_date,
            expected_pay_date=p.expected_pay_date,
            paid_date=p.paid_date,
            status=p.status.value,
        )
        for p in ds.payment_requests
    ]


def test_the_months_figures_add_up_to_the_sandbox_ledgers(dataset: Dataset) -> None:
    result = match_contracts(
        contracts(dataset),
        costs(dataset),
        [invoice(i) for i in dataset.invoices],
        payments(dataset),
        period="2026-10",
    )
    october = [
        r for r in costs(dataset) if r.business_date.month == 10 and (r.supplier_name or r.contract_no)
    ]
    assert sum((r.cost for r in result.rows), D(0)) == sum((r.amount for r in october), D(0))
    received = [i for i in dataset.invoices if i.direction.value == "in" and i.issue_date.month == 10]
    assert sum((r.invoiced_total for r in result.rows), D(0)) == sum((i.total_amount for i in received), D(0))
    # every row's difference is listed exactly once, with its amount
    for row in result.rows:
        listed = {u.kind: u.amount for u in result.unmatched if u.key == row.key}
        if row.cost - row.invoiced_net > D("0.01"):
            assert listed[Mismatch.COST_WITHOUT_INVOICE] == row.cost - row.invoiced_net
        if row.invoiced_net - row.cost > D("0.01"):
            assert listed[Mismatch.INVOICE_WITHOUT_COST] == row.invoiced_net - row.cost
        if row.paid - row.invoiced_total > D("0.01"):
            assert listed[Mismatch.PAYMENT_BEYOND_INVOICES] == row.paid - row.invoiced_total
    # suppliers invoice the month after: at October's end the daily costs are what 暂估 accrues
    assert any(u.kind is Mismatch.COST_WITHOUT_INVOICE and "-CG-" in u.key for u in result.unmatched)
    table = result.table()
    assert "成本(不含税)" in table
    assert "有成本未到票" in table


def test_a_months_invoices_cover_that_months_cost_per_contract(dataset: Dataset) -> None:
    """sandbox.pm invoices each purchase and lease contract's month exactly: matched on the
    invoices of that month (whenever issued), no purchase/lease contract is left uninvoiced."""
    october_costs = [r for r in costs(dataset) if r.business_date.month == 10]
    october_invoices = [invoice(i) for i in dataset.invoices if i.period == "2026-10"]
    result = match_contracts(contracts(dataset), october_costs, october_invoices, [])
    daily = [r for r in result.rows if "-CG-" in r.key or "-ZL-" in r.key]
    assert daily
    invoiced = [r for r in daily if r.invoiced_net]
    assert invoiced
    assert all(r.uninvoiced == 0 for r in invoiced)


def test_each_kind_of_mismatch_by_hand() -> None:
    supplier = d.Contract(
        contract_no="HT-CG-1",
        project_code="XM1",
        contract_kind="purchase",
        name="钢材",
        counterparty="江苏恒固建材有限公司",
        amount=D("1000000"),
    )
    day = dt.date(2026, 3, 10)
    cost = d.CostRecord(
        source_key="CB-1",
        project_code="XM1",
        category="material",
        business_date=day,
        amount=D("1000.00"),
        contract_no="HT-CG-1",
    )
    bill = d.Invoice(
        invoice_no="00000001",
        direction="in",
        invoice_type="special",
        issue_date=day,
        project_code="XM1",
        seller_name="浙江力拓机械租赁有限公司",
        buyer_name="我司",
        amount=D("500.00"),
        tax_amount=D("65.00"),
        total=D("565.00"),
    )
    pay = d.PaymentRequest(
        request_no="FK-1",
        project_code="XM1",
        contract_no="HT-CG-1",
        payee_name="江苏恒固建材有限公司",
        amount=D("300.00"),
        request_date=day,
        paid_date=day,
        status="paid",
    )
    result = match_contracts([supplier], [cost], [bill], [pay], period="2026-03")
    kinds = {(u.kind, u.key, u.amount, u.documents) for u in result.unmatched}
    assert kinds == {
        (Mismatch.COST_WITHOUT_INVOICE, "HT-CG-1", D("1000.00"), ("CB-1",)),
        (Mismatch.PAYMENT_BEYOND_INVOICES, "HT-CG-1", D("300.00"), ("FK-1",)),
        (Mismatch.INVOICE_WITHOUT_COST, "XM1/浙江力拓机械租赁有限公司", D("500.00"), ("00000001",)),
    }
    assert all("暂估" in u.zh or "核对" in u.zh or "预付" in u.zh for u in result.unmatched)
    assert match_contracts([supplier], [cost], [bill], [pay], period="2026-04").rows == []

"""Owner receipts of sandbox.pm: each approved valuation's invoice is paid at the contract's ratio
20–60 days after approval, a completed project's retention comes back after its defects period,
and `/api/v1/receipts` lists them like the other streams (offset paging, filter, one by key)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import httpx
import yaml

from yecai.connectors.pm_sandbox.connector import SPEC
from yecai.sandbox.pm import Dataset, Project
from yecai.sandbox.pm.receipts import ReceiptBook, retention_due
from yecai.sandbox.pm.records import Contract, ContractKind, InvoiceDirection, ReceiptType
from yecai.sandbox.pm.schemas import ReceiptOut

SANDBOX = {"projects": 8, "months": 1, "seed": 42}


def test_each_progress_receipt_pays_its_invoice_at_the_payment_ratio(dataset: Dataset) -> None:
    invoices = {i.invoice_no: i for i in dataset.invoices}
    income = {c.contract_no: c for c in dataset.contracts if c.contract_kind is ContractKind.INCOME}
    approvals = {(r.project_code, r.period): r.approved_date for r in dataset.progress_reports}
    assert dataset.receipts
    for receipt in dataset.receipts:
        assert receipt.receipt_type is ReceiptType.PROGRESS
        invoice = invoices[receipt.invoice_no]
        contract = income[receipt.contract_no]
        assert invoice.direction is InvoiceDirection.OUT
        assert invoice.contract_no == contract.contract_no
        assert receipt.payer_name == contract.counterparty_name
        assert receipt.amount == (invoice.total_amount * contract.payment_ratio).quantize(
            Decimal("0.01"), ROUND_DOWN
        )
        approved = approvals[(receipt.project_code, invoice.period)]
        assert 20 <= (receipt.receipt_date - approved).days <= 60
        assert receipt.created_at.date() == receipt.receipt_date + timedelta(days=1)
        assert receipt.created_at <= dataset.timeline_end


def test_retention_comes_back_after_the_defects_period(dataset: Dataset) -> None:
    project: Project = dataset.projects[0]
    contract: Contract = next(
        c for c in dataset.contracts if c.project_code == project.project_code and c.contract_kind == "income"
    )
    finished = contract.__class__(
        **{
            **{f: getattr(contract, f) for f in contract.__dataclass_fields__},
            "amount": Decimal("10900000.00"),
            "tax_rate": Decimal("0.09"),
            "retention_rate": Decimal("0.03"),
            "end_date": date(2025, 9, 1),
        }
    )
    book = ReceiptBook(project)
    window = (date(2026, 10, 1), date(2026, 10, 31))
    receipt = book.retention(random.Random(1), finished, window)
    assert receipt is not None
    # 10,000,000 ex-VAT × 3 % = 300,000 + 9 % VAT = 327,000.00
    assert retention_due(finished) == receipt.amount == Decimal("327000.00")
    assert window[0] <= receipt.receipt_date <= window[1]
    assert receipt.receipt_type is ReceiptType.RETENTION
    recent = finished.__class__(
        **{**{f: getattr(finished, f) for f in finished.__dataclass_fields__}, "end_date": date(2026, 1, 1)}
    )
    assert book.retention(random.Random(1), recent, window) is None  # defects period not over


def test_receipts_are_listed_filtered_and_fetched_by_key(client: httpx.Client, dataset: Dataset) -> None:
    page = json.loads(client.get("/api/v1/receipts", params={"limit": 500}).text, parse_float=Decimal)
    items = page["data"]["items"]
    assert page["data"]["total"] == len(dataset.receipts) == len(items)
    assert {i["receipt_no"] for i in items} == {r.receipt_no for r in dataset.receipts}
    retention = client.get("/api/v1/receipts", params={"receipt_type": "retention"}).json()
    assert retention["data"]["items"] == []
    assert client.get("/api/v1/receipts", params={"receipt_type": "gift"}).status_code == 400
    first = dataset.receipts[0]
    one = json.loads(client.get(f"/api/v1/receipts/{first.receipt_no}").text, parse_float=Decimal)
    assert one["data"]["amount"] == first.amount
    assert one["data"]["receipt_type_name"] == "进度款"
    assert client.get("/api/v1/receipts/SK-NONE-0001").status_code == 404


def test_the_connector_reads_receipts_and_their_webhooks() -> None:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    stream = spec["streams"]["receipts"]
    assert (stream["path"], stream["document"], stream["primary_key"]) == (
        "/api/v1/receipts",
        "receipt",
        "receipt_no",
    )
    # every canonical field the Receipt document takes comes from a field sandbox.pm sends
    assert set(stream["fields"]) == {
        "receipt_no",
        "project_code",
        "contract_no",
        "payer",
        "receipt_kind",
        "receipt_date",
        "amount",
        "bank_account",
    }
    assert set(stream["fields"].values()) <= set(ReceiptOut.model_fields)
    events = spec["webhooks"]["events"]
    assert events["receipt.deleted"] == {"stream": "receipts", "deleted": True}
    assert events["receipt.created"] == events["receipt.updated"] == {"stream": "receipts"}

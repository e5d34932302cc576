"""Every sandbox.pm record validates into yecai's canonical documents — except the bad rows asked for.

sandbox.pm is a different system with its own field names; the small mapping below (what a
connector does) turns each record, in every version, into canonical document data, which must
pass `yecai.domain.documents.validate` when `bad_rate` is 0. With `bad_rate` > 0, exactly the rows
listed in `Dataset.defects` fail, and they are about that share of the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from yecai.domain import documents as canonical
from yecai.jsonutil import dumps, loads
from yecai.sandbox.pm import Dataset, generate

pytestmark = pytest.mark.slow


def project(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": r["project_code"],
        "name": r["project_name"],
        "org_code": r["branch_name"],
        "department": r["department_name"],
        "manager": r["manager_name"],
        "customer": r["customer_name"],
        "contract_value": r["contract_amount"],
        "start_date": r["start_date"],
        "end_date": r["end_date"],
        "status": r["status"],
    }


def cost_record(r: dict[str, Any]) -> dict[str, Any]:
    names = ("project_code", "category", "business_date", "description", "quantity", "unit", "unit_price")
    return {
        "source_key": r["record_id"],
        **{name: r[name] for name in names},
        **{name: r[name] for name in ("amount", "tax_rate", "supplier_name", "contract_no", "invoice_no")},
    }


def boq_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_key": r["boq_id"],
        "project_code": r["project_code"],
        "code": r["item_code"],
        "name": r["item_name"],
        "unit": r["unit"],
        "quantity": r["quantity"],
        "unit_price": r["unit_price"],
        "amount": r["amount"],
        "features": r["feature_desc"],
        "edition": r["edition"],
    }


def budget_line(r: dict[str, Any]) -> dict[str, Any]:
    names = ("project_code", "category", "amount", "version", "description")
    return {"source_key": r["budget_id"], **{name: r[name] for name in names}}


def contract(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "contract_no": r["contract_no"],
        "project_code": r["project_code"],
        "contract_kind": r["contract_kind"],
        "name": r["contract_name"],
        "counterparty": r["counterparty_name"],
        "counterparty_tax_id": r["counterparty_tax_id"],
        **{
            name: r[name]
            for name in ("amount", "tax_rate", "retention_rate", "signed_date", "start_date", "end_date")
        },
    }


def progress_report(r: dict[str, Any]) -> dict[str, Any]:
    names = ("project_code", "period", "report_date", "percent_complete", "valuation_amount", "approved")
    return {
        "source_key": r["report_id"],
        **{name: r[name] for name in names},
        "measured": [{"boq_code": m["boq_code"], "quantity": m["quantity"]} for m in r["measured"]],
    }


def payment_request(r: dict[str, Any]) -> dict[str, Any]:
    names = (
        "request_no",
        "project_code",
        "contract_no",
        "payee_name",
        "payee_account",
        "payee_bank",
        "amount",
    )
    return {
        **{name: r[name] for name in names},
        **{name: r[name] for name in ("purpose", "request_date", "expected_pay_date", "status")},
    }


def invoice(r: dict[str, Any]) -> dict[str, Any]:
    names = (
        "invoice_no",
        "invoice_code",
        "direction",
        "invoice_type",
        "issue_date",
        "project_code",
        "seller_name",
    )
    more = ("seller_tax_id", "buyer_name", "buyer_tax_id", "amount", "tax_rate", "tax_amount", "contract_no")
    return {**{name: r[name] for name in (*names, *more)}, "total": r["total_amount"]}


def receipt(r: dict[str, Any]) -> dict[str, Any]:
    names = ("receipt_no", "project_code", "contract_no", "receipt_date", "amount", "bank_account")
    return {**{name: r[name] for name in names}, "payer": r["payer_name"], "receipt_kind": r["receipt_type"]}


def worker(r: dict[str, Any]) -> dict[str, Any]:
    names = ("id_number", "name", "project_code", "trade", "phone", "bank_card", "bank_name", "day_rate")
    return {
        **{name: r[name] for name in names},
        "team": r["team_name"],
        "employer": r["employer_name"],
        **{name: r[name] for name in ("registered", "entry_date", "exit_date")},
    }


def attendance(r: dict[str, Any]) -> dict[str, Any]:
    names = (
        "project_code",
        "id_number",
        "worker_name",
        "work_date",
        "days",
        "overtime_hours",
        "check_in",
        "check_out",
    )
    return {"source_key": r["attendance_id"], **{name: r[name] for name in names}, "team": r["team_name"]}


def opening_balance(r: dict[str, Any]) -> dict[str, Any]:
    figures = (
        "cost_to_date",
        "revenue_to_date",
        "estimated_total_cost",
        "billed_to_date",
        "retention_to_date",
        "received_to_date",
        "invoiced_to_date",
        "paid_to_date",
        "prepaid_vat_carry",
    )
    return {
        "source_key": r["opening_id"],
        "project_code": r["project_code"],
        "contract_no": r["contract_no"],
        "as_of": r["go_live_date"],
        **{name: r[name] for name in figures},
    }


MAPPINGS: dict[str, tuple[type[Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "project": (canonical.Project, project),
    "cost_record": (canonical.CostRecord, cost_record),
    "boq_item": (canonical.BoqItem, boq_item),
    "budget_line": (canonical.BudgetLine, budget_line),
    "contract": (canonical.Contract, contract),
    "progress_report": (canonical.ProgressReport, progress_report),
    "payment_request": (canonical.PaymentRequest, payment_request),
    "invoice": (canonical.Invoice, invoice),
    "receipt": (canonical.Receipt, receipt),
    "worker": (canonical.Worker, worker),
    "attendance": (canonical.Attendance, attendance),
    "opening_balance": (canonical.OpeningBalance, opening_balance),
}


def validate_all(dataset: Dataset) -> tuple[dict[str, int], set[tuple[str, str]], Counter[str]]:
    """Rows per entity, the (entity, key) of every version that fails, warnings per entity."""
    rows: dict[str, int] = {}
    failing: set[tuple[str, str]] = set()
    warnings: Counter[str] = Counter()
    for entity, (model, to_document) in MAPPINGS.items():
        keys = set()
        for version in dataset.histories[entity]:
            if version.deleted:
                continue
            keys.add(version.record.key)
            # through JSON, as a client receives it: money arrives as exact decimals
            document, issues = canonical.validate(model, to_document(loads(dumps(version.record))))
            if issues:
                failing.add((entity, version.record.key))
            elif document is not None and document.warnings():
                warnings[entity] += 1
        rows[entity] = len(keys)
    return rows, failing, warnings


@pytest.fixture(scope="module")
def clean() -> Dataset:
    return generate(projects=12, months=1, seed=42)


def test_every_version_of_every_record_is_a_valid_canonical_document(clean: Dataset) -> None:
    rows, failing, warnings = validate_all(clean)
    assert failing == set()
    assert clean.defects == ()
    assert all(rows[entity] > 0 for entity in MAPPINGS), rows
    # mostly Luhn-valid bank cards, a few passbook-style numbers: a warning, never a refusal
    assert 0 < warnings["worker"] < rows["worker"] * 0.08
    assert set(warnings) == {"worker"}


@pytest.mark.parametrize("bad_rate", [0.02, 0.1])
def test_bad_rows_are_exactly_the_listed_defects_at_about_the_rate_asked(bad_rate: float) -> None:
    dirty = generate(projects=12, months=1, seed=42, bad_rate=bad_rate)
    rows, failing, _ = validate_all(dirty)
    listed = {(d.entity, d.key) for d in dirty.defects}
    assert failing == listed
    total = sum(rows.values())
    assert abs(len(listed) - bad_rate * total) < 4 * (bad_rate * total) ** 0.5 + 3
    for entity in ("cost_record", "worker", "attendance"):
        share = sum(1 for d in dirty.defects if d.entity == entity) / rows[entity]
        assert bad_rate / 2 < share < bad_rate * 2, (entity, share)
    kinds = {(d.entity, d.kind) for d in dirty.defects}
    assert ("worker", "bad_check_digit") in kinds
    assert ("invoice", "total_not_amount_plus_tax") in kinds


def test_bad_rows_leave_the_rest_of_the_data_alone(clean: Dataset) -> None:
    dirty = generate(projects=12, months=1, seed=42, bad_rate=0.1)
    bad = {(d.entity, d.key) for d in dirty.defects}
    for entity, versions in clean.histories.items():
        for version, other in zip(versions, dirty.histories[entity], strict=True):
            if (entity, version.record.key) not in bad:
                assert version == other
            else:
                assert version.at == other.at  # same timeline, one field spoilt


def test_bad_rate_is_checked() -> None:
    with pytest.raises(ValueError, match="bad_rate"):
        generate(projects=1, bad_rate=1.5)

"""A slice of bench/subledgers.py: the demo on 3 projects × 1 month, and every supplier's payable
(2202.*) and customer's receivable (1122) per project, read back from Kingdee's 科目余额表, nets to
what sandbox.pm's documents say is owed — no difference, not even a cent.

The comparison itself is proven able to fail: a cent more owed to one supplier, or a customer's
receipts forgotten, is a difference of exactly that amount.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.subledgers import Expectation, compare, run_check

pytestmark = pytest.mark.slow


def test_the_sandbox_months_subledgers_net_per_supplier_and_customer(tmp_path: Path) -> None:
    check = run_check(projects=3, months=1, seed=42, workdir=tmp_path / "demo")
    found = [*check.supplier_differences, *check.customer_differences, *check.account_differences]
    assert not found, "\n".join(d.line() for d in found[:20])
    assert check.balanced, [b.totals for b in check.balances]
    # the slice has something to compare: payables paid in part, receivables billed and received
    assert check.suppliers >= 10
    assert check.customers >= 1
    assert any(v != 0 for v in check.expected.payables.values())
    assert any(v != 0 for v in check.expected.receivables.values())
    assert not check.booked.without_party
    # the accounts' totals are the sub-ledgers' sums
    assert -check.total("2202") == sum(check.booked.payables.values())
    assert check.total("1122") == sum(check.booked.receivables.values())

    # a cent owed to one supplier, and one customer's project forgotten, show as exactly that
    supplier = next(k for k, v in check.expected.payables.items() if v)
    customer = next(k for k, v in check.expected.receivables.items() if v)
    off = dataclasses.replace(
        check.expected,
        payables={**check.expected.payables, supplier: check.expected.payables[supplier] + Decimal("0.01")},
        receivables={k: v for k, v in check.expected.receivables.items() if k != customer},
    )
    assert isinstance(off, Expectation)
    wrong = compare(off, check.booked, check.balances)
    assert [(d.key, d.delta) for d in wrong.supplier_differences] == [(supplier, Decimal("-0.01"))]
    assert [(d.key, d.delta) for d in wrong.customer_differences] == [
        (customer, check.booked.receivables[customer])
    ]

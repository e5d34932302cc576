"""Owner receipts (业主收款) of one project: progress payments and the retention returned.

The owner pays each approved valuation's invoice (价税合计) × the income contract's payment ratio
(进度款支付比例) some 20–60 days after the approval, into the contractor's basic account; a
completed project whose defects liability period (缺陷责任期, a year) has run out gets its retention
back — the income contract's price ex-VAT × its retention rate, plus VAT — within the data window.
The finance clerk keys a receipt in the morning after the bank's date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from yecai.sandbox.pm import names, parties
from yecai.sandbox.pm.models import CENT, Project
from yecai.sandbox.pm.records import Contract, Invoice, Receipt, ReceiptType
from yecai.sandbox.pm.seeding import office_time

DEFECTS_PERIOD_DAYS = 365  # 缺陷责任期: one year from completion (建质〔2017〕138号 allows up to two)
_PAY_AFTER = (20, 60)  # days from approval to the owner's payment


def retention_due(contract: Contract) -> Decimal:
    """The retention of a finished income contract, VAT included: price ex-VAT × rate, plus VAT."""
    price = (contract.amount / (1 + contract.tax_rate)).quantize(CENT, ROUND_HALF_UP)
    retention = (price * contract.retention_rate).quantize(CENT, ROUND_HALF_UP)
    return retention + (retention * contract.tax_rate).quantize(CENT, ROUND_HALF_UP)


@dataclass(slots=True)
class ReceiptBook:
    """Numbers a project's receipts in the order they are keyed."""

    project: Project
    sequence: int = 0

    def _receipt(
        self,
        kind: ReceiptType,
        contract: Contract,
        amount: Decimal,
        day: date,
        invoice_no: str | None,
        rng: random.Random,
    ) -> Receipt:
        self.sequence += 1
        bank, account = parties.bank_account(names.CONTRACTOR_NAME, self.project.city.removesuffix("市"))
        keyed = office_time(rng, day + timedelta(days=1), 9, 11)
        return Receipt(
            receipt_no=f"SK-{self.project.project_code}-{self.sequence:04d}",
            project_code=self.project.project_code,
            contract_no=contract.contract_no,
            payer_name=contract.counterparty_name,
            receipt_type=kind,
            receipt_type_name=kind.chinese,
            amount=amount,
            invoice_no=invoice_no,
            receipt_date=day,
            bank_name=bank,
            bank_account=account,
            created_at=keyed,
            updated_at=keyed,
        )

    def progress(
        self, rng: random.Random, invoice: Invoice, contract: Contract, approved: date
    ) -> Receipt | None:
        """The owner's payment of a valuation's invoice, or None when the ratio leaves nothing."""
        amount = (invoice.total_amount * contract.payment_ratio).quantize(CENT, ROUND_DOWN)
        if amount <= 0:
            return None
        day = approved + timedelta(days=rng.randint(*_PAY_AFTER))
        return self._receipt(ReceiptType.PROGRESS, contract, amount, day, invoice.invoice_no, rng)

    def retention(self, rng: random.Random, contract: Contract, window: tuple[date, date]) -> Receipt | None:
        """The retention of a completed project whose defects period ends by the window's end."""
        released = contract.end_date + timedelta(days=DEFECTS_PERIOD_DAYS)
        if released > window[1] or contract.retention_rate <= 0:
            return None
        first = max(released, window[0])
        day = min(window[1], first + timedelta(days=rng.randint(0, 20)))
        return self._receipt(ReceiptType.RETENTION, contract, retention_due(contract), day, None, rng)

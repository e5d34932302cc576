"""Payment requests (付款申请) to contract counterparties, and their way through approval.

After a counterparty's invoices for a month arrive, the site requests what is due: invoiced so far
(tax included) × the payment ratio, less what was requested, within the contract amount. Each
request is submitted, then approved and paid or rejected; now and then a draft is discarded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from yecai.sandbox.pm import parties
from yecai.sandbox.pm.models import CENT, Project
from yecai.sandbox.pm.records import Contract, ContractKind, PaymentRequest, PaymentStatus
from yecai.sandbox.pm.seeding import later, office_time
from yecai.sandbox.pm.timeline import History

_THOUSAND = Decimal(1000)
_DRAFT_SHARE = 0.04
_REJECT_SHARE = 0.06


def purpose_of(contract: Contract) -> str:
    if contract.contract_kind is ContractKind.PURCHASE:
        return "材料款"
    if contract.contract_kind is ContractKind.LEASE:
        return "机械租赁费"
    if contract.contract_kind is ContractKind.LABOUR:
        return "劳务费"
    return "分包工程进度款"


@dataclass(slots=True)
class PaymentBook:
    """A project's requests so far: numbering, and what was invoiced and requested per contract."""

    project: Project
    applicant: str
    sequence: int = 0
    invoiced: dict[str, Decimal] = field(default_factory=dict)  # contract_no → Σ invoice totals
    requested: dict[str, Decimal] = field(default_factory=dict)  # contract_no → Σ live requests

    def invoice_received(self, contract_no: str, total: Decimal) -> None:
        self.invoiced[contract_no] = self.invoiced.get(contract_no, Decimal(0)) + total

    def due(self, contract: Contract) -> Decimal:
        """What may be requested now: ratio × invoiced − requested, within the contract amount."""
        requested = self.requested.get(contract.contract_no, Decimal(0))
        payable = (self.invoiced.get(contract.contract_no, Decimal(0)) * contract.payment_ratio).quantize(
            CENT, ROUND_DOWN
        )
        return min(payable, contract.amount) - requested

    def request(
        self,
        rng: random.Random,
        history: History,
        contract: Contract,
        after: datetime,
        city: str,
    ) -> PaymentRequest | None:
        """Raise a request a few days after `after`, and play out its approval in `history`."""
        due = self.due(contract)
        if due <= 0:
            return None
        bank, account = parties.bank_account(contract.counterparty_name, city)
        submitted_at = later(rng, after, 1, 5)

        def draft(status: PaymentStatus, amount: Decimal, at: datetime) -> PaymentRequest:
            self.sequence += 1
            return PaymentRequest(
                request_no=f"FK-{self.project.project_code}-{self.sequence:04d}",
                project_code=self.project.project_code,
                contract_no=contract.contract_no,
                payee_name=contract.counterparty_name,
                payee_bank=bank,
                payee_account=account,
                purpose=purpose_of(contract),
                amount=amount,
                due_amount=due,
                request_date=at.date(),
                expected_pay_date=at.date() + timedelta(days=rng.randint(7, 15)),
                status=status,
                status_name=status.chinese,
                applicant=self.applicant,
                approved_date=None,
                paid_date=None,
                created_at=at,
                updated_at=at,
            )

        if rng.random() < _DRAFT_SHARE:  # keyed, then thrown away
            discarded = history.create(draft(PaymentStatus.DRAFT, due, submitted_at - timedelta(hours=2)))
            history.delete(discarded.request_no, later(rng, submitted_at, 1, 2))

        amount = due
        if rng.random() < 0.25 and due >= _THOUSAND:
            amount = (due / _THOUSAND).to_integral_value(ROUND_DOWN) * _THOUSAND
        request = history.create(draft(PaymentStatus.SUBMITTED, amount.quantize(CENT), submitted_at))
        key = request.request_no
        decided = later(rng, submitted_at, 1, 4)
        if rng.random() < _REJECT_SHARE:
            history.update(
                key, decided, status=PaymentStatus.REJECTED, status_name=PaymentStatus.REJECTED.chinese
            )
            return request
        self.requested[contract.contract_no] = self.requested.get(contract.contract_no, Decimal(0)) + amount
        history.update(
            key,
            decided,
            status=PaymentStatus.APPROVED,
            status_name=PaymentStatus.APPROVED.chinese,
            approved_date=decided.date(),
        )
        paid = office_time(rng, decided.date() + timedelta(days=rng.randint(2, 8)), 9, 17)
        history.update(
            key,
            paid,
            status=PaymentStatus.PAID,
            status_name=PaymentStatus.PAID.chinese,
            paid_date=paid.date(),
        )
        return request

"""The other streams of sandbox.pm: BOQ, budgets, contracts, progress, payments, invoices, labour,
opening balances.

Frozen dataclasses with the field names this PM system uses (they differ from yecai's canonical
documents on purpose: a connector maps them). Each has a `key` (its primary key) and
`created_at`/`updated_at`; money and quantities are `Decimal`. `Defect` records a deliberately
bad row (see `defects.py`) so tests know exactly which rows validation must refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from yecai.sandbox.pm.models import CostCategory


class ContractKind(StrEnum):
    INCOME = "income"  # 施工总承包合同 with the owner
    SUBCONTRACT = "subcontract"  # 专业分包
    LABOUR = "labour"  # 劳务分包: paid as 劳务费, from the 农民工工资专户
    PURCHASE = "purchase"  # 材料采购
    LEASE = "lease"  # 机械租赁


class InvoiceDirection(StrEnum):
    IN = "in"  # 进项: received from a supplier
    OUT = "out"  # 销项: issued to the owner


class InvoiceType(StrEnum):
    SPECIAL = "special"  # 增值税专用发票
    ORDINARY = "ordinary"  # 增值税普通发票


class ReceiptType(StrEnum):
    PROGRESS = "progress"  # 进度款: an approved valuation's invoice × the payment ratio
    RETENTION = "retention"  # 质保金: returned after the defects liability period

    @property
    def chinese(self) -> str:
        return "进度款" if self is ReceiptType.PROGRESS else "质保金"


class PaymentStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"

    @property
    def chinese(self) -> str:
        return _PAYMENT_STATUS_NAMES[self]


_PAYMENT_STATUS_NAMES: dict[PaymentStatus, str] = {
    PaymentStatus.DRAFT: "草稿",
    PaymentStatus.SUBMITTED: "已提交",
    PaymentStatus.APPROVED: "已审批",
    PaymentStatus.REJECTED: "已驳回",
    PaymentStatus.PAID: "已支付",
}


@dataclass(frozen=True, slots=True)
class BoqItem:
    """One 工程量清单 line of the contract BOQ: 12-digit code, quantity × 综合单价 = 合价."""

    boq_id: str
    project_code: str
    item_code: str
    item_name: str
    feature_desc: str
    section_name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    edition: str
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.boq_id


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """目标成本: the target cost of one project for one cost category, in one budget version."""

    budget_id: str
    project_code: str
    category: CostCategory
    category_name: str
    amount: Decimal
    version: str
    description: str
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.budget_id


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract: the income contract with the owner, or one with a supplier or subcontractor."""

    contract_no: str
    project_code: str
    contract_kind: ContractKind
    contract_type_name: str
    contract_name: str
    counterparty_name: str
    counterparty_tax_id: str
    amount: Decimal  # 含税合同额, raised by 补充协议 over time
    tax_rate: Decimal
    retention_rate: Decimal
    payment_ratio: Decimal  # 进度款支付比例
    signed_date: date
    start_date: date
    end_date: date
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.contract_no


@dataclass(frozen=True, slots=True)
class MeasuredItem:
    """One BOQ line measured in a progress report (计量): this period and cumulative."""

    boq_code: str
    item_name: str
    unit: str
    quantity: Decimal
    cumulative_quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """A monthly progress report with the owner's valuation (产值计量), approved some days later."""

    report_id: str
    project_code: str
    period: str
    report_date: date
    percent_complete: Decimal
    reported_amount: Decimal
    valuation_amount: Decimal
    cumulative_valuation: Decimal
    approved: bool
    approved_date: date | None
    measured: tuple[MeasuredItem, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.report_id


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """付款申请 to a contract counterparty; `amount` ≤ `due_amount`, what the contract made payable."""

    request_no: str
    project_code: str
    contract_no: str
    payee_name: str
    payee_bank: str
    payee_account: str
    purpose: str
    amount: Decimal
    due_amount: Decimal
    request_date: date
    expected_pay_date: date
    status: PaymentStatus
    status_name: str
    applicant: str
    approved_date: date | None
    paid_date: date | None
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.request_no


@dataclass(frozen=True, slots=True)
class Receipt:
    """业主收款: money the owner paid into the contractor's account under the income contract."""

    receipt_no: str
    project_code: str
    contract_no: str
    payer_name: str
    receipt_type: ReceiptType
    receipt_type_name: str
    amount: Decimal  # 价税合计 received
    invoice_no: str | None  # the sales invoice a progress payment settles
    receipt_date: date  # the bank's date
    bank_name: str  # our bank (收款账户开户行)
    bank_account: str  # our account number
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.receipt_no


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line of an invoice; the header sums its amounts and its per-line rounded taxes."""

    item_name: str
    spec: str
    unit: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    """A VAT invoice received (进项) or issued (销项): 专票 or 普票, paper (8 digits) or 数电 (20)."""

    invoice_no: str
    invoice_code: str | None
    direction: InvoiceDirection
    invoice_type: InvoiceType
    invoice_type_name: str
    issue_date: date
    project_code: str
    seller_name: str
    seller_tax_id: str
    buyer_name: str
    buyer_tax_id: str
    amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    contract_no: str | None
    period: str
    certified: bool  # 勾选认证 done (received 专票 only)
    lines: tuple[InvoiceLine, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.invoice_no


@dataclass(frozen=True, slots=True)
class OpeningBalance:
    """期初余额: where a contract running on the go-live day stood the evening before.

    Cumulative to the day before `go_live_date` (the data window's first day), tax-exclusive
    unless noted: the income contract carries progress, revenue, billing (计量, before retention),
    retention, receipts (价税合计) and the project's prepaid-VAT carry (≤ 0); a supplier contract
    its cost, invoices received and payments (价税合计). A figure that does not apply is 0.
    """

    opening_id: str  # QC-<contract_no>
    project_code: str
    contract_no: str
    contract_kind: ContractKind
    contract_type_name: str
    counterparty_name: str
    go_live_date: date
    percent_complete: Decimal | None  # 开累完工百分比 (income contract), 0–100
    cost_to_date: Decimal
    revenue_to_date: Decimal
    estimated_total_cost: Decimal | None  # 预计总成本 = 目标成本 (income contract)
    billed_to_date: Decimal
    retention_to_date: Decimal
    received_to_date: Decimal
    invoiced_to_date: Decimal
    paid_to_date: Decimal
    prepaid_vat_carry: Decimal
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.opening_id


@dataclass(frozen=True, slots=True)
class Worker:
    """A site worker under the real-name system (实名制): ID number, own bank card, team, day rate."""

    worker_id: str
    project_code: str
    name: str
    id_number: str
    gender: str
    birth_date: date
    phone: str
    bank_card: str
    bank_name: str
    team_name: str
    trade: str
    employer_name: str
    employer_tax_id: str
    day_rate: Decimal
    entry_date: date
    exit_date: date | None
    registered: bool
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.worker_id


@dataclass(frozen=True, slots=True)
class Attendance:
    """One worker's day on site from the gate (考勤): 1 or 0.5 工日, overtime, clock-in and -out."""

    attendance_id: str
    project_code: str
    worker_id: str
    worker_name: str
    id_number: str
    team_name: str
    work_date: date
    days: Decimal
    overtime_hours: Decimal
    check_in: str  # "07:02:15", China time; text because JSON has no time type
    check_out: str
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.attendance_id


@dataclass(frozen=True, slots=True)
class Defect:
    """A row made bad on purpose (`bad_rate`): which entity and key, which field, what is wrong."""

    entity: str
    key: str
    field: str
    kind: str
    detail: str

"""Canonical business documents that staged records validate into.

A connector maps its system's field names onto these models; validation here is the same for every
source (REST pull, webhook, file import, site agent). Each problem becomes an `Issue` naming the
field and the offending value, in Chinese first and English second, so that a bad row can be
reported precisely while the good rows proceed. Money and quantities are `Decimal`, never float.
At the way in (`validate`), codes and keys are NFKC-normalised and refused when they hide an
invisible or control character, and business dates must fall in a `DateWindow`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from yecai.domain.identifiers import boq_code_valid, id_number_problem, luhn_valid, uscc_problem
from yecai.domain.money import CENT, LIMIT, MoneyError, parse_decimal, round_money
from yecai.domain.text import clean_code

# The business dates a document may carry unless configured otherwise (Settings.business_dates):
# from 2000 (no construction ledger yecai meets goes further back) to two years ahead of today.
FIRST_BUSINESS_DATE = dt.date(2000, 1, 1)
YEARS_AHEAD = 2

# Invoices round tax per line; the header tax may differ from amount × rate by a few cents.
INVOICE_TAX_TOLERANCE = Decimal("0.05")


class CostCategory(StrEnum):
    """Cost elements of a construction contract (合同履约成本 sub-ledgers)."""

    LABOUR = "labour"
    MATERIAL = "material"
    MACHINERY = "machinery"
    SUBCONTRACT = "subcontract"
    OTHER_DIRECT = "other_direct"
    INDIRECT = "indirect"


CATEGORY_NAMES_ZH: dict[CostCategory, str] = {
    CostCategory.LABOUR: "人工费",
    CostCategory.MATERIAL: "材料费",
    CostCategory.MACHINERY: "机械使用费",
    CostCategory.SUBCONTRACT: "分包成本",
    CostCategory.OTHER_DIRECT: "其他直接费",
    CostCategory.INDIRECT: "间接费用",
}


class AccountingStandard(StrEnum):
    CAS = "cas"  # 企业会计准则 (CAS 14: 合同履约成本 / 合同结算)
    SMALL = "small"  # 小企业会计准则 (工程施工 / 工程结算)


class BoqEdition(StrEnum):
    GB50500_2013 = "GB50500-2013"
    GBT50500_2024 = "GB/T50500-2024"  # from 2025-09-01


class ContractKind(StrEnum):
    INCOME = "income"  # 施工总承包/收入合同 with the owner
    SUBCONTRACT = "subcontract"  # 专业分包 (and 劳务分包 where the source does not tell them apart)
    LABOUR = "labour"  # 劳务分包: its payable is 应付劳务款, paid from the 农民工工资专户
    PURCHASE = "purchase"  # 材料采购
    LEASE = "lease"  # 机械/周转材料租赁


class VatMethod(StrEnum):
    """How a project's construction service is taxed (财税〔2016〕36号 附件2)."""

    GENERAL = "general"  # 一般计税: 9 % output VAT, input VAT deductible
    SIMPLE = "simple"  # 简易计税: 3 % 征收率 (清包工, 甲供, 老项目); input VAT not deductible


class InvoiceDirection(StrEnum):
    IN = "in"  # 进项 (received)
    OUT = "out"  # 销项 (issued)


class InvoiceType(StrEnum):
    SPECIAL = "special"  # 增值税专用发票: input VAT deductible
    ORDINARY = "ordinary"  # 增值税普通发票: VAT goes into cost


class ReceiptKind(StrEnum):
    """What an owner's payment settles (收款性质)."""

    PROGRESS = "progress"  # 进度款: against what valuations billed (应收账款)
    RETENTION = "retention"  # 质保金: the retention, once due
    ADVANCE = "advance"  # 预收款: before any work is billed (合同负债)


class PaymentStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation problem: which field, which value, what is wrong (中文 / English)."""

    field: str
    value: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


def _problem(field: str, value: object, zh: str, en: str) -> PydanticCustomError:
    return PydanticCustomError(
        "yecai",
        "{en}",
        {"field": field, "value": str(value), "zh": f"字段 {field}：{zh}", "en": f"field {field}: {en}"},
    )


def _id_number(value: str) -> str:
    """A 身份证号码 checked and upper-cased (a final x is X): one rule for the worker register and
    for every attendance day, so a day always names its worker exactly as the register does."""
    value = value.upper()
    if problem := id_number_problem(value):
        raise _problem("id_number", value, "身份证号码无效", problem)
    return value


def _decimal(value: object, info: ValidationInfo) -> Decimal:
    if type(value) is Decimal and value.is_finite() and -LIMIT < value < LIMIT:
        return value  # what `parse_decimal` returns for it (a file row's numbers arrive as these)
    field = info.field_name or "value"
    try:
        return parse_decimal(value, field=field)
    except MoneyError as exc:
        raise PydanticCustomError("yecai", "{en}", {"field": field, "zh": exc.zh, "en": exc.en}) from None


def _optional_decimal(value: object, info: ValidationInfo) -> Decimal | None:
    if type(value) is Decimal and value.is_finite() and -LIMIT < value < LIMIT:
        return value  # as `_decimal` returns it
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _decimal(value, info)


def _money(value: object, info: ValidationInfo) -> Decimal:
    amount = _decimal(value, info)
    if amount != amount.quantize(CENT):  # `is_money(amount)`, inline: once per amount of every row
        field = info.field_name or "amount"
        raise _problem(
            field, amount, f"金额 {amount} 超过两位小数", f"{amount} has more than two decimal places"
        )
    return amount


def _optional_money(value: object, info: ValidationInfo) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _money(value, info)


def _rate(value: object, info: ValidationInfo) -> Decimal | None:
    rate = _optional_decimal(value, info)
    if rate is not None and not (Decimal(0) <= rate < 1):
        field = info.field_name or "rate"
        raise _problem(field, rate, f"税率 {rate} 不在 0 到 1 之间", f"{rate} is not between 0 and 1")
    return rate


def _code(value: object, info: ValidationInfo) -> object:
    # One rule for every way in (file, REST, webhook): NFKC, so ＸＭ２０２６００１ is XM2026001, and no
    # invisible or control character, so XM2026001 followed by U+200B is refused, not a new project.
    context = info.context  # `_way_in(info)`, inline: twice per row of every file
    if not isinstance(value, str) or not (isinstance(context, dict) and "business_dates" in context):
        # not text: pydantic says "must be text"; a stored document re-read by the pipeline keeps
        # the key it was stored under (refusing it now would stop planning, not protect anyone)
        return value
    try:
        return clean_code(value)
    except ValueError as exc:
        field = info.field_name or "code"
        raise _problem(
            field,
            value.encode("unicode_escape").decode("ascii"),
            f"含不可见字符或控制字符 {exc}，请删去后重新提交",
            f"contains the invisible or control character {exc}; remove it and send again",
        ) from None


def _way_in(info: ValidationInfo) -> bool:
    """True while `validate` checks something coming in (it passes a context; re-reads do not)."""
    return isinstance(info.context, dict) and "business_dates" in info.context


def _optional_code(value: object, info: ValidationInfo) -> object:
    value = _text_or_none(value)
    return None if value is None else _code(value, info)


def _text_or_none(value: object) -> object:
    # Spreadsheets and forms send "" for an empty optional cell.
    return None if isinstance(value, str) and not value.strip() else value


Amount = Annotated[Decimal, BeforeValidator(_decimal)]
OptionalAmount = Annotated[Decimal | None, BeforeValidator(_optional_decimal)]
Money = Annotated[Decimal, BeforeValidator(_money)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(_optional_money)]


def _money_or_zero(value: object, info: ValidationInfo) -> Decimal:
    amount = _optional_money(value, info)
    return Decimal("0.00") if amount is None else amount


# A cumulative figure a source leaves blank (null, an empty cell) where it does not apply: zero.
MoneyOrZero = Annotated[Decimal, BeforeValidator(_money_or_zero)]
Rate = Annotated[Decimal | None, BeforeValidator(_rate)]
OptionalText = Annotated[str | None, BeforeValidator(_text_or_none)]
OptionalDate = Annotated[dt.date | None, BeforeValidator(_text_or_none)]
Code = Annotated[str, BeforeValidator(_code), Field(min_length=1, max_length=80)]
OptionalCode = Annotated[Annotated[str, Field(max_length=80)] | None, BeforeValidator(_optional_code)]


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The business dates accepted at the way in, both ends included."""

    first: dt.date
    last: dt.date

    @classmethod
    def around(
        cls,
        today: dt.date | None = None,
        *,
        first: dt.date = FIRST_BUSINESS_DATE,
        years_ahead: int = YEARS_AHEAD,
    ) -> DateWindow:
        day = today or dt.date.today()
        try:
            last = day.replace(year=day.year + years_ahead)
        except ValueError:  # 29 February into a year without one
            last = day.replace(year=day.year + years_ahead, day=28)
        return cls(first, last)

    def problem(self, field: str, day: dt.date) -> PydanticCustomError | None:
        if self.first <= day <= self.last:
            return None
        return _problem(
            field,
            day.isoformat(),
            f"业务日期 {day} 超出允许范围 {self.first} 至 {self.last}",
            f"business date {day} is outside the accepted range {self.first} .. {self.last}"
            " (YECAI_BUSINESS_DATE_MIN / YECAI_BUSINESS_DATE_MAX)",
        )


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    kind: ClassVar[str] = "document"
    key_field: ClassVar[str] = "source_key"
    # the dates a business event happened on: checked against the window when a document comes in
    business_dates: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _within_window(self, info: ValidationInfo) -> _Document:
        # Only `validate` (the way in) passes a window: a stored document re-read years later, or
        # after the window was narrowed, must still load.
        window = info.context.get("business_dates") if _way_in(info) else None
        if isinstance(window, DateWindow):
            for name in self.business_dates:
                day = getattr(self, name)
                # (the window's own test first, inline: once per row of a file)
                if (
                    day is not None
                    and not (window.first <= day <= window.last)
                    and (problem := window.problem(name, day))
                ):
                    raise problem
        return self

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))

    def warnings(self) -> list[Issue]:
        """Doubts that do not stop the document (e.g. a card number failing Luhn)."""
        return []


def _nonzero(amount: Decimal, field: str) -> None:
    if amount == 0:
        raise _problem(field, amount, "金额为零，无需记账", "amount is zero, nothing to post")


def _check_product(quantity: Decimal | None, price: Decimal | None, amount: Decimal, what: str) -> None:
    if quantity is None or price is None:
        return
    expected = round_money(quantity * price)
    # One cent of tolerance: exports round quantity and price separately.
    if abs(expected - amount) > CENT:  # (Decimal("0.01"), built once)
        raise _problem(
            "amount",
            amount,
            f"{what} {amount} 与 数量×单价 {expected} 不符",
            f"{amount} differs from quantity × unit price {expected}",
        )


def _check_period(start: dt.date | None, end: dt.date | None, start_field: str, end_field: str) -> None:
    if start and end and end < start:
        raise _problem(
            end_field,
            end,
            f"结束日期 {end} 早于 {start_field} {start}",
            f"{end} is before {start_field} {start}",
        )


class Project(_Document):
    """A construction project (工程项目) as the PM system knows it."""

    kind: ClassVar[str] = "project"
    key_field: ClassVar[str] = "code"

    code: Code
    name: str = Field(min_length=1)
    org_code: OptionalText = None  # 核算组织 / 分公司
    department: OptionalText = None  # 项目部 / cost centre
    manager: OptionalText = None
    customer: OptionalText = None
    location: OptionalText = None
    contract_value: OptionalMoney = None
    accounting_standard: AccountingStandard = AccountingStandard.CAS
    vat_method: VatMethod | None = None  # None: the mapping table's row or its default
    cross_region: bool | None = None  # 跨县(市、区) of the company's seat: VAT prepaid at the location
    boq_edition: BoqEdition | None = None
    start_date: OptionalDate = None
    end_date: OptionalDate = None
    status: OptionalText = None

    @model_validator(mode="after")
    def _dates(self) -> Project:
        _check_period(self.start_date, self.end_date, "start_date", "end_date")
        return self


class BoqItem(_Document):
    """One 工程量清单 item (GB 50500): 12-digit code, quantity and 综合单价."""

    kind: ClassVar[str] = "boq_item"

    source_key: Code
    project_code: Code
    code: Code
    name: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    quantity: Amount
    unit_price: Amount  # 综合单价 (labour + material + machinery + management fee + profit)
    amount: Money
    features: OptionalText = None  # 项目特征描述
    edition: BoqEdition | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not boq_code_valid(value):
            raise _problem(
                "code",
                value,
                "清单编码应为 12 位数字（或补充编码如 01B001）",
                "must be 12 digits (or a supplementary code like 01B001)",
            )
        return value

    @model_validator(mode="after")
    def _product(self) -> BoqItem:
        _check_product(self.quantity, self.unit_price, self.amount, "合价")
        return self


class BudgetLine(_Document):
    """Target cost (目标成本/预算) of one project by cost category, optionally per BOQ item."""

    kind: ClassVar[str] = "budget_line"

    source_key: Code
    project_code: Code
    category: CostCategory
    amount: Money
    boq_code: OptionalCode = None
    version: OptionalText = None  # 预算版本 (original / 调整1 …)
    description: str = ""


class Contract(_Document):
    """A contract: income (with the owner), subcontract, purchase or lease."""

    kind: ClassVar[str] = "contract"
    business_dates: ClassVar[tuple[str, ...]] = ("signed_date",)
    key_field: ClassVar[str] = "contract_no"

    contract_no: Code
    project_code: Code
    contract_kind: ContractKind
    name: str = Field(min_length=1)
    counterparty: str = Field(min_length=1)
    counterparty_tax_id: OptionalText = None
    amount: Money  # 含税合同额
    tax_rate: Rate = None
    retention_rate: Rate = None  # 质保金比例 (≤ 3 % by 建质〔2017〕138号)
    signed_date: OptionalDate = None
    start_date: OptionalDate = None
    end_date: OptionalDate = None

    @field_validator("counterparty_tax_id")
    @classmethod
    def _tax_id(cls, value: str | None) -> str | None:
        if value is not None and (problem := uscc_problem(value)):
            raise _problem("counterparty_tax_id", value, "统一社会信用代码无效", problem)
        return value

    @model_validator(mode="after")
    def _dates(self) -> Contract:
        _check_period(self.start_date, self.end_date, "start_date", "end_date")
        return self


class CostRecord(_Document):
    """One actual cost (实际成本) booked against a project: labour, material, machinery, …"""

    kind: ClassVar[str] = "cost_record"
    business_dates: ClassVar[tuple[str, ...]] = ("business_date",)

    source_key: Code
    project_code: Code
    category: CostCategory
    business_date: dt.date
    description: str = ""
    quantity: OptionalAmount = None
    unit: OptionalText = None
    unit_price: OptionalAmount = None
    amount: Money  # excluding VAT
    tax_rate: Rate = None
    supplier_name: OptionalText = None
    contract_no: OptionalText = None
    invoice_no: OptionalText = None  # the invoice this cost is backed by, when known
    # 费用明细 (e.g. 项目管理人员薪酬, 临时设施摊销, 施工用电): decides the credit of other/indirect costs
    subcategory: OptionalText = None

    @model_validator(mode="after")
    def _check_amounts(self) -> CostRecord:
        _nonzero(self.amount, "amount")
        _check_product(self.quantity, self.unit_price, self.amount, "金额")
        return self


class MeasuredQuantity(BaseModel):
    """One BOQ item measured in a progress report (计量)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    boq_code: Code
    quantity: Amount


class ProgressReport(_Document):
    """Progress of a project in a period: percent complete and the owner valuation (计量)."""

    kind: ClassVar[str] = "progress_report"
    business_dates: ClassVar[tuple[str, ...]] = ("report_date",)

    source_key: Code
    project_code: Code
    period: str  # YYYY-MM
    report_date: dt.date
    percent_complete: Amount  # 0–100, cumulative
    valuation_amount: OptionalMoney = None  # 本期计量金额 (ex-VAT)
    approved: bool = False  # confirmed by the owner / supervisor
    measured: tuple[MeasuredQuantity, ...] = ()

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        try:
            dt.date.fromisoformat(value + "-01")
        except ValueError:
            raise _problem("period", value, "期间应为 YYYY-MM", "must be YYYY-MM") from None
        return value

    @field_validator("percent_complete")
    @classmethod
    def _percent(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(100):
            raise _problem(
                "percent_complete", value, "完工百分比应在 0 到 100 之间", "must be between 0 and 100"
            )
        return value


class PaymentRequest(_Document):
    """A payment request (付款申请) to a supplier or subcontractor; becomes CN_PAYAPPLY."""

    kind: ClassVar[str] = "payment_request"
    business_dates: ClassVar[tuple[str, ...]] = ("request_date",)
    key_field: ClassVar[str] = "request_no"

    request_no: Code
    project_code: Code
    contract_no: OptionalText = None
    payee_name: str = Field(min_length=1)
    payee_account: OptionalText = None
    payee_bank: OptionalText = None
    amount: Money
    purpose: str = ""  # 付款用途 (进度款, 材料款, 劳务费 …)
    request_date: dt.date
    expected_pay_date: OptionalDate = None
    paid_date: OptionalDate = None  # the bank's date of the payment (the books' date when paid)
    status: PaymentStatus = PaymentStatus.SUBMITTED

    @model_validator(mode="after")
    def _check(self) -> PaymentRequest:
        if self.amount <= 0:
            raise _problem("amount", self.amount, "申请付款金额必须大于零", "must be greater than zero")
        _check_period(self.request_date, self.expected_pay_date, "request_date", "expected_pay_date")
        _check_period(self.request_date, self.paid_date, "request_date", "paid_date")
        return self


class Invoice(_Document):
    """A VAT invoice received (进项) or issued (销项): 专票 or 普票."""

    kind: ClassVar[str] = "invoice"
    business_dates: ClassVar[tuple[str, ...]] = ("issue_date",)
    key_field: ClassVar[str] = "invoice_no"

    invoice_no: Code  # 8 digits (paper) or 20 digits (全电/数电)
    invoice_code: OptionalText = None  # 10 or 12 digits on paper invoices
    direction: InvoiceDirection
    invoice_type: InvoiceType
    issue_date: dt.date
    project_code: OptionalCode = None
    seller_name: str = Field(min_length=1)
    seller_tax_id: OptionalText = None
    buyer_name: str = Field(min_length=1)
    buyer_tax_id: OptionalText = None
    amount: Money  # 金额 (ex-VAT)
    tax_rate: Rate = None
    tax_amount: Money  # 税额
    total: Money  # 价税合计
    contract_no: OptionalText = None

    @field_validator("invoice_no")
    @classmethod
    def _number(cls, value: str) -> str:
        if not (value.isdigit() and len(value) in (8, 20)):
            raise _problem("invoice_no", value, "发票号码应为 8 位或 20 位数字", "must be 8 or 20 digits")
        return value

    @field_validator("seller_tax_id", "buyer_tax_id")
    @classmethod
    def _tax_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (problem := uscc_problem(value)):
            raise _problem(info.field_name or "tax_id", value, "统一社会信用代码无效", problem)
        return value

    @model_validator(mode="after")
    def _sums(self) -> Invoice:
        if self.amount + self.tax_amount != self.total:
            raise _problem(
                "total",
                self.total,
                f"价税合计 {self.total} 不等于 金额 {self.amount} + 税额 {self.tax_amount}",
                f"{self.total} is not amount {self.amount} + tax {self.tax_amount}",
            )
        if self.tax_rate is not None:
            expected = round_money(self.amount * self.tax_rate)
            if abs(expected - self.tax_amount) > INVOICE_TAX_TOLERANCE:
                raise _problem(
                    "tax_amount",
                    self.tax_amount,
                    f"税额 {self.tax_amount} 与 金额×税率 {expected} 相差超过 {INVOICE_TAX_TOLERANCE}",
                    f"{self.tax_amount} differs from amount × rate {expected} by more than {INVOICE_TAX_TOLERANCE}",
                )
        return self

    @property
    def deductible_tax(self) -> Decimal:
        """Input VAT that may be deducted: a received 专票's tax; otherwise none (it goes into cost)."""
        if self.direction is InvoiceDirection.IN and self.invoice_type is InvoiceType.SPECIAL:
            return self.tax_amount
        return Decimal("0.00")


class Receipt(_Document):
    """A payment received from the owner (业主收款): progress payment, retention or advance."""

    kind: ClassVar[str] = "receipt"
    business_dates: ClassVar[tuple[str, ...]] = ("receipt_date",)
    key_field: ClassVar[str] = "receipt_no"

    receipt_no: Code
    project_code: Code
    contract_no: OptionalCode = None  # the income contract paid under, when the PM system knows it
    payer: str = Field(min_length=1)  # the customer (业主) who paid
    receipt_date: dt.date  # the bank's date of the receipt: the books' date
    amount: Money  # 价税合计 received
    receipt_kind: ReceiptKind = ReceiptKind.PROGRESS
    bank_account: OptionalText = None  # our account the money came into (基本户 …)

    @model_validator(mode="after")
    def _check(self) -> Receipt:
        if self.amount <= 0:
            raise _problem("amount", self.amount, "收款金额必须大于零", "must be greater than zero")
        return self


class OpeningBalance(_Document):
    """Where a contract stood at go-live (期初): the history every rule that builds on earlier
    periods needs — cumulative cost and revenue, billing, retention, receipts, payables and the
    prepaid-VAT carry — for contracts already running when yecai starts posting. Amounts are the
    cumulative figures up to the day before `as_of`; each stays 0 where it does not apply
    (an income contract has no `invoiced_to_date`, a supplier contract no `billed_to_date`)."""

    kind: ClassVar[str] = "opening_balance"
    business_dates: ClassVar[tuple[str, ...]] = ("as_of",)

    source_key: Code
    project_code: Code
    contract_no: OptionalCode = None  # None: the project's figures as a whole
    as_of: dt.date  # the go-live day: the figures are those at the end of the day before
    cost_to_date: MoneyOrZero = Decimal("0.00")  # 累计实际成本 (ex-VAT) booked to the contract
    revenue_to_date: MoneyOrZero = Decimal("0.00")  # 累计已确认收入 (ex-VAT)
    estimated_total_cost: OptionalMoney = None  # 预计总成本 at go-live (ex-VAT)
    billed_to_date: MoneyOrZero = Decimal("0.00")  # 累计业主计量/价款结算 (ex-VAT, before retention)
    retention_to_date: MoneyOrZero = Decimal("0.00")  # 累计扣留质保金 (ex-VAT) not yet due
    received_to_date: MoneyOrZero = Decimal("0.00")  # 累计收款 (价税合计) from the owner
    invoiced_to_date: MoneyOrZero = Decimal("0.00")  # 累计收到发票 (价税合计) of a supplier contract
    paid_to_date: MoneyOrZero = Decimal("0.00")  # 累计付款 of a supplier contract
    prepaid_vat_carry: MoneyOrZero = Decimal("0.00")  # 预缴增值税 base carried forward (≤ 0, tax-inclusive)

    @field_validator(
        "cost_to_date",
        "revenue_to_date",
        "estimated_total_cost",
        "billed_to_date",
        "retention_to_date",
        "received_to_date",
        "invoiced_to_date",
        "paid_to_date",
    )
    @classmethod
    def _not_negative(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        # Cumulative figures only grow from zero; a negative one is a sign or column mix-up.
        if value is not None and value < 0:
            field = info.field_name or "amount"
            raise _problem(
                field,
                value,
                f"累计金额 {value} 不能为负数",
                f"the cumulative amount {value} must not be negative",
            )
        return value

    @field_validator("prepaid_vat_carry")
    @classmethod
    def _carry(cls, value: Decimal) -> Decimal:
        # Only a negative base is carried forward (公告2016年第17号): a positive one was prepaid.
        if value > 0:
            raise _problem(
                "prepaid_vat_carry",
                value,
                f"预缴增值税结转基数 {value} 应为零或负数（正数已在当期预缴）",
                f"the prepaid-VAT base carried forward {value} must be ≤ 0 (a positive base was prepaid)",
            )
        return value

    @model_validator(mode="after")
    def _retention_within_billing(self) -> OpeningBalance:
        # 质保金 is withheld out of what was billed to the owner, never more.
        if self.retention_to_date > self.billed_to_date:
            raise _problem(
                "retention_to_date",
                self.retention_to_date,
                f"累计扣留质保金 {self.retention_to_date} 大于累计结算 {self.billed_to_date}",
                f"retention_to_date {self.retention_to_date} exceeds billed_to_date {self.billed_to_date}",
            )
        return self


class Worker(_Document):
    """A worker registered under the real-name system (实名制): ID number and own bank card."""

    kind: ClassVar[str] = "worker"
    key_field: ClassVar[str] = "id_number"

    id_number: Code
    name: str = Field(min_length=1)
    project_code: OptionalCode = None
    team: OptionalText = None  # 班组
    employer: OptionalText = None  # 劳务分包单位 (the direct employer, §30 of 条例)
    trade: OptionalText = None  # 工种
    phone: OptionalText = None
    bank_card: OptionalText = None
    bank_name: OptionalText = None
    day_rate: OptionalMoney = None  # 日工资标准
    registered: bool = True  # real-name registration done before work (条例 §28)
    entry_date: OptionalDate = None
    exit_date: OptionalDate = None

    @field_validator("id_number")
    @classmethod
    def _id(cls, value: str) -> str:
        return _id_number(value)

    @field_validator("bank_card")
    @classmethod
    def _card(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.replace(" ", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 30:
            raise _problem("bank_card", value, "银行卡号应为 12 到 30 位数字", "must be 12 to 30 digits")
        return digits

    @model_validator(mode="after")
    def _dates(self) -> Worker:
        _check_period(self.entry_date, self.exit_date, "entry_date", "exit_date")
        return self

    def warnings(self) -> list[Issue]:
        out = []
        if self.bank_card and not luhn_valid(self.bank_card):
            out.append(
                Issue(
                    "bank_card",
                    self.bank_card,
                    "字段 bank_card：银行卡号未通过 Luhn 校验（存折或对公账户可能如此），请核对",
                    "field bank_card: the card number fails the Luhn check (passbooks and corporate accounts may); please verify",
                )
            )
        if not self.registered:
            out.append(
                Issue(
                    "registered",
                    "false",
                    "字段 registered：该工人尚未完成实名制登记，不得安排上岗",
                    "field registered: the worker is not registered under the real-name system and may not work",
                )
            )
        return out


class Attendance(_Document):
    """One worker's attendance on one day at one project (考勤)."""

    kind: ClassVar[str] = "attendance"
    business_dates: ClassVar[tuple[str, ...]] = ("work_date",)

    source_key: Code
    project_code: Code
    id_number: Code
    worker_name: OptionalText = None
    work_date: dt.date
    days: Amount = Decimal(1)  # 工日: 1, 0.5 …
    overtime_hours: Amount = Decimal(0)
    check_in: dt.time | None = None
    check_out: dt.time | None = None
    team: OptionalText = None

    @field_validator("id_number")
    @classmethod
    def _id(cls, value: str) -> str:
        return _id_number(value)

    @model_validator(mode="after")
    def _check(self) -> Attendance:
        if not Decimal(0) < self.days <= Decimal(1):
            raise _problem("days", self.days, "工日应大于 0 且不超过 1", "must be more than 0 and at most 1")
        if not Decimal(0) <= self.overtime_hours <= Decimal(12):
            raise _problem(
                "overtime_hours", self.overtime_hours, "加班小时应在 0 到 12 之间", "must be between 0 and 12"
            )
        if self.check_in and self.check_out and self.check_out <= self.check_in:
            raise _problem(
                "check_out",
                self.check_out,
                f"下班时间早于上班时间 {self.check_in}",
                f"is not after check_in {self.check_in}",
            )
        return self


DOCUMENT_TYPES: dict[str, type[_Document]] = {
    model.kind: model
    for model in (
        Project,
        BoqItem,
        BudgetLine,
        Contract,
        CostRecord,
        ProgressReport,
        PaymentRequest,
        Invoice,
        Receipt,
        OpeningBalance,
        Worker,
        Attendance,
    )
}

_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("缺少必填字段 {field}", "required field {field} is missing"),
    "date_from_datetime_parsing": (
        "字段 {field} 不是有效日期：{value}",
        "field {field} is not a valid date: {value}",
    ),
    "date_from_datetime_inexact": (
        "字段 {field} 不是有效日期：{value}",
        "field {field} is not a valid date: {value}",
    ),
    "date_parsing": ("字段 {field} 不是有效日期：{value}", "field {field} is not a valid date: {value}"),
    "date_type": ("字段 {field} 不是有效日期：{value}", "field {field} is not a valid date: {value}"),
    "time_parsing": ("字段 {field} 不是有效时间：{value}", "field {field} is not a valid time: {value}"),
    "time_type": ("字段 {field} 不是有效时间：{value}", "field {field} is not a valid time: {value}"),
    "enum": (
        "字段 {field} 的取值 {value} 不在允许范围内",
        "field {field} has a value {value} that is not allowed",
    ),
    "string_type": ("字段 {field} 应为文本：{value}", "field {field} must be text: {value}"),
    "string_too_short": ("字段 {field} 不能为空", "field {field} must not be empty"),
    "string_too_long": ("字段 {field} 过长：{value}", "field {field} is too long: {value}"),
    "bool_parsing": ("字段 {field} 应为是/否：{value}", "field {field} must be true or false: {value}"),
    "bool_type": ("字段 {field} 应为是/否：{value}", "field {field} must be true or false: {value}"),
}

DocumentT = TypeVar("DocumentT", bound=_Document)


def _issues(error: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for item in error.errors():
        ctx = item.get("ctx") or {}
        loc = ".".join(str(p) for p in item["loc"])
        field = str(ctx.get("field") or loc or "-")
        raw = item.get("input")
        value = str(ctx.get("value", "" if isinstance(raw, dict) else raw))
        if "zh" in ctx:
            issues.append(Issue(field, value, str(ctx["zh"]), str(ctx["en"])))
            continue
        zh, en = _MESSAGES.get(
            item["type"], ("字段 {field} 的值 {value} 无效", "field {field}: invalid value {value}")
        )
        issues.append(
            Issue(field, value, zh.format(field=field, value=value), en.format(field=field, value=value))
        )
    return issues


def validate(
    model: type[DocumentT], data: dict[str, Any], *, window: DateWindow | None = None
) -> tuple[DocumentT | None, list[Issue]]:
    """Validate `data` into `model`; returns the document or the list of issues (never both).

    This is the way in: business dates must fall in `window` (by default 2000-01-01 to two years
    ahead of today; the process setting is `Settings.business_dates()`).
    """
    context = {"business_dates": window or DateWindow.around()}
    try:
        # `model.model_validate(data, context=context)` without its wrapper: once per row of a file
        return model.__pydantic_validator__.validate_python(data, context=context), []
    except ValidationError as exc:
        return None, _issues(exc)

"""Owner valuations (业主计量/结算确认) → 记账凭证 (reference entries 10, 10b and 14).

An approved progress report's valuation (ex-VAT) is billed less the retention the income contract
keeps back (质保金, entry 14): Dr 应收账款 [客户][项目] (billed + VAT), Cr 合同结算—价款结算
[项目][客户] (billed, net), Cr 应交税费—应交增值税(销项税额) — or 应交税费—简易计税 for a project on
the simple method (3 % 征收率). When the sales invoice (销项发票) issued for the valuation is known,
its amount, tax and date are the books' (the invoice is the legal document the owner pays); a
valuation not invoiced yet is held (option `uninvoiced`) or posted with its VAT in 待转销项税额
(entry 10b). The retention stays unbilled inside 合同结算 until it falls due (`retention: unbilled`),
or is carried in 合同资产—质保金 (`retention: contract_asset`).

`contract_of`, `billing_of` and `customer_of` are shared with RETENTION, RECEIPT and REVENUE, so
every rule agrees on which contract bills a project, what each valuation billed and kept back,
and which customer the receivable belongs to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from yecai.domain.documents import Contract, Invoice, InvoiceDirection, ProgressReport, VatMethod
from yecai.domain.money import ZERO, round_money
from yecai.mapping.events import common
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "receivable": ("customer", "project"),  # 应收账款
    "settlement": ("project", "customer"),  # 合同结算—价款结算 (小企业: 工程结算)
    "output_vat": (),  # 应交税费—应交增值税(销项税额)
    "deferred_output_vat": (),  # 应交税费—待转销项税额
    "simple_vat": (),  # 应交税费—简易计税 (projects on the simple method)
    "contract_asset": ("project",),  # 合同资产(—质保金), retention: contract_asset
}


class OutputVat(StrEnum):
    OUTPUT = "output"  # the obligation arises now (invoice issued / 合同约定付款日)
    DEFERRED = "deferred"  # not yet: 待转销项税额, moved to 销项税额 when it arises


class Uninvoiced(StrEnum):
    """What happens to an approved valuation whose sales invoice is not known yet."""

    HOLD = "hold"  # wait for the invoice: its amount, tax and date are the books'
    DEFERRED = "deferred"  # post now, VAT at the rate into 待转销项税额 (entry 10b)
    OUTPUT = "output"  # post now, VAT at the rate straight to 销项税额 / 简易计税


class RetentionPractice(StrEnum):
    UNBILLED = "unbilled"  # the retention stays inside 合同结算 (→ 合同资产) until due (entry 14)
    CONTRACT_ASSET = "contract_asset"  # Dr 合同资产—质保金 at billing (alternative practice)


class BillingTerms(common.EventOptions):
    """How a valuation is billed: options VALUATION, RETENTION and RECEIPT must agree on."""

    default_vat_rate: Decimal = Field(Decimal("0.09"), description="建筑服务 9 % when the contract has none")
    default_retention_rate: Decimal = Field(Decimal("0"), description="when the income contract has none")
    simple_rate: Decimal = Field(Decimal("0.03"), description="简易计税 征收率 (财税〔2016〕36号)")
    invoice_days: int = Field(
        45, ge=0, le=366, description="a sales invoice belongs to a valuation issued this many days after it"
    )
    invoice_tolerance: Decimal = Field(
        Decimal("0.01"),
        ge=0,
        description="difference allowed between the invoice's amount and valuation − retention "
        "(the PM system may round the billed part as a whole, not the retention)",
    )


class ValuationOptions(BillingTerms):
    uninvoiced: Uninvoiced = Uninvoiced.HOLD
    retention: RetentionPractice = RetentionPractice.UNBILLED


@dataclass(frozen=True, slots=True)
class ValuationSplit:
    """A valuation's parts; billed + retention = valuation and billed + vat = receivable exactly."""

    valuation: Decimal
    retention: Decimal
    billed: Decimal
    vat: Decimal

    @property
    def receivable(self) -> Decimal:
        return self.billed + self.vat


def split_valuation(valuation: Decimal, retention_rate: Decimal, vat_rate: Decimal) -> ValuationSplit:
    """Retention = valuation × rate (rounded); billed = the rest; VAT on the billed part (rounded)."""
    retention = round_money(valuation * retention_rate)
    billed = valuation - retention
    return ValuationSplit(valuation, retention, billed, round_money(billed * vat_rate))


def contract_of(
    project: str, contracts: dict[str, list[Contract]]
) -> tuple[Contract | None, tuple[str, str] | None]:
    """The income contract that bills the project (a 补充协议 on the same terms bills through the
    main contract: the first signed, then the first by number), or the reason (中文, English) it
    cannot be chosen."""
    found = contracts.get(project, [])
    if not found:
        return None, None
    terms = {(c.counterparty, c.retention_rate, c.tax_rate) for c in found}
    if len(terms) > 1:
        numbers = ", ".join(c.contract_no for c in found)
        return None, (
            f"项目 {project} 有多份条款不同的收入合同（{numbers}），无法确定客户、质保金比例和税率",
            f"project {project} has several income contracts with different terms ({numbers}); "
            "customer, retention rate and VAT rate are ambiguous",
        )
    # A supplement is signed after the contract it supplements; its number may sort first.
    return min(found, key=lambda c: (c.signed_date or dt.date.max, c.contract_no)), None


def customer_of(resolver: common.Resolver, project: str) -> str | None:
    """The customer whose receivable a project's billing lands on: its income contract's
    counterparty, else the Project document's customer."""
    contract, _ = contract_of(project, common.income_contracts(resolver.ctx))
    if contract is not None:
        return contract.counterparty
    declared = resolver.project_document(project)
    return declared.customer if declared else None


def vat_rate_of(contract: Contract | None, method: VatMethod, terms: BillingTerms) -> Decimal:
    """The output VAT rate: the 3 % 征收率 on the simple method, else the contract's rate."""
    if method is VatMethod.SIMPLE:
        return terms.simple_rate
    if contract is not None and contract.tax_rate is not None:
        return contract.tax_rate
    return terms.default_vat_rate


def retention_rate_of(contract: Contract | None, terms: BillingTerms) -> Decimal:
    if contract is not None and contract.retention_rate is not None:
        return contract.retention_rate
    return terms.default_retention_rate


def vat_role_of(method: VatMethod) -> str:
    """The role output VAT is credited to once the obligation has arisen."""
    return "simple_vat" if method is VatMethod.SIMPLE else "output_vat"


@dataclass(frozen=True, slots=True)
class Billing:
    """What one approved valuation billed, as the books see it."""

    split: ValuationSplit
    date: dt.date  # the invoice's date, or the report's while not invoiced
    invoice: Invoice | None


def sales_invoice_of(
    report: ProgressReport,
    contract_numbers: Iterable[str],
    invoices: Iterable[Invoice],
    expected: ValuationSplit,
    terms: BillingTerms,
) -> Invoice | None:
    """The sales invoice issued for a valuation: same project (or one of its income contracts),
    issued on or up to `invoice_days` after the report, for the billed amount within
    `invoice_tolerance`; the earliest such invoice (then the lowest number)."""
    numbers = set(contract_numbers)
    last = report.report_date + dt.timedelta(days=terms.invoice_days)
    found = [
        invoice
        for invoice in invoices
        if invoice.direction is InvoiceDirection.OUT
        and (
            invoice.project_code == report.project_code
            or (invoice.project_code is None and invoice.contract_no in numbers)
        )
        and (invoice.contract_no is None or invoice.contract_no in numbers)
        and report.report_date <= invoice.issue_date <= last
        and abs(invoice.amount - expected.billed) <= terms.invoice_tolerance
    ]
    return min(found, key=lambda i: (i.issue_date, i.invoice_no), default=None)


def billing_of(
    report: ProgressReport,
    contract: Contract | None,
    contract_numbers: Iterable[str],
    invoices: Iterable[Invoice],
    method: VatMethod,
    terms: BillingTerms,
) -> Billing:
    """The valuation's split: from its sales invoice when one is known (the invoice's amount is
    the billed part, its tax the VAT, the rest of the valuation the retention), else computed."""
    assert report.valuation_amount is not None
    expected = split_valuation(
        report.valuation_amount, retention_rate_of(contract, terms), vat_rate_of(contract, method, terms)
    )
    invoice = sales_invoice_of(report, contract_numbers, invoices, expected, terms)
    if invoice is None:
        return Billing(expected, report.report_date, None)
    split = ValuationSplit(
        report.valuation_amount, report.valuation_amount - invoice.amount, invoice.amount, invoice.tax_amount
    )
    return Billing(split, invoice.issue_date, invoice)


def plan_valuations(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, ValuationOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = common.income_contracts(ctx)
    invoices = common.related_of(ctx, "invoice", Invoice)
    for document in sorted(documents, key=lambda d: d.source_key):
        report: ProgressReport = document.model
        if not common.selected(rules, report):
            continue
        if report.valuation_amount is None or report.valuation_amount == ZERO:
            continue  # a progress figure without a valuation: nothing to bill
        ids = (document.document_id,)
        if not report.approved:
            plan.held.append(
                Held(
                    ids,
                    f"计量 {report.source_key}（项目 {report.project_code}，{report.period}）尚未经业主/监理确认，暂不过账",
                    f"valuation {report.source_key} (project {report.project_code}, {report.period}) "
                    "is not approved by the owner/supervisor yet; held",
                )
            )
            continue
        contract, ambiguous = contract_of(report.project_code, contracts)
        if ambiguous:
            plan.held.append(Held(ids, *ambiguous))
            continue
        method = resolver.vat_method(report.project_code)
        numbers = [c.contract_no for c in contracts.get(report.project_code, [])]
        billing = billing_of(report, contract, numbers, invoices, method, options)
        split = billing.split
        customer_name = customer_of(resolver, report.project_code)

        standard = resolver.standard(report.project_code)
        values = {"project": report.project_code, "customer": customer_name}
        deferred = billing.invoice is None and options.uninvoiced is Uninvoiced.DEFERRED
        vat_role = "deferred_output_vat" if deferred else vat_role_of(method)
        asset = options.retention is RetentionPractice.CONTRACT_ASSET and split.retention != ZERO
        receivable = resolver.account("receivable", standard, ids)
        settlement = resolver.account("settlement", standard, ids)
        vat_account = resolver.account(vat_role, standard, ids)
        asset_account = resolver.account("contract_asset", standard, ids) if asset else None
        receivable_dims = resolver.role_dims("receivable", ids, **values)
        settlement_dims = resolver.role_dims("settlement", ids, **values)
        vat_dims = resolver.role_dims(vat_role, ids, **values)
        asset_dims = resolver.role_dims("contract_asset", ids, **values) if asset else ()
        if not resolver.ok(ids):
            continue  # unmapped values are reported even while the invoice is awaited
        if billing.invoice is None and options.uninvoiced is Uninvoiced.HOLD:
            plan.held.append(
                Held(
                    ids,
                    f"计量 {report.source_key}（项目 {report.project_code}，{report.period}）尚未开具销项发票，"
                    "待发票开出后按发票金额、税额和日期入账（options.uninvoiced）",
                    f"valuation {report.source_key} (project {report.project_code}, {report.period}) has no "
                    "sales invoice yet; it is booked with the invoice's amount, tax and date once issued "
                    "(options.uninvoiced)",
                )
            )
            continue
        assert receivable and settlement and vat_account
        assert receivable_dims is not None and settlement_dims is not None and vat_dims is not None
        entry = common.Entry()
        entry.dr(receivable, split.receivable, receivable_dims, ids)
        if asset:
            assert asset_account is not None and asset_dims is not None
            # Alternative practice: the retention is billed into 合同资产—质保金 at once; its VAT
            # arises only when it is received (公告2016年第69号), so no tax on it here.
            entry.dr(asset_account, split.retention, asset_dims, ids)
            entry.cr(settlement, split.valuation, settlement_dims, ids)
        else:
            entry.cr(settlement, split.billed, settlement_dims, ids)
        entry.cr(vat_account, split.vat, vat_dims, ids)

        group = f"doc|{report.source_key}"
        key = common.key_for(ctx, rules, group, [document])
        summary = common.summary_of(
            rules,
            ctx,
            report.project_code,
            billing.date,
            period=report.period,
            count=1,
            document_no=report.source_key,
            description=f"发票 {billing.invoice.invoice_no}" if billing.invoice else "",
            counterparty=customer_name or "",
            contract_no=contract.contract_no if contract else "",
            amount=f"{report.valuation_amount:.2f}",
        )
        plan.add(entry.voucher(key, group, billing.date, summary), group)
    plan.unmapped = resolver.unmapped()
    return plan


SPEC = common.EventSpec(
    Event.VALUATION,
    plan_valuations,
    "progress_report",
    ROLES,
    ("project", "contract", "invoice"),
    ValuationOptions,
)

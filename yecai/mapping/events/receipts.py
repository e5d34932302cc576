"""Owner receipts (业主收款) → 记账凭证 (reference entries 11, 11b and 14b).

Cash from the owner reduces what the valuations billed: Dr 银行存款 / Cr 应收账款 [客户][项目]
(entry 11). An advance before any work is billed is a 合同负债 [项目] (entry 11b). A retention
received also makes its VAT due (公告2016年第69号): the share booked in 待转销项税额 when the
retention fell due moves to 销项税额 — or to 简易计税 for a project on the simple method (entry 14b).
The customer is the one the receivable was booked to (the income contract's counterparty, shared
with VALUATION through `valuation.customer_of`), so the 应收账款 sub-ledger nets per customer and project.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from yecai.domain.documents import (
    Contract,
    Invoice,
    OpeningBalance,
    ProgressReport,
    Receipt,
    ReceiptKind,
    VatMethod,
)
from yecai.domain.money import split_tax
from yecai.mapping.events import common
from yecai.mapping.events.retention import project_income_contracts, retention_of
from yecai.mapping.events.valuation import BillingTerms, contract_of, customer_of, vat_rate_of, vat_role_of
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "bank": (),  # 银行存款—基本户
    "receivable": ("customer", "project"),  # 应收账款
    "contract_liability": ("project",),  # 合同负债 (advances, entry 11b)
    "deferred_output_vat": (),  # 应交税费—待转销项税额
    "output_vat": (),  # 应交税费—应交增值税(销项税额)
    "simple_vat": (),  # 应交税费—简易计税
}


class ReceiptOptions(BillingTerms):
    retention_vat: bool = Field(
        True,
        description="a retention received moves its VAT from 待转销项税额 to 销项税额/简易计税 "
        "(retention_due booked it there; 公告2016年第69号)",
    )
    bank_accounts: dict[str, str] = Field(
        default_factory=dict,
        description="the receipt's bank account number → the 银行存款 sub-account it posts to (else `bank`)",
    )


def plan_receipts(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, ReceiptOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = project_income_contracts(ctx)
    reports = common.related_of(ctx, "progress_report", ProgressReport)
    invoices = common.related_of(ctx, "invoice", Invoice)
    openings = common.related_of(ctx, "opening_balance", OpeningBalance)
    for document in sorted(documents, key=lambda d: d.source_key):
        receipt: Receipt = document.model
        if not common.selected(rules, receipt):
            continue
        ids = (document.document_id,)
        project = receipt.project_code
        contract, ambiguous = contract_of(project, contracts)
        if ambiguous and receipt.receipt_kind is ReceiptKind.RETENTION:
            plan.held.append(Held(ids, *ambiguous))  # the retention's VAT rate is unknown
            continue
        customer = customer_of(resolver, project) or receipt.payer
        standard = resolver.standard(project)
        values = {"project": project, "customer": customer}
        bank = options.bank_accounts.get(receipt.bank_account or "") or resolver.account(
            "bank", standard, ids
        )
        bank_dims = resolver.role_dims("bank", ids, **values)
        credit_role = "contract_liability" if receipt.receipt_kind is ReceiptKind.ADVANCE else "receivable"
        credit = resolver.account(credit_role, standard, ids)
        credit_dims = resolver.role_dims(credit_role, ids, **values)
        transfer = receipt.receipt_kind is ReceiptKind.RETENTION and options.retention_vat
        method = resolver.vat_method(project)
        vat_role = vat_role_of(method)
        deferred = resolver.account("deferred_output_vat", standard, ids) if transfer else None
        deferred_dims = resolver.role_dims("deferred_output_vat", ids, **values) if transfer else ()
        output = resolver.account(vat_role, standard, ids) if transfer else None
        output_dims = resolver.role_dims(vat_role, ids, **values) if transfer else ()
        if not resolver.ok(ids):
            continue
        assert bank and credit and bank_dims is not None and credit_dims is not None
        entry = common.Entry()
        entry.dr(bank, receipt.amount, bank_dims, ids)
        entry.cr(credit, receipt.amount, credit_dims, ids)
        if transfer:
            assert deferred and output and deferred_dims is not None and output_dims is not None
            vat = _retention_vat(receipt, contracts, reports, invoices, openings, method, options)
            entry.dr(deferred, vat, deferred_dims, ids)
            entry.cr(output, vat, output_dims, ids)
        group = f"doc|{receipt.receipt_no}"
        key = common.key_for(ctx, rules, group, [document])
        summary = common.summary_of(
            rules,
            ctx,
            project,
            receipt.receipt_date,
            count=1,
            document_no=receipt.receipt_no,
            counterparty=customer,
            contract_no=receipt.contract_no or (contract.contract_no if contract else ""),
            amount=f"{receipt.amount:.2f}",
        )
        plan.add(entry.voucher(key, group, receipt.receipt_date, summary), group)
    plan.unmapped = resolver.unmapped()
    return plan


def _retention_vat(
    receipt: Receipt,
    contracts: dict[str, list[Contract]],
    reports: Sequence[ProgressReport],
    invoices: Sequence[Invoice],
    openings: Sequence[OpeningBalance],
    method: VatMethod,
    options: ReceiptOptions,
) -> Decimal:
    """The VAT share of a retention receipt: exactly what was booked when due when the whole
    retention comes in; a part carries its own share (split of the gross, adding back to it)."""
    project_contracts = contracts.get(receipt.project_code, [])
    retention, vat = retention_of(
        receipt.project_code, project_contracts, reports, invoices, openings, method, options
    )
    if receipt.amount == retention + vat:
        return vat
    rate = vat_rate_of(project_contracts[0] if project_contracts else None, method, options)
    return split_tax(receipt.amount, rate)[1]


SPEC = common.EventSpec(
    Event.RECEIPT,
    plan_receipts,
    "receipt",
    ROLES,
    ("project", "contract", "progress_report", "invoice", "opening_balance"),
    ReceiptOptions,
)

"""Prepaid VAT at the project's location (跨区域预缴增值税, reference entry 12 and §2.2).

Only a project outside the county of the company's seat (跨县(市、区), `Resolver.cross_region`)
prepays; a local project's VAT is declared at the seat. Per project and period: general method
(received − subcontract paid) ÷ (1 + 9 %) × 2 %, simple method ÷ (1 + 3 %) × 3 % (公告2016年第17号;
the method is the project's, `Resolver.vat_method`). "Received" is the 价税合计 of the invoices
issued for the project (the VAT obligation arises with them) and "subcontract paid" that of the
专业/劳务分包 invoices received. A negative base is carried forward: the period's invoices roll into
the project's next period instead of being posted (they stay unbound); the carry from before go-live
is the project's `OpeningBalance.prepaid_vat_carry`, used until the project's first prepayment.
Dr 应交税费—预交增值税 [项目] (or —简易计税) / Cr 银行存款.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import Field

from yecai.domain.documents import ContractKind, Invoice, InvoiceDirection, VatMethod
from yecai.domain.money import ZERO, money_sum, round_money
from yecai.mapping.events import common
from yecai.mapping.events.revenue import opening_rows
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "prepaid_vat": ("project",),  # 应交税费—预交增值税 (general method)
    "simple_vat": (),  # 应交税费—简易计税 (simple method)
    "bank": (),  # 银行存款
}

CARRY_KEY = "prepaid_vat_carry"  # ctx.history: project → negative base carried in (overrides the opening)
POSTED_KEY = "prepaid_vat_posted"  # ctx.history: project codes with a prepayment posted (carry used up)


class PrepaidVatOptions(common.EventOptions):
    method: VatMethod | None = Field(
        None, description="every project's method; None: the project's (mapping row, Project, default)"
    )
    project_methods: dict[str, VatMethod] = Field(default_factory=dict, description="project code → method")
    general_rate: Decimal = Field(Decimal("0.09"), description="建筑服务 VAT rate (was 11 %, then 10 %)")
    general_prepay_rate: Decimal = Decimal("0.02")
    simple_rate: Decimal = Decimal("0.03")
    simple_prepay_rate: Decimal = Decimal("0.03")
    deduct_contract_kinds: tuple[ContractKind, ...] = (ContractKind.SUBCONTRACT, ContractKind.LABOUR)


@dataclass(frozen=True, slots=True)
class PrepaidVat:
    base: Decimal  # received − subcontract paid (+ carried in), tax-inclusive
    tax: Decimal  # 0 when the base is not positive


def prepaid_vat(
    received: Decimal, deducted: Decimal, method: VatMethod, options: PrepaidVatOptions
) -> PrepaidVat:
    """The prepayment on a tax-inclusive base, ROUND_HALF_UP; nothing on a base ≤ 0."""
    base = received - deducted
    if base <= ZERO:
        return PrepaidVat(base, ZERO)
    if method is VatMethod.SIMPLE:
        tax = base / (1 + options.simple_rate) * options.simple_prepay_rate
    else:
        tax = base / (1 + options.general_rate) * options.general_prepay_rate
    return PrepaidVat(base, round_money(tax))


def plan_prepaid_vat(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, PrepaidVatOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = common.contracts_by_number(ctx)
    carry_in = ctx.history.get(CARRY_KEY, {})
    posted = set(ctx.history.get(POSTED_KEY, ()))
    # project → period → (documents, received, deducted)
    found: dict[str, dict[str, list[tuple[PlannableDocument, Decimal, Decimal]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for document in documents:
        invoice: Invoice = document.model
        if not common.selected(rules, invoice):
            continue
        contract = contracts.get(invoice.contract_no or "")
        project = invoice.project_code or (contract.project_code if contract else None)
        if not project or not resolver.cross_region(project):
            # A local project's VAT is declared at the company's seat: nothing is prepaid here.
            continue
        if invoice.direction is InvoiceDirection.OUT:
            found[project][common.period_of(invoice.issue_date)].append((document, invoice.total, ZERO))
        elif contract is not None and contract.contract_kind in options.deduct_contract_kinds:
            found[project][common.period_of(invoice.issue_date)].append((document, ZERO, invoice.total))

    for project in sorted(found):
        method = options.project_methods.get(project) or options.method or resolver.vat_method(project)
        role = "simple_vat" if method is VatMethod.SIMPLE else "prepaid_vat"
        # The base carried from before go-live counts until the first prepayment uses it up: a
        # period that stays negative posts nothing, so its documents bring the carry again next run.
        carried = ZERO
        if project not in posted:
            carried = (
                Decimal(str(carry_in[project]))
                if project in carry_in
                else money_sum(
                    o.prepaid_vat_carry
                    for o in opening_rows(ctx, project, income_only=False, contracts=contracts)
                )
            )
        pending: list[PlannableDocument] = []
        for period in sorted(found[project]):
            rows = found[project][period]
            pending.extend(r[0] for r in rows)
            received = sum((r[1] for r in rows), ZERO)
            deducted = sum((r[2] for r in rows), ZERO) - carried
            figures = prepaid_vat(received, deducted, method, options)
            if figures.tax == ZERO:
                # A negative base (or one too small to give a cent) is carried into the next
                # period together with its documents.
                carried = figures.base
                continue
            carried = ZERO
            members = sorted(pending, key=lambda d: d.source_key)
            pending = []
            ids = tuple(d.document_id for d in members)
            standard = resolver.standard(project)
            debit = resolver.account(role, standard, ids)
            debit_dims = resolver.role_dims(role, ids, project=project)
            bank = resolver.account("bank", standard, ids)
            bank_dims = resolver.role_dims("bank", ids, project=project)
            if not resolver.ok(ids):
                continue
            assert debit and bank and debit_dims is not None and bank_dims is not None
            entry = common.Entry()
            entry.dr(debit, figures.tax, debit_dims, ids)
            entry.cr(bank, figures.tax, bank_dims, ids)
            described = "简易计税" if method is VatMethod.SIMPLE else "一般计税"
            voucher = common.period_voucher(resolver, entry, project, period, members, figures.tax, described)
            if voucher is not None:
                plan.postings.append(voucher)
        if pending:
            # The last periods' base is not positive yet: nothing to prepay, documents stay unbound.
            plan.zero_groups.append(f"{project}|{common.period_of(max(p.model.issue_date for p in pending))}")
    plan.unmapped = resolver.unmapped()
    return plan


SPEC = common.EventSpec(
    Event.PREPAID_VAT,
    plan_prepaid_vat,
    "invoice",
    ROLES,
    ("project", "contract", "opening_balance"),
    PrepaidVatOptions,
)

"""Received VAT invoices (进项发票) → 记账凭证 (reference entries 1, 1b, 3, 5, 6).

A 专票's tax is input VAT: Dr 应交税费—应交增值税(进项税额), or 待认证进项税额 until certified
(option `certification`). A 普票's tax is not deductible and goes into cost (合同履约成本—X).
By default (`mode: vat_only`) the cost rules have already booked the tax-exclusive cost against
应付账款, so the invoice moves only its tax: Dr 进项税额 (专票) or Dr cost (普票), Cr 应付账款 —
the payable then equals the invoice's 价税合计. `mode: full` books the whole invoice instead.
The payable is the one `common.payable_category` gives the invoice's contract — the account its
costs and payments use — and carries 项目 and 供应商. On a 简易计税 project a 专票's tax is not
deductible either (option `simple_method_into_cost`): it goes into cost like a 普票's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import StrEnum

from pydantic import Field

from yecai.domain.documents import (
    CATEGORY_NAMES_ZH,
    Contract,
    CostCategory,
    Invoice,
    InvoiceDirection,
    InvoiceType,
    VatMethod,
)
from yecai.mapping.events import common
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "input_vat": (),  # 应交税费—应交增值税(进项税额)
    "pending_input_vat": (),  # 应交税费—待认证进项税额
    "inventory": (),  # 原材料 (mode full, full_debit inventory)
}


class InvoiceMode(StrEnum):
    VAT_ONLY = "vat_only"  # the cost rules booked the net cost; the invoice adds its tax
    FULL = "full"  # the invoice books cost (or stock) and tax against the gross payable


class Certification(StrEnum):
    CERTIFIED = "certified"  # 已认证/已勾选: Dr 进项税额
    PENDING = "pending"  # 待认证: Dr 待认证进项税额 (transferred when certified)


class FullDebit(StrEnum):
    CATEGORY = "category"  # straight to 合同履约成本—X
    INVENTORY = "inventory"  # into 原材料 (site store), issued to cost later (entry 2)


class InvoiceOptions(common.EventOptions):
    mode: InvoiceMode = InvoiceMode.VAT_ONLY
    certification: Certification = Certification.CERTIFIED
    full_debit: FullDebit = FullDebit.CATEGORY
    contract_categories: dict[str, CostCategory] = Field(
        default_factory=lambda: dict(common.CONTRACT_CATEGORIES),
        description="contract kind → the cost category whose payable/cost accounts an invoice uses",
    )
    default_category: CostCategory = Field(
        CostCategory.MATERIAL, description="the category of an invoice without a (known) contract"
    )
    simple_method_into_cost: bool = Field(
        True,
        description="简易计税 project: a received 专票's tax is not deductible and goes into cost (§2.2)",
    )


def _category(
    invoice: Invoice, options: InvoiceOptions, contracts: Mapping[str, Contract]
) -> tuple[CostCategory, str | None]:
    """The invoice's cost category (by its contract's kind) and project (its own, else the contract's)."""
    contract = contracts.get(invoice.contract_no or "")
    project = invoice.project_code or (contract.project_code if contract else None)
    return common.payable_category(contract, options.default_category, options.contract_categories), project


def plan_invoices(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, InvoiceOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = common.contracts_by_number(ctx)
    entries: dict[str, list[tuple[PlannableDocument, common.Entry]]] = defaultdict(list)
    for document in documents:
        invoice: Invoice = document.model
        if invoice.direction is not InvoiceDirection.IN:
            continue  # issued invoices belong to the valuation / prepaid-VAT rules
        if not common.selected(rules, invoice):
            continue
        ids = (document.document_id,)
        category, project = _category(invoice, options, contracts)
        if not project:
            plan.held.append(
                Held(
                    ids,
                    f"发票 {invoice.invoice_no} 没有项目（发票和合同都未注明），无法记入项目成本",
                    f"invoice {invoice.invoice_no} has no project (neither the invoice nor its contract names one)",
                )
            )
            continue
        standard = resolver.standard(project)
        payable = resolver.payable(
            contracts.get(invoice.contract_no or ""),
            options.default_category,
            options.contract_categories,
            standard,
            ids,
            project=project,
            supplier=invoice.seller_name,
        )
        rule = payable.rule if payable else None
        values = {"project": project, "supplier": invoice.seller_name}
        vat_role = "input_vat" if options.certification is Certification.CERTIFIED else "pending_input_vat"
        # Deductible only on a 专票 of a 一般计税 project: under 简易计税 input VAT is never credited.
        simple = options.simple_method_into_cost and resolver.vat_method(project) is VatMethod.SIMPLE
        special = invoice.invoice_type is InvoiceType.SPECIAL and not simple
        vat_account = resolver.account(vat_role, standard, ids) if special else None
        vat_dims = resolver.role_dims(vat_role, ids, **values) if special else ()
        inventory = options.mode is InvoiceMode.FULL and options.full_debit is FullDebit.INVENTORY
        stock_account = resolver.account("inventory", standard, ids) if inventory else None
        stock_dims = resolver.role_dims("inventory", ids, **values) if inventory else ()
        if rule is None:
            continue
        cost_dims = resolver.dims(rule.debit_dimensions, ids, **values)
        if not resolver.ok(ids) or cost_dims is None or payable is None or vat_dims is None:
            continue
        assert stock_dims is not None
        payable_dims = payable.dims
        entry = common.Entry()
        tax, net = invoice.tax_amount, invoice.amount
        if options.mode is InvoiceMode.VAT_ONLY:
            if special:
                assert vat_account is not None
                entry.dr(vat_account, tax, vat_dims, ids)
            else:
                # 普票 (or 简易计税): the tax cannot be deducted, so it is part of the cost (§2.2).
                entry.dr(rule.debit, tax, cost_dims, ids)
            entry.cr(rule.credit, tax, payable_dims, ids)
        else:
            debit_account, debit_dims = (stock_account, stock_dims) if inventory else (rule.debit, cost_dims)
            assert debit_account is not None
            if special:
                assert vat_account is not None
                entry.dr(debit_account, net, debit_dims, ids)
                entry.dr(vat_account, tax, vat_dims, ids)
            else:
                entry.dr(debit_account, invoice.total, debit_dims, ids)
            entry.cr(rule.credit, invoice.total, payable_dims, ids)
        group = common.group_key(
            rules.aggregation,
            document=invoice.invoice_no,
            project=project,
            day=invoice.issue_date,
            extra=f"{category.value}|{invoice.invoice_type.value}",
        )
        entries[group].append((document, entry))

    plan.unmapped = resolver.unmapped()
    for group in sorted(entries):
        members = sorted(entries[group], key=lambda m: m[0].source_key)
        docs = [m[0] for m in members]
        first: Invoice = docs[0].model
        category, project = _category(first, options, contracts)
        key = common.key_for(ctx, rules, group, docs)
        sellers = sorted({d.model.seller_name for d in docs})
        categories = dict.fromkeys(_category(d.model, options, contracts)[0] for d in docs)
        date = common.group_date(rules.aggregation, first.issue_date)
        summary = common.summary_of(
            rules,
            ctx,
            project or "",
            date,
            category_name="、".join(CATEGORY_NAMES_ZH[c] for c in categories),
            count=len(docs),
            document_no=first.invoice_no if len(docs) == 1 else f"{len(docs)}张",
            counterparty=sellers[0] if len(sellers) == 1 else "",
            contract_no=first.contract_no or "",
            amount=f"{first.total:.2f}",
        )
        merged = common.Entry()
        for doc, entry in members:
            # an aggregated voucher of several sellers names each one on its payable line
            note = doc.model.seller_name if len(sellers) > 1 else ""
            for line in entry.lines:
                merged.lines.append(line if not line.credit else replace(line, note=note))
        plan.add(merged.merged_voucher(key, group, date, summary), group)
    return plan


SPEC = common.EventSpec(
    Event.PURCHASE_INVOICE,
    plan_invoices,
    "invoice",
    ROLES,
    ("project", "contract"),
    InvoiceOptions,
    category_accounts=True,
)

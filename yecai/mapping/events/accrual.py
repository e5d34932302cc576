"""暂估入账: costs received without an invoice at month end, accrued and reversed next period.

For tenants whose books follow the invoices (`purchase_invoice` with `mode: full`): a supplier's
cost of the period that no received invoice covers yet is accrued at the period's end — Dr
合同履约成本—X [项目] / Cr 应付账款—暂估应付款 [项目][供应商] — and reversed on the next period's
first day in red ink (负数, same sides), so the invoice, when it comes, books the cost once. A cost
is covered by the received invoices of its contract (else of its supplier on the project) issued
in the period (plus `invoice_grace_days`); what the invoices' net amount leaves uncovered is
accrued, spread over the cost categories of the costs. Costs without a supplier or contract (own
wages, depreciation) are no payable and are never accrued. Never together with the daily COST
rule set: that one already books every cost against the payable.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from yecai.domain.documents import CATEGORY_NAMES_ZH, CostCategory, CostRecord, Invoice, InvoiceDirection
from yecai.domain.money import ZERO, money_sum
from yecai.mapping.events import common
from yecai.mapping.events.allocation import largest_remainder
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "accrued_payable": ("project", "supplier"),  # 应付账款—暂估应付款
}


class AccrualOptions(common.EventOptions):
    categories: tuple[CostCategory, ...] = Field(
        (CostCategory.LABOUR, CostCategory.MATERIAL, CostCategory.MACHINERY, CostCategory.SUBCONTRACT),
        description="cost categories suppliers invoice (the others are not accrued)",
    )
    close_after_days: int = Field(0, ge=0, le=31, description="days after the period's end before accruing")
    invoice_grace_days: int = Field(
        0, ge=0, le=31, description="invoices dated this many days after the period's end still cover it"
    )


def coverage_key(project: str, contract_no: str | None, supplier: str | None) -> str:
    """What an invoice covers: its contract, else its supplier on the project."""
    return f"contract|{contract_no}" if contract_no else f"supplier|{project}|{supplier}"


def invoiced_net(
    invoices: Sequence[Invoice], period: str, grace_days: int, projects_of: dict[str, str]
) -> dict[str, Decimal]:
    """Net amount (ex-VAT) of the received invoices covering `period`, by coverage key."""
    end = common.period_end(period)
    start = dt.date(end.year, end.month, 1)
    last = end + dt.timedelta(days=grace_days)
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for invoice in invoices:
        if invoice.direction is not InvoiceDirection.IN or not start <= invoice.issue_date <= last:
            continue
        project = invoice.project_code or projects_of.get(invoice.contract_no or "", "")
        out[coverage_key(project, invoice.contract_no, invoice.seller_name)] += invoice.amount
    return out


def plan_accrual(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """One accrual voucher per project × period (at its end) and its red-ink reversal (next day)."""
    options = common.parse_options(rules, AccrualOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = common.contracts_by_number(ctx)
    invoices = common.related_of(ctx, "invoice", Invoice)
    projects_of = {number: c.project_code for number, c in contracts.items()}
    # period → project → coverage key → documents
    found: dict[str, dict[str, dict[str, list[PlannableDocument]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    suppliers: dict[str, str] = {}
    for document in documents:
        record: CostRecord = document.model
        if record.category not in options.categories or not common.selected(rules, record):
            continue
        contract = contracts.get(record.contract_no or "")
        supplier = record.supplier_name or (contract.counterparty if contract else None)
        if not supplier:
            continue  # own wages, depreciation …: no supplier, no payable to accrue
        key = coverage_key(record.project_code, record.contract_no, record.supplier_name)
        suppliers[key] = supplier
        found[common.period_of(record.business_date)][record.project_code][key].append(document)

    for period in sorted(found):
        closing_day = common.period_end(period) + dt.timedelta(days=options.close_after_days)
        if ctx.today is None or ctx.today <= closing_day:
            ids = tuple(d.document_id for p in found[period].values() for k in p.values() for d in k)
            plan.held.append(
                Held(
                    ids,
                    f"期间 {period} 尚未结束（{closing_day.isoformat()} 之后暂估），暂不暂估入账",
                    f"period {period} is not over yet (accrued after {closing_day.isoformat()}); held",
                )
            )
            continue
        covered = invoiced_net(invoices, period, options.invoice_grace_days, projects_of)
        for project in sorted(found[period]):
            _project(plan, resolver, period, project, found[period][project], covered, suppliers)
    plan.unmapped = resolver.unmapped()
    return plan


def _project(
    plan: Plan,
    resolver: common.Resolver,
    period: str,
    project: str,
    keys: dict[str, list[PlannableDocument]],
    covered: dict[str, Decimal],
    suppliers: dict[str, str],
) -> None:
    rules, ctx = resolver.rules, resolver.ctx
    entry, reversal = common.Entry(), common.Entry()
    members: list[PlannableDocument] = []
    names: list[str] = []
    standard = resolver.standard(project)
    for key in sorted(keys):
        docs = sorted(keys[key], key=lambda d: d.source_key)
        cost = money_sum(d.model.amount for d in docs)
        uncovered = cost - covered.get(key, ZERO)
        if uncovered <= ZERO:
            continue  # the invoices cover the month: the invoice rule books it
        members.extend(docs)
        ids = tuple(d.document_id for d in docs)
        by_category: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for d in docs:
            by_category[d.model.category.value] += d.model.amount
        # The uncovered part is spread over the categories by their cost (cents kept exact).
        if len(by_category) > 1:
            parts = largest_remainder(uncovered, by_category)
        else:
            parts = {next(iter(by_category)): uncovered}
        supplier = suppliers[key]
        values = {"project": project, "supplier": supplier}
        payable = resolver.account("accrued_payable", standard, ids)
        payable_dims = resolver.role_dims("accrued_payable", ids, **values)
        for category_value in sorted(parts):
            rule = resolver.category(CostCategory(category_value), standard, ids)
            cost_dims = resolver.dims(rule.debit_dimensions, ids, **values) if rule else None
            if rule is None or cost_dims is None or payable is None or payable_dims is None:
                continue
            for book, sign in ((entry, 1), (reversal, -1)):
                book.dr(rule.debit, sign * parts[category_value], cost_dims, ids)
                book.cr(payable, sign * parts[category_value], payable_dims, ids)
        names.append(supplier)
    if not members:
        return
    ids = tuple(d.document_id for d in members)
    if not resolver.ok(ids):
        return
    amount = money_sum(line.debit for line in entry.lines)
    categories = sorted({CATEGORY_NAMES_ZH[d.model.category] for d in members})
    described = f"{'、'.join(categories)} 未到票 {'、'.join(dict.fromkeys(names))}"
    group = f"{project}|{period}"
    plan.add(
        common.period_voucher(
            resolver,
            entry,
            project,
            period,
            members,
            amount,
            described,
            counterparty="、".join(dict.fromkeys(names)),
        ),
        group,
    )
    back = f"{group}|reverse"
    day = common.period_end(period) + dt.timedelta(days=1)
    summary = common.summary_of(
        rules, ctx, project, day, period=period, amount=f"{-amount:.2f}", description=f"冲回 {period} 暂估"
    )
    plan.add(reversal.voucher(common.key_for(ctx, rules, back, members), back, day, summary), back)


SPEC = common.EventSpec(
    Event.ACCRUAL,
    plan_accrual,
    "cost_record",
    ROLES,
    ("project", "contract", "invoice"),
    AccrualOptions,
    category_accounts=True,
)

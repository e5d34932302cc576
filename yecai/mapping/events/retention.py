"""Retention (质保金) of income contracts falling due (entry 14); its receipt is a RECEIPT (14b).

The retention is what the project's approved valuations kept back — the same split as VALUATION
(`valuation.billing_of`: from the sales invoice when there is one) — plus what was withheld before
go-live (`OpeningBalance.retention_to_date`). It belongs to the one income contract that bills the
project (`valuation.contract_of`): a 补充协议 on the same terms adds nothing of its own, so the
retention falls due once. When due — the end of the defects liability period (缺陷责任期, option
`liability_months` after the works' end, or a date per contract) — Dr 应收账款—质保金 [客户][项目] /
Cr 合同结算—价款结算 [项目][客户] (or 合同资产—质保金), with its VAT in 待转销项税额: the obligation
arises only when the cash comes in (公告2016年第69号), which the receipt rule books.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from pydantic import Field

from yecai.domain.documents import (
    Contract,
    ContractKind,
    Invoice,
    OpeningBalance,
    ProgressReport,
    VatMethod,
)
from yecai.domain.money import ZERO, money_sum, round_money
from yecai.mapping.events import common
from yecai.mapping.events.valuation import (
    BillingTerms,
    OutputVat,
    RetentionPractice,
    billing_of,
    contract_of,
    vat_rate_of,
    vat_role_of,
)
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "receivable": ("customer", "project"),  # 应收账款(—质保金)
    "settlement": ("project", "customer"),  # 合同结算—价款结算
    "contract_asset": ("project",),  # 合同资产—质保金 (retention: contract_asset)
    "deferred_output_vat": (),  # 应交税费—待转销项税额
    "output_vat": (),  # 应交税费—应交增值税(销项税额)
    "simple_vat": (),  # 应交税费—简易计税
}


class RetentionOptions(BillingTerms):
    retention: RetentionPractice = RetentionPractice.UNBILLED
    output_vat: OutputVat = Field(
        OutputVat.DEFERRED, description="the VAT of a retention due: 待转销项税额 until received (69号)"
    )
    liability_months: int = Field(
        12, ge=0, le=24, description="缺陷责任期 (1 year usual, ≤ 2 by 建质〔2017〕138号)"
    )
    due_dates: dict[str, dt.date] = Field(default_factory=dict, description="contract no → due date")


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day (31 Jan + 1 month → 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def opening_retention(
    project: str, contracts: Iterable[Contract], openings: Iterable[OpeningBalance]
) -> Decimal:
    """Retention withheld before go-live: the rows of the project's income contracts, or the
    project's own row (no contract) when no contract has one — never both, which would count twice."""
    numbers = {c.contract_no for c in contracts}
    rows = [o for o in openings if o.project_code == project]
    per_contract = [o for o in rows if o.contract_no in numbers]
    chosen = per_contract or [o for o in rows if o.contract_no is None]
    return money_sum(o.retention_to_date for o in chosen)


def retention_of(
    project: str,
    contracts: Sequence[Contract],
    reports: Iterable[ProgressReport],
    invoices: Sequence[Invoice],
    openings: Iterable[OpeningBalance],
    method: VatMethod,
    terms: BillingTerms,
) -> tuple[Decimal, Decimal]:
    """(retention withheld, its VAT) of a project's income contracts: what each approved valuation
    kept back, plus the opening balance. `contracts` are the project's income contracts; the first
    (`contract_of`) sets the terms."""
    billing = contracts[0] if contracts else None
    numbers = [c.contract_no for c in contracts]
    kept = money_sum(
        billing_of(r, billing, numbers, invoices, method, terms).split.retention
        for r in reports
        if r.project_code == project and r.approved and r.valuation_amount
    )
    retention = kept + opening_retention(project, contracts, openings)
    return retention, round_money(retention * vat_rate_of(billing, method, terms))


def project_income_contracts(
    ctx: PlanningContext, extra: Iterable[Contract] = ()
) -> dict[str, list[Contract]]:
    """Income contracts per project from `ctx.related`, plus `extra` (the planned documents)."""
    by_number = {c.contract_no: c for c in common.related_of(ctx, "contract", Contract)}
    for contract in extra:
        by_number.setdefault(contract.contract_no, contract)
    out: dict[str, list[Contract]] = {}
    for contract in sorted(by_number.values(), key=lambda c: c.contract_no):
        if contract.contract_kind is ContractKind.INCOME:
            out.setdefault(contract.project_code, []).append(contract)
    return out


def plan_retention(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, RetentionOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    reports = common.related_of(ctx, "progress_report", ProgressReport)
    invoices = common.related_of(ctx, "invoice", Invoice)
    openings = common.related_of(ctx, "opening_balance", OpeningBalance)
    contracts = project_income_contracts(ctx, (d.model for d in documents if isinstance(d.model, Contract)))
    for document in sorted(documents, key=lambda d: d.source_key):
        contract: Contract = document.model
        if contract.contract_kind is not ContractKind.INCOME:
            continue
        if not common.selected(rules, contract):
            continue
        ids = (document.document_id,)
        group = f"doc|{contract.contract_no}"
        project = contract.project_code
        billing, ambiguous = contract_of(project, contracts)
        if ambiguous:
            plan.held.append(Held(ids, *ambiguous))
            continue
        if billing is None or billing.contract_no != contract.contract_no:
            # A 补充协议 on the main contract's terms: its valuations' retention is the main
            # contract's, which falls due once.
            plan.zero_groups.append(group)
            continue
        method = resolver.vat_method(project)
        project_contracts = contracts[project]
        retention, vat = retention_of(
            project, project_contracts, reports, invoices, openings, method, options
        )
        if retention == ZERO:
            plan.zero_groups.append(group)
            continue
        gross = retention + vat
        ends = [c.end_date for c in project_contracts if c.end_date is not None]
        due = options.due_dates.get(contract.contract_no) or (
            _add_months(max(ends), options.liability_months) if ends else None
        )
        if due is None:
            plan.held.append(
                Held(
                    ids,
                    f"合同 {contract.contract_no} 没有竣工日期或质保金到期日（options.due_dates），暂不转应收",
                    f"contract {contract.contract_no} has no end date and no retention due date "
                    "(options.due_dates); held",
                )
            )
            continue
        if ctx.today is None or ctx.today < due:
            plan.held.append(
                Held(
                    ids,
                    f"合同 {contract.contract_no} 的质保金 {gross:.2f} 于 {due.isoformat()} 到期，尚未到期",
                    f"the retention {gross:.2f} of contract {contract.contract_no} falls due on {due.isoformat()}; not yet",
                )
            )
            continue

        standard = resolver.standard(project)
        values = {"project": project, "customer": contract.counterparty}
        credit_role = (
            "contract_asset" if options.retention is RetentionPractice.CONTRACT_ASSET else "settlement"
        )
        vat_role = "deferred_output_vat" if options.output_vat is OutputVat.DEFERRED else vat_role_of(method)
        receivable = resolver.account("receivable", standard, ids)
        receivable_dims = resolver.role_dims("receivable", ids, **values)
        credit = resolver.account(credit_role, standard, ids)
        credit_dims = resolver.role_dims(credit_role, ids, **values)
        vat_account = resolver.account(vat_role, standard, ids)
        vat_dims = resolver.role_dims(vat_role, ids, **values)
        if not resolver.ok(ids):
            continue
        assert receivable and credit and vat_account
        assert receivable_dims is not None and credit_dims is not None and vat_dims is not None
        entry = common.Entry()
        entry.dr(receivable, gross, receivable_dims, ids)
        entry.cr(credit, retention, credit_dims, ids)
        entry.cr(vat_account, vat, vat_dims, ids)
        key = common.key_for(ctx, rules, group, [document])
        summary = common.summary_of(
            rules,
            ctx,
            project,
            due,
            count=1,
            document_no=contract.contract_no,
            contract_no=contract.contract_no,
            counterparty=contract.counterparty,
            amount=f"{gross:.2f}",
        )
        plan.add(entry.voucher(key, group, due, summary), group)
    plan.unmapped = resolver.unmapped()
    return plan


SPEC = common.EventSpec(
    Event.RETENTION,
    plan_retention,
    "contract",
    ROLES,
    ("project", "contract", "progress_report", "invoice", "opening_balance"),
    RetentionOptions,
)

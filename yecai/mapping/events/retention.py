"""Retention (质保金) of income contracts: when it falls due and when it is received (entries 14, 14b).

The retention is what the valuations kept back (the same rounding as `valuation.split_valuation`,
read from the approved progress reports in `ctx.related`). When due — the end of the defects
liability period (缺陷责任期, option `liability_months` after the contract's end, or a date per
contract) — Dr 应收账款—质保金 [客户] / Cr 合同结算—价款结算 [项目] (or 合同资产—质保金), with its VAT
in 待转销项税额; when received (`ctx.history`), Dr 银行存款 / Cr 应收账款, and the VAT obligation
arises (公告2016年第69号): Dr 待转销项税额 / Cr 销项税额.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from yecai.domain.documents import Contract, ContractKind, ProgressReport
from yecai.domain.money import ZERO, money_sum, round_money, split_tax
from yecai.mapping.events import common
from yecai.mapping.events.valuation import OutputVat, RetentionPractice, split_valuation
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "receivable": ("customer",),  # 应收账款(—质保金)
    "settlement": ("project",),  # 合同结算—价款结算
    "contract_asset": ("project",),  # 合同资产—质保金 (retention: contract_asset)
    "deferred_output_vat": (),  # 应交税费—待转销项税额
    "output_vat": (),  # 应交税费—应交增值税(销项税额)
    "bank": (),  # 银行存款
}

RECEIVED_KEY = "retention_received"  # ctx.history: contract no → {"date": …, "amount": gross received}


class RetentionStage(StrEnum):
    DUE = "due"  # entry 14: the right becomes unconditional
    RECEIVED = "received"  # entry 14b: cash in, VAT obligation arises


class RetentionOptions(common.EventOptions):
    stage: RetentionStage = RetentionStage.DUE
    retention: RetentionPractice = RetentionPractice.UNBILLED
    output_vat: OutputVat = Field(
        OutputVat.DEFERRED, description="the VAT of a retention due: 待转销项税额 until received (69号)"
    )
    liability_months: int = Field(
        12, ge=0, le=24, description="缺陷责任期 (1 year usual, ≤ 2 by 建质〔2017〕138号)"
    )
    due_dates: dict[str, dt.date] = Field(default_factory=dict, description="contract no → due date")
    default_vat_rate: Decimal = Decimal("0.09")
    default_retention_rate: Decimal = Decimal("0")


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day (31 Jan + 1 month → 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def retention_of(
    contract: Contract, reports: Sequence[ProgressReport], options: RetentionOptions
) -> tuple[Decimal, Decimal]:
    """(retention withheld, its VAT): the sum of what each approved valuation kept back."""
    rate = contract.retention_rate if contract.retention_rate is not None else options.default_retention_rate
    vat_rate = contract.tax_rate if contract.tax_rate is not None else options.default_vat_rate
    retention = money_sum(
        split_valuation(r.valuation_amount, rate, vat_rate).retention
        for r in reports
        if r.project_code == contract.project_code and r.approved and r.valuation_amount
    )
    return retention, round_money(retention * vat_rate)


def plan_retention(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, RetentionOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    reports = common.related_of(ctx, "progress_report", ProgressReport)
    received_all: dict[str, Any] = dict(ctx.history.get(RECEIVED_KEY, {}))
    for document in sorted(documents, key=lambda d: d.source_key):
        contract: Contract = document.model
        if contract.contract_kind is not ContractKind.INCOME:
            continue
        if not common.selected(rules, contract):
            continue
        ids = (document.document_id,)
        retention, vat = retention_of(contract, reports, options)
        group = f"doc|{contract.contract_no}"
        if retention == ZERO:
            plan.zero_groups.append(group)
            continue
        gross = retention + vat
        if options.stage is RetentionStage.DUE:
            due = options.due_dates.get(contract.contract_no) or (
                _add_months(contract.end_date, options.liability_months) if contract.end_date else None
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
            date, amount = due, gross
        else:
            received = received_all.get(contract.contract_no)
            if received is None:
                plan.held.append(
                    Held(
                        ids,
                        f"合同 {contract.contract_no} 的质保金尚未收到",
                        f"the retention of contract {contract.contract_no} has not been received",
                    )
                )
                continue
            date = (
                received["date"]
                if isinstance(received["date"], dt.date)
                else dt.date.fromisoformat(received["date"])
            )
            amount = round_money(Decimal(str(received["amount"])))
            # The VAT booked when due, exactly, when the whole retention comes in; a part payment
            # carries its own share (split of the gross, adding back to it).
            vat_rate = contract.tax_rate if contract.tax_rate is not None else options.default_vat_rate
            vat = vat if amount == gross else split_tax(amount, vat_rate)[1]

        standard = resolver.standard(contract.project_code)
        values = {"project": contract.project_code, "customer": contract.counterparty}
        entry = common.Entry()
        receivable = resolver.account("receivable", standard, ids)
        receivable_dims = resolver.role_dims("receivable", ids, **values)
        if options.stage is RetentionStage.DUE:
            credit_role = (
                "contract_asset" if options.retention is RetentionPractice.CONTRACT_ASSET else "settlement"
            )
            vat_role = "deferred_output_vat" if options.output_vat is OutputVat.DEFERRED else "output_vat"
            credit = resolver.account(credit_role, standard, ids)
            credit_dims = resolver.role_dims(credit_role, ids, **values)
            vat_account = resolver.account(vat_role, standard, ids)
            vat_dims = resolver.role_dims(vat_role, ids, **values)
            if not resolver.ok(ids):
                continue
            assert receivable and credit and vat_account
            assert receivable_dims is not None and credit_dims is not None and vat_dims is not None
            entry.dr(receivable, amount, receivable_dims, ids)
            entry.cr(credit, retention, credit_dims, ids)
            entry.cr(vat_account, vat, vat_dims, ids)
        else:
            bank = resolver.account("bank", standard, ids)
            bank_dims = resolver.role_dims("bank", ids, **values)
            transfer = options.output_vat is OutputVat.DEFERRED
            deferred = resolver.account("deferred_output_vat", standard, ids) if transfer else None
            deferred_dims = resolver.role_dims("deferred_output_vat", ids, **values) if transfer else ()
            output = resolver.account("output_vat", standard, ids) if transfer else None
            output_dims = resolver.role_dims("output_vat", ids, **values) if transfer else ()
            if not resolver.ok(ids):
                continue
            assert receivable and bank and receivable_dims is not None and bank_dims is not None
            entry.dr(bank, amount, bank_dims, ids)
            entry.cr(receivable, amount, receivable_dims, ids)
            if transfer:
                assert deferred and output and deferred_dims is not None and output_dims is not None
                entry.dr(deferred, vat, deferred_dims, ids)
                entry.cr(output, vat, output_dims, ids)
        key = common.key_for(ctx, rules, group, [document])
        summary = common.summary_of(
            rules,
            ctx,
            contract.project_code,
            date,
            count=1,
            document_no=contract.contract_no,
            contract_no=contract.contract_no,
            counterparty=contract.counterparty,
            amount=f"{amount:.2f}",
        )
        plan.add(entry.voucher(key, group, date, summary), group)
    plan.unmapped = resolver.unmapped()
    return plan


SPEC = common.EventSpec(
    Event.RETENTION, plan_retention, "contract", ROLES, ("project", "progress_report"), RetentionOptions
)

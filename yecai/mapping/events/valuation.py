"""Owner valuations (业主计量/结算确认) → 记账凭证 (reference entries 10, 10b and 14).

An approved progress report's valuation (ex-VAT) is billed less the retention the income contract
keeps back (质保金, entry 14): Dr 应收账款 [客户] (billed + VAT), Cr 合同结算—价款结算 [项目]
(billed, net), Cr 应交税费—应交增值税(销项税额) — or 待转销项税额 while the VAT obligation has not
arisen (option `output_vat`). The retention stays unbilled inside 合同结算 until it falls due
(`retention: unbilled`), or is carried in 合同资产—质保金 (`retention: contract_asset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from yecai.domain.documents import Contract, ProgressReport
from yecai.domain.money import ZERO, round_money
from yecai.mapping.events import common
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "receivable": ("customer",),  # 应收账款
    "settlement": ("project",),  # 合同结算—价款结算 (小企业: 工程结算)
    "output_vat": (),  # 应交税费—应交增值税(销项税额)
    "deferred_output_vat": (),  # 应交税费—待转销项税额
    "contract_asset": ("project",),  # 合同资产(—质保金), retention: contract_asset
}


class OutputVat(StrEnum):
    OUTPUT = "output"  # the obligation arises with the valuation (invoice issued / 合同约定付款日)
    DEFERRED = "deferred"  # not yet: 待转销项税额, moved to 销项税额 when it arises


class RetentionPractice(StrEnum):
    UNBILLED = "unbilled"  # the retention stays inside 合同结算 (→ 合同资产) until due (entry 14)
    CONTRACT_ASSET = "contract_asset"  # Dr 合同资产—质保金 at billing (alternative practice)


class ValuationOptions(common.EventOptions):
    output_vat: OutputVat = OutputVat.OUTPUT
    retention: RetentionPractice = RetentionPractice.UNBILLED
    default_vat_rate: Decimal = Field(Decimal("0.09"), description="建筑服务 9 % when the contract has none")
    default_retention_rate: Decimal = Field(Decimal("0"), description="when the income contract has none")


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
    """The project's income contract, or the reason (中文, English) it cannot be chosen."""
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
    return found[0], None


def plan_valuations(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, ValuationOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = common.income_contracts(ctx)
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
        declared = resolver.project_document(report.project_code)
        customer_name = contract.counterparty if contract else (declared.customer if declared else None)
        retention_rate = (
            contract.retention_rate
            if contract and contract.retention_rate is not None
            else options.default_retention_rate
        )
        vat_rate = (
            contract.tax_rate if contract and contract.tax_rate is not None else options.default_vat_rate
        )
        split = split_valuation(report.valuation_amount, retention_rate, vat_rate)

        standard = resolver.standard(report.project_code)
        values = {"project": report.project_code, "customer": customer_name}
        vat_role = "output_vat" if options.output_vat is OutputVat.OUTPUT else "deferred_output_vat"
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
            report.report_date,
            period=report.period,
            count=1,
            document_no=report.source_key,
            counterparty=customer_name or "",
            contract_no=contract.contract_no if contract else "",
            amount=f"{report.valuation_amount:.2f}",
        )
        plan.add(entry.voucher(key, group, report.report_date, summary), group)
    plan.unmapped = resolver.unmapped()
    return plan


SPEC = common.EventSpec(
    Event.VALUATION, plan_valuations, "progress_report", ROLES, ("project", "contract"), ValuationOptions
)

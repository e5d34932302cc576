"""Actual costs (实际成本归集) → 记账凭证: Dr 合同履约成本—<成本项目> [项目], Cr 应付 … [项目].

Documents are grouped by the rule set's aggregation (one voucher per project × category × day by
default); each group becomes one balanced voucher whose posting key is derived from the
connection, the rule set, the group and the exact versions of its member documents — so late
documents for an already-posted day make a new voucher instead of silently changing an old one.
Accounts follow the project's accounting standard (CAS 合同履约成本 vs 小企业 工程施工); indirect
costs (间接费用) are booked per project like any other, a pool project included (entry 8).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from yecai.domain.documents import CATEGORY_NAMES_ZH, CostRecord
from yecai.domain.money import ZERO, money_sum
from yecai.mapping.events import common
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Aggregation, Event, MappingTable, RuleSet

# Cost vouchers have no roles: each category's rule names its accounts and dimensions.
ROLES: dict[str, tuple[str, ...]] = {}


def _group_key(rules: RuleSet, record: CostRecord) -> str:
    match rules.aggregation:
        case Aggregation.PER_DOCUMENT:
            return f"doc|{record.source_key}"
        case Aggregation.PROJECT_DAY:
            return f"{record.project_code}|{record.category.value}|{record.business_date.isoformat()}"
        case Aggregation.PROJECT_PERIOD:
            return f"{record.project_code}|{record.category.value}|{record.business_date:%Y-%m}"
        case Aggregation.PERIOD:
            return f"*|{record.category.value}|{record.business_date:%Y-%m}"
        case _:
            return f"{record.project_code}|{record.category.value}|{record.business_date.isoformat()}"


# A bucket is one Dr/Cr pair of a voucher: (project, debit account, debit dims, credit account, credit dims).
Bucket = tuple[str, str, common.Dims, str, common.Dims]


def plan_costs(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """Group costs into balanced vouchers; report every unmapped project, category or counterparty.

    A project mapped to a number Kingdee does not have (`ctx.kingdee_projects`) is reported too,
    instead of failing at Kingdee. Groups spanning projects (aggregation `period`) carry the
    project dimension line by line.
    """
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    groups: dict[str, list[PlannableDocument]] = defaultdict(list)
    buckets: dict[int, Bucket] = {}
    for document in documents:
        record: CostRecord = document.model
        if not common.selected(rules, record):
            continue
        ids = [document.document_id]
        standard = resolver.standard(record.project_code)
        rule = resolver.category(record.category, standard, ids)
        # Resolve everything even after a miss, so every unmapped value is reported at once.
        project = resolver.project(record.project_code, ids)
        if rule is None or project is None:
            continue
        values = {"project": record.project_code, "supplier": record.supplier_name}
        debit_dims = resolver.dims(rule.debit_dimensions, ids, **values)
        credit_dims = resolver.dims(rule.credit_dimensions, ids, **values)
        if debit_dims is None or credit_dims is None:
            continue
        buckets[document.document_id] = (
            record.project_code,
            rule.debit,
            debit_dims,
            rule.credit,
            credit_dims,
        )
        groups[_group_key(rules, record)].append(document)

    plan.unmapped = resolver.unmapped()
    for group in sorted(groups):
        members = sorted(groups[group], key=lambda d: d.source_key)
        first: CostRecord = members[0].model
        key = common.key_for(ctx, rules, group, members)
        summary = common.summary_of(
            rules,
            ctx,
            first.project_code,
            first.business_date,
            category_name=CATEGORY_NAMES_ZH[first.category],
            count=len(members),
        )
        by_bucket: dict[Bucket, list[PlannableDocument]] = defaultdict(list)
        for member in members:
            by_bucket[buckets[member.document_id]].append(member)
        entry = common.Entry()
        for bucket in sorted(by_bucket):
            docs = by_bucket[bucket]
            total = money_sum(d.model.amount for d in docs)
            if total == ZERO:
                continue
            _, debit, debit_dims, credit, credit_dims = bucket
            ids = tuple(d.document_id for d in docs)
            # A negative total (credit notes outweigh costs) stays on the same sides as a red-ink
            # (负数) amount, the Chinese convention for reductions, rather than swapping sides.
            entry.dr(debit, total, debit_dims, ids)
            entry.cr(credit, total, credit_dims, ids)
        plan.add(entry.voucher(key, group, first.business_date, summary), group)
    return plan


SPEC = common.EventSpec(Event.COST, plan_costs, "cost_record", ROLES, ("project",), category_accounts=True)

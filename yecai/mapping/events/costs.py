"""Actual costs (实际成本归集) → 记账凭证: Dr 合同履约成本—<成本项目> [项目], Cr 应付 … [项目].

Documents are grouped by the rule set's aggregation (one voucher per project × category × day by
default); each group becomes one balanced voucher whose posting key is derived from the
connection, the rule set, the group and the exact versions of its member documents — so late
documents for an already-posted day make a new voucher instead of silently changing an old one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from yecai.domain.documents import CATEGORY_NAMES_ZH, CostRecord
from yecai.domain.money import ZERO, money_sum
from yecai.domain.vouchers import Voucher, VoucherLine
from yecai.mapping.plan import (
    Plan,
    PlannableDocument,
    PlanningContext,
    Unmapped,
    key_token,
    matches,
    member_keys,
    posting_key,
)
from yecai.mapping.rules import Aggregation, MappingTable, RuleSet, format_summary


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


def plan_costs(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """Group costs into balanced vouchers; report every unmapped project or category.

    A project mapped to a number Kingdee does not have (`ctx.kingdee_projects`) is reported too,
    instead of failing at Kingdee. Groups spanning projects (aggregation `period`) carry the
    project dimension line by line.
    """
    plan = Plan()
    groups: dict[str, list[PlannableDocument]] = defaultdict(list)
    missing: dict[tuple[str, str], list[int]] = defaultdict(list)
    for document in documents:
        record: CostRecord = document.model
        if rules.filter and not matches(record, rules.filter):
            continue
        if record.category not in rules.categories:
            missing[("category", record.category.value)].append(document.document_id)
            continue
        number = mapping.project_number(record.project_code)
        if number is None or (ctx.kingdee_projects is not None and number not in ctx.kingdee_projects):
            missing[("project", record.project_code)].append(document.document_id)
            continue
        groups[_group_key(rules, record)].append(document)

    plan.unmapped = [Unmapped(kind, value, tuple(ids)) for (kind, value), ids in sorted(missing.items())]
    for group_key in sorted(groups):
        members = sorted(groups[group_key], key=lambda d: d.source_key)
        first: CostRecord = members[0].model
        rule = rules.categories[first.category]
        key = posting_key(ctx.connection, rules.name, group_key, member_keys(members))
        summary = format_summary(
            rules.summary,
            project_code=first.project_code,
            project_name=ctx.project_names.get(first.project_code, first.project_code),
            category_name=CATEGORY_NAMES_ZH[first.category],
            date=first.business_date.isoformat(),
            period=f"{first.business_date:%Y-%m}",
            count=len(members),
        )
        explanation = f"{summary} {key_token(key)}"
        by_project: dict[str, list[PlannableDocument]] = defaultdict(list)
        for member in members:
            by_project[member.model.project_code].append(member)
        lines: list[VoucherLine] = []
        for project in sorted(by_project):
            docs = by_project[project]
            total = money_sum(d.model.amount for d in docs)
            if total == ZERO:
                continue
            number = mapping.project_number(project)
            assert number is not None  # filtered above
            project_dim = ((rules.kingdee.project_dimension, number),)
            ids = tuple(d.document_id for d in docs)
            # A negative total (credit notes outweigh costs) stays on the same sides as a red-ink
            # (负数) amount, the Chinese convention for reductions, rather than swapping sides.
            lines.append(
                VoucherLine(
                    rule.debit,
                    total,
                    ZERO,
                    explanation,
                    project_dim if "project" in rule.debit_dimensions else (),
                    ids,
                )
            )
            lines.append(
                VoucherLine(
                    rule.credit,
                    ZERO,
                    total,
                    explanation,
                    project_dim if "project" in rule.credit_dimensions else (),
                    ids,
                )
            )
        if not lines:
            plan.zero_groups.append(group_key)
            continue
        plan.postings.append(Voucher(key, group_key, first.business_date, summary, tuple(lines)))
    return plan

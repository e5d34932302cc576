"""Actual costs (实际成本归集) → 记账凭证: Dr 合同履约成本—<成本项目> [项目], Cr what the cost is owed on.

Documents are grouped by the rule set's aggregation (one voucher per project × category × day by
default); each group becomes one balanced voucher whose posting key is derived from the
connection, the rule set, the group and the exact versions of its member documents — so late
documents for an already-posted day make a new voucher instead of silently changing an old one.
Accounts follow the project's accounting standard (CAS 合同履约成本 vs 小企业 工程施工); indirect
costs (间接费用) are booked per project like any other, a pool project included (entry 8).

The credit is the cost's payable: by its contract's kind when it names a contract (the same
`common.payable_category` the invoice and payment rules use, so one contract's cost, invoice and
payment meet on one 应付账款 account), else by its category; other-direct and indirect costs are
credited by their 费用明细 (mapping table `cost_items`: 应付职工薪酬, 累计折旧, 临时设施, 应付费用款 …).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from operator import itemgetter

from pydantic import Field

from yecai.domain.documents import CATEGORY_NAMES_ZH, Contract, CostCategory, CostRecord
from yecai.domain.money import ZERO, money_sum
from yecai.mapping.events import common
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext, posting_key
from yecai.mapping.rules import Aggregation, Event, MappingTable, RuleSet

# Cost vouchers have no roles: each category's rule names its accounts and dimensions.
ROLES: dict[str, tuple[str, ...]] = {}


class CostOptions(common.EventOptions):
    contract_categories: dict[str, CostCategory] = Field(
        default_factory=lambda: dict(common.CONTRACT_CATEGORIES),
        description="contract kind → the cost category whose credit account is the contract's payable",
    )
    itemised_categories: tuple[CostCategory, ...] = Field(
        (CostCategory.OTHER_DIRECT, CostCategory.INDIRECT),
        description="categories credited by their 费用明细 (mapping table cost_items) unless under a contract",
    )


# A group as a tuple while documents are sorted into groups (hashing a tuple is cheaper than
# formatting text for every cost line); its text — part of the posting key — is made once per group.
GroupKey = tuple[object, ...]


def _grouping(aggregation: Aggregation) -> Callable[[CostRecord], GroupKey]:
    """The group key of a cost under `aggregation` (chosen once per plan, not once per cost)."""
    match aggregation:
        case Aggregation.PER_DOCUMENT:
            return lambda r: ("doc", r.source_key)
        case Aggregation.PROJECT_DAY:
            return lambda r: (r.project_code, r.business_date)
        case Aggregation.PROJECT_PERIOD | Aggregation.PROJECT_CATEGORY_MONTH:
            return lambda r: (r.project_code, r.category, r.business_date.year, r.business_date.month)
        case Aggregation.PERIOD:
            return lambda r: ("*", r.category, r.business_date.year, r.business_date.month)
        case _:
            return lambda r: (r.project_code, r.category, r.business_date)


def _group_text(aggregation: Aggregation, key: GroupKey) -> str:
    """The group's text: `project|category|day` and the like, exactly as posting keys have it."""
    match aggregation:
        case Aggregation.PER_DOCUMENT:
            return f"doc|{key[1]}"
        case Aggregation.PROJECT_DAY:
            project, day = key
            return f"{project}|{day.isoformat()}"
        case Aggregation.PROJECT_PERIOD | Aggregation.PROJECT_CATEGORY_MONTH | Aggregation.PERIOD:
            project, category, year, month = key
            return f"{project}|{category.value}|{dt.date(year, month, 1):%Y-%m}"
        case _:
            project, category, day = key
            return f"{project}|{category.value}|{day.isoformat()}"


# A bucket is one Dr/Cr pair of a voucher:
# (project, debit account, debit dims, credit account, credit dims, the credit line's note).
Bucket = tuple[str, str, common.Dims, str, common.Dims, str]


def _credit(
    resolver: common.Resolver,
    record: CostRecord,
    options: CostOptions,
    contracts: dict[str, Contract],
    ids: list[int],
) -> tuple[str, common.Dims] | None:
    """The credit of one cost: its contract's payable, its 费用明细's account, or its category's payable."""
    standard = resolver.standard(record.project_code)
    contract = contracts.get(record.contract_no or "")
    values = {"project": record.project_code, "supplier": record.supplier_name}
    if contract is None and record.category in options.itemised_categories:
        found = resolver.mapping.cost_item(record.subcategory, record.description)
        if found is None:
            # Never a silent catch-all: the tenant maps the 费用明细 (or configures a fallback).
            resolver.miss("cost_item", record.subcategory or record.description or "-", ids)
            return None
        _name, item = found
        dims = resolver.dims(item.credit_dimensions, ids, **values)
        return None if dims is None else (item.credit, dims)
    payable = resolver.payable(
        contract,
        record.category,
        options.contract_categories,
        standard,
        ids,
        project=record.project_code,
        supplier=record.supplier_name,
    )
    return None if payable is None else (payable.account, payable.dims)


def _resolution_key(
    record: CostRecord, options: CostOptions, contracts: dict[str, Contract], mapping: MappingTable
) -> tuple[object, ...]:
    """Every field of a cost that `_bucket` reads: equal keys resolve to the same bucket.

    The description counts only where it can choose the 费用明细 (an itemised cost without a
    contract whose sub-category is not a row of its own); elsewhere it would split the cache for
    nothing.
    """
    item: tuple[str | None, ...] = ()
    if record.category in options.itemised_categories and contracts.get(record.contract_no or "") is None:
        name = (record.subcategory or "").strip()
        item = (name,) if name and name in mapping.cost_items else (record.subcategory, record.description)
    return (record.project_code, record.category, record.contract_no, record.supplier_name, item)


def _bucket(
    resolver: common.Resolver,
    record: CostRecord,
    options: CostOptions,
    contracts: dict[str, Contract],
    ids: list[int],
) -> Bucket | None:
    """The Dr/Cr pair of one cost, or None (with every unmapped value recorded) when it cannot post."""
    standard = resolver.standard(record.project_code)
    rule = resolver.category(record.category, standard, ids)
    # Resolve everything even after a miss, so every unmapped value is reported at once.
    project = resolver.project(record.project_code, ids)
    credit = _credit(resolver, record, options, contracts, ids)
    if rule is None or project is None or credit is None:
        return None
    values = {"project": record.project_code, "supplier": record.supplier_name}
    debit_dims = resolver.dims(rule.debit_dimensions, ids, **values)
    if debit_dims is None or not resolver.ok(ids):
        return None
    credit_account, credit_dims = credit
    return (
        record.project_code,
        rule.debit,
        debit_dims,
        credit_account,
        credit_dims,
        record.supplier_name or "",
    )


def plan_costs(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """Group costs into balanced vouchers; report every unmapped project, category or counterparty.

    A project mapped to a number Kingdee does not have (`ctx.kingdee_projects`) is reported too,
    instead of failing at Kingdee. Groups spanning projects (aggregation `period`) carry the
    project dimension line by line.
    """
    options = common.parse_options(rules, CostOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    contracts = common.contracts_by_number(ctx)
    groups: dict[GroupKey, list[PlannableDocument]] = defaultdict(list)
    buckets: dict[int, Bucket] = {}
    group_of, filtered = _grouping(rules.aggregation), bool(rules.filter)
    for document in documents:
        record: CostRecord = document.model
        if filtered and not common.selected(rules, record):
            continue
        bucket = resolver.memo(
            _resolution_key(record, options, contracts, mapping),
            lambda ids, record=record: _bucket(resolver, record, options, contracts, ids),
            [document.document_id],
        )
        if bucket is None:
            continue
        buckets[document.document_id] = bucket
        groups[group_of(record)].append(document)

    plan.unmapped = resolver.unmapped()
    aggregation = rules.aggregation
    dated_by_period = aggregation in common.PERIOD_AGGREGATIONS
    # The groups by their texts (were two keys ever to read alike, they would be one group, as
    # when the text was the key), in the order of the texts, as before tuples were used.
    named: dict[str, list[PlannableDocument]] = {}
    for group_key, grouped in groups.items():
        named.setdefault(_group_text(aggregation, group_key), []).extend(grouped)
    for group in sorted(named):
        # each member's source key once: it orders the members and keys the posting
        members = named[group]
        first: CostRecord = members[0].model
        if len(members) == 1:  # most groups: nothing to sort or collect
            key = posting_key(
                ctx.connection, rules.name, group, [f"{members[0].source_key}@{members[0].version}"]
            )
            categories = {first.category: None}
            suppliers = [first.supplier_name] if first.supplier_name else []
        else:
            keyed = sorted(((m.source_key, m) for m in members), key=itemgetter(0))
            members = [m for _, m in keyed]
            first = members[0].model
            key = posting_key(ctx.connection, rules.name, group, [f"{sk}@{m.version}" for sk, m in keyed])
            categories = dict.fromkeys(m.model.category for m in members)
            suppliers = sorted({m.model.supplier_name for m in members if m.model.supplier_name})
        date = common.group_date(aggregation, first.business_date) if dated_by_period else first.business_date
        summary = common.summary_of(
            rules,
            ctx,
            first.project_code,
            date,
            category_name=(
                CATEGORY_NAMES_ZH[first.category]
                if len(categories) == 1
                else "、".join(CATEGORY_NAMES_ZH[c] for c in categories)
            ),
            count=len(members),
            # one supplier names itself; several are named on their own payable lines
            counterparty=suppliers[0] if len(suppliers) == 1 else "",
            description=first.description if len(members) == 1 else "",
        )
        by_bucket: dict[Bucket, list[PlannableDocument]] = {}
        for member in members:
            bucket = buckets[member.document_id]
            found = by_bucket.get(bucket)
            if found is None:
                by_bucket[bucket] = [member]
            else:
                found.append(member)
        several = len(suppliers) > 1
        if len(by_bucket) == 1:
            # one Dr/Cr pair: the voucher without an entry to merge (the common case)
            ((bucket, docs),) = by_bucket.items()
            _, debit, debit_dims, credit, credit_dims, supplier = bucket
            total = money_sum(d.model.amount for d in docs)
            voucher = common.pair_voucher(
                key,
                group,
                date,
                summary,
                (debit, debit_dims),
                (credit, credit_dims, supplier if several else ""),
                total,
                tuple(d.document_id for d in docs),
            )
            plan.add(voucher, group)
            continue
        pairs: list[common.Pair] = []
        for bucket in sorted(by_bucket):
            docs = by_bucket[bucket]
            total = money_sum(d.model.amount for d in docs)
            if total == ZERO:
                continue
            _, debit, debit_dims, credit, credit_dims, supplier = bucket
            # A negative total (credit notes outweigh costs) stays on the same sides as a red-ink
            # (负数) amount, the Chinese convention for reductions, rather than swapping sides.
            # Aggregated vouchers carry several suppliers: each payable line names its own.
            note = supplier if several else ""
            pairs.append(
                (debit, debit_dims, credit, credit_dims, note, total, tuple(d.document_id for d in docs))
            )
        plan.add(common.pairs_voucher(key, group, date, summary, pairs), group)
    return plan


SPEC = common.EventSpec(
    Event.COST,
    plan_costs,
    "cost_record",
    ROLES,
    ("project", "contract"),
    CostOptions,
    category_accounts=True,
)

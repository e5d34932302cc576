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
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import itemgetter

from pydantic import Field

from yecai.domain.documents import (
    CATEGORY_NAMES_ZH,
    AccountingStandard,
    Contract,
    CostCategory,
    CostRecord,
)
from yecai.domain.money import ZERO, money_sum
from yecai.mapping.events import common
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext, posting_keys
from yecai.mapping.rules import Aggregation, Event, MappingTable, RuleSet, SummaryValues

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


# Each category's text in a group's text, looked up rather than read from the enum per group.
_CATEGORY_TEXT: dict[CostCategory, str] = {category: category.value for category in CostCategory}


def _group_text(aggregation: Aggregation) -> Callable[[GroupKey], str]:
    """The text of a group under `aggregation` (`project|category|day` and the like, exactly as
    posting keys have it), chosen once per plan like the grouping."""
    text = _CATEGORY_TEXT
    match aggregation:
        case Aggregation.PER_DOCUMENT:
            return lambda key: f"doc|{key[1]}"
        case Aggregation.PROJECT_DAY:
            return lambda key: f"{key[0]}|{key[1].isoformat()}"
        case Aggregation.PROJECT_PERIOD | Aggregation.PROJECT_CATEGORY_MONTH | Aggregation.PERIOD:
            return lambda key: f"{key[0]}|{text[key[1]]}|{dt.date(key[2], key[3], 1):%Y-%m}"
        case _:
            return lambda key: f"{key[0]}|{text[key[1]]}|{key[2].isoformat()}"


# A bucket is one Dr/Cr pair of a voucher:
# (project, debit account, debit dims, credit account, credit dims, the credit line's note).
Bucket = tuple[str, str, common.Dims, str, common.Dims, str]


def _credit(
    resolver: common.Resolver,
    record: CostRecord,
    standard: AccountingStandard,
    options: CostOptions,
    contracts: dict[str, Contract],
    ids: list[int],
) -> tuple[str, common.Dims] | None:
    """The credit of one cost (its project on `standard`): its contract's payable, its 费用明细's
    account, or its category's payable."""
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


def _item_key(
    record: CostRecord, contracts: dict[str, Contract], mapping: MappingTable
) -> tuple[str | None, ...]:
    """What of an itemised cost (`CostOptions.itemised_categories`) can choose its credit: the
    last part of its resolution key (see `plan_costs`).

    The description counts only where it can choose the 费用明细 (an itemised cost without a
    contract whose sub-category is not a row of its own); elsewhere it would split the cache for
    nothing.
    """
    if contracts.get(record.contract_no or "") is not None:
        return ()
    name = (record.subcategory or "").strip()
    return (name,) if name and name in mapping.cost_items else (record.subcategory, record.description)


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
    credit = _credit(resolver, record, standard, options, contracts, ids)
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
    itemised = frozenset(options.itemised_categories)
    groups: dict[GroupKey, list[PlannableDocument]] = {}
    buckets: dict[int, Bucket] = {}
    # Buckets resolved without a miss, by resolution key: for these `resolver.memo` would only hand
    # the remembered bucket back, so a plain lookup does it without a closure per cost (issue 15).
    # A key that missed anything always goes through the memo, which reports it for each cost.
    settled: dict[tuple[object, ...], Bucket] = {}
    # One object per distinct bucket, so that a group tells its buckets apart by identity.
    distinct: dict[Bucket, Bucket] = {}
    group_of, filtered = _grouping(rules.aggregation), bool(rules.filter)
    for document in documents:
        record: CostRecord = document.model
        if filtered and not common.selected(rules, record):
            continue
        category = record.category
        # Every field of a cost that `_bucket` reads: equal keys resolve to the same bucket.
        resolution = (
            record.project_code,
            category,
            record.contract_no,
            record.supplier_name,
            _item_key(record, contracts, mapping) if category in itemised else (),
        )
        bucket = settled.get(resolution)
        if bucket is None:
            ids = [document.document_id]
            bucket = resolver.memo(
                resolution,
                lambda ids, record=record: _bucket(resolver, record, options, contracts, ids),
                ids,
            )
            if bucket is None:
                continue
            bucket = distinct.setdefault(bucket, bucket)
            if resolver.ok(ids):
                settled[resolution] = bucket
        buckets[document.document_id] = bucket
        group = group_of(record)
        found = groups.get(group)
        if found is None:
            groups[group] = [document]
        else:
            found.append(document)

    plan.unmapped = resolver.unmapped()
    aggregation = rules.aggregation
    dated_by_period = aggregation in common.PERIOD_AGGREGATIONS
    # The groups by their texts (were two keys ever to read alike, they would be one group, as
    # when the text was the key), in the order of the texts, as before tuples were used.
    text_of = _group_text(aggregation)
    named: dict[str, list[PlannableDocument]] = {}
    merged: set[str] = set()  # texts several group keys share
    for group_key, grouped in groups.items():
        text = text_of(group_key)
        found = named.setdefault(text, grouped)
        if found is not grouped:
            found.extend(grouped)
            merged.add(text)
    del groups  # (its keys, one tuple per group, need not stay for the collector to walk)
    # A group whose key names the category has costs of one category (unless it shares its text).
    by_category = aggregation not in (Aggregation.PROJECT_DAY, Aggregation.PER_DOCUMENT)
    key_of = posting_keys(ctx.connection, rules.name)
    summary_of = common.summaries(rules, ctx)
    period_ends: dict[dt.date, dt.date] = {}
    # (looked up once: the loop below runs once per voucher)
    names, pair_voucher, pairs_voucher = CATEGORY_NAMES_ZH, common.pair_voucher, common.pairs_voucher
    post, zero_group = plan.postings.append, plan.zero_groups.append  # what `plan.add` does
    for group in sorted(named):
        members = named[group]
        if len(members) > 1:
            # each member's source key once: it orders the members (stably) and keys the posting
            keyed = sorted([(str(m.model.key), m) for m in members], key=itemgetter(0))
            first: CostRecord = keyed[0][1].model
        else:
            first = members[0].model
        date = first.business_date
        if dated_by_period:
            date = period_ends.get(date) or period_ends.setdefault(date, common.group_date(aggregation, date))
        if len(members) == 1:
            # most groups: one cost, one Dr/Cr pair, nothing to collect or merge
            document = members[0]
            _, debit, debit_dims, credit, credit_dims, supplier = buckets[document.document_id]
            summary = summary_of(
                first.project_code,
                date,
                SummaryValues(
                    category_name=names[first.category],
                    count=1,
                    counterparty=supplier,
                    description=first.description,
                ),
            )
            source_key = str(first.key)  # `document.source_key`, one property call fewer
            voucher = pair_voucher(
                key_of(group, [f"{source_key}@{document.version}"]),
                group,
                date,
                summary,
                (debit, debit_dims),
                (credit, credit_dims, ""),
                first.amount,
                (document.document_id,),
            )
            if voucher is None:
                zero_group(group)
            else:
                post(voucher)
            continue
        key = key_of(group, [f"{source_key}@{document.version}" for source_key, document in keyed])
        # each bucket's amounts and documents, in the members' order (by identity: see `distinct`)
        by_bucket: dict[int, tuple[Bucket, list[Decimal], list[int]]] = {}
        for _, document in keyed:
            bucket = buckets[document.document_id]
            found_bucket = by_bucket.get(id(bucket))
            if found_bucket is None:
                by_bucket[id(bucket)] = (bucket, [document.model.amount], [document.document_id])
            else:
                found_bucket[1].append(document.model.amount)
                found_bucket[2].append(document.document_id)
        if by_category and group not in merged:
            category_name = names[first.category]
        else:
            categories = dict.fromkeys([document.model.category for _, document in keyed])
            category_name = "、".join([names[c] for c in categories])
        # A bucket names its cost's supplier (or ""): the group's suppliers are its buckets'. One
        # supplier names itself in the 摘要; several are named on their own payable lines.
        if len(by_bucket) == 1:
            ((bucket, amounts, ids),) = by_bucket.values()
            counterparty, several = bucket[5], False
        else:
            suppliers = {bucket[5] for bucket, _, _ in by_bucket.values() if bucket[5]}
            counterparty, several = next(iter(suppliers)) if len(suppliers) == 1 else "", len(suppliers) > 1
        summary = summary_of(
            first.project_code,
            date,
            SummaryValues(
                category_name=category_name, count=len(members), counterparty=counterparty, description=""
            ),
        )
        if len(by_bucket) == 1:
            # one Dr/Cr pair: the voucher without an entry to merge (the common case)
            _, debit, debit_dims, credit, credit_dims, _supplier = bucket
            voucher = pair_voucher(
                key,
                group,
                date,
                summary,
                (debit, debit_dims),
                (credit, credit_dims, ""),
                money_sum(amounts),
                tuple(ids),
            )
            if voucher is None:
                zero_group(group)
            else:
                post(voucher)
            continue
        pairs: list[common.Pair] = []
        for bucket, amounts, ids in sorted(by_bucket.values(), key=itemgetter(0)):
            total = money_sum(amounts)
            if total == ZERO:
                continue
            _, debit, debit_dims, credit, credit_dims, supplier = bucket
            # A negative total (credit notes outweigh costs) stays on the same sides as a red-ink
            # (负数) amount, the Chinese convention for reductions, rather than swapping sides.
            # Aggregated vouchers carry several suppliers: each payable line names its own.
            pairs.append(
                (debit, debit_dims, credit, credit_dims, supplier if several else "", total, tuple(ids))
            )
        voucher = pairs_voucher(key, group, date, summary, pairs)
        if voucher is None:
            zero_group(group)
        else:
            post(voucher)
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

"""Month-end allocation of indirect costs (间接费用月末分配, reference entry 8b).

Indirect costs booked to a pool project (a configurable 项目 code such as 公共/间接费用池) are
spread over the period's contracts by a base — their direct cost or their direct labour — and
moved with Dr 合同履约成本—间接费用 [project] per project, Cr 合同履约成本—间接费用 [pool]. The
parts are rounded with the largest-remainder method so they add back to the pool to the cent.
The base is read from the period's other cost records (the documents and `ctx.related`); a pool
is spread only over the contracts of its own 账簿 (legal entity).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from pydantic import Field

from yecai.domain.documents import CostCategory, CostRecord
from yecai.domain.money import CENT, ZERO, money_sum
from yecai.mapping.events import common
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "allocated": ("project",),  # Dr 合同履约成本—间接费用 (or —合同成本) of each contract
    "pool": ("project",),  # Cr 合同履约成本—间接费用 of the pool
}

DIRECT = (
    CostCategory.LABOUR,
    CostCategory.MATERIAL,
    CostCategory.MACHINERY,
    CostCategory.SUBCONTRACT,
    CostCategory.OTHER_DIRECT,
)


class AllocationBase(StrEnum):
    DIRECT_COST = "direct_cost"  # 直接费用 (人工 + 材料 + 机械 + 分包 + 其他直接费)
    DIRECT_LABOUR = "direct_labour"  # 直接人工


class AllocationOptions(common.EventOptions):
    pool_projects: tuple[str, ...] = Field(("JJFY",), description="PM project codes of indirect-cost pools")
    pool_categories: tuple[CostCategory, ...] = (CostCategory.INDIRECT,)
    base: AllocationBase = AllocationBase.DIRECT_COST
    base_categories: tuple[CostCategory, ...] | None = Field(
        None, description="categories of the base; default: by `base`"
    )


def largest_remainder(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split `total` (to the cent) over `weights` so the parts add back exactly.

    Each part is first rounded down to the cent; the cents left over go one by one to the parts
    with the largest remainders (ties: the larger weight, then the key), so no rounding ever makes
    or loses a cent. A negative total (a credit in the pool) is split the same way, mirrored.
    """
    positive = {k: w for k, w in weights.items() if w > 0}
    base = money_sum(positive.values())
    if base <= 0:
        raise ValueError("allocation base must be positive")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    floors: dict[str, Decimal] = {}
    remainders: list[tuple[Decimal, Decimal, str]] = []
    for key in sorted(positive):
        exact = magnitude * positive[key] / base
        floor = exact.quantize(CENT, rounding=ROUND_DOWN)
        floors[key] = floor
        remainders.append((exact - floor, positive[key], key))
    left = int(((magnitude - money_sum(floors.values())) / CENT).to_integral_value())
    for _, _, key in sorted(remainders, key=lambda r: (-r[0], -r[1], r[2]))[:left]:
        floors[key] += CENT
    return {key: sign * value for key, value in floors.items()}


def plan_allocation(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """One voucher per pool × period: the pool's indirect costs spread over the period's contracts."""
    options = common.parse_options(rules, AllocationOptions)
    base_categories = options.base_categories or (
        DIRECT if options.base is AllocationBase.DIRECT_COST else (CostCategory.LABOUR,)
    )
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    pools: dict[tuple[str, str], list[PlannableDocument]] = defaultdict(list)
    bases: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    seen: set[str] = set()
    for document in documents:
        record: CostRecord = document.model
        if not common.selected(rules, record):
            continue
        seen.add(record.source_key)
        if record.project_code in options.pool_projects:
            if record.category in options.pool_categories:
                pools[(record.project_code, common.period_of(record.business_date))].append(document)
            continue
        if record.category in base_categories:
            bases[common.period_of(record.business_date)][record.project_code] += record.amount
    # Cost records already posted (and so not among the documents) still weigh in the base.
    for record in common.related(ctx, "cost_record"):
        if not isinstance(record, CostRecord) or record.source_key in seen:
            continue
        seen.add(record.source_key)
        if record.project_code in options.pool_projects or record.category not in base_categories:
            continue
        bases[common.period_of(record.business_date)][record.project_code] += record.amount

    for (pool, period), members in sorted(pools.items()):
        members = sorted(members, key=lambda d: d.source_key)
        ids = tuple(d.document_id for d in members)
        total = money_sum(d.model.amount for d in members)
        group = f"alloc|{pool}|{period}"
        # a pool is spread over the contracts of its own 账簿 (legal entity) only
        book = resolver.book(pool)
        weights = {p: w for p, w in bases.get(period, {}).items() if w > 0 and resolver.book(p) == book}
        if total == ZERO:
            plan.zero_groups.append(group)
            continue
        if not weights:
            plan.held.append(
                Held(
                    ids,
                    f"间接费用池 {pool} 在 {period} 没有可分配的项目（分配基数为零），暂不分配",
                    f"indirect-cost pool {pool} has no project to allocate to in {period} (the base is zero); held",
                )
            )
            continue
        standard = resolver.standard(pool)
        pool_account = resolver.account("pool", standard, ids)
        pool_dims = resolver.role_dims("pool", ids, project=pool)
        parts = largest_remainder(total, weights)
        targets: list[tuple[str, str, tuple[tuple[str, str], ...], Decimal]] = []
        for project, amount in sorted(parts.items()):
            account = resolver.account("allocated", resolver.standard(project), ids)
            dims = resolver.role_dims("allocated", ids, project=project)
            if account is not None and dims is not None:
                targets.append((project, account, dims, amount))
        if pool_account is None or pool_dims is None or not resolver.ok(ids):
            continue
        entry = common.Entry()
        for _project, account, dims, amount in targets:
            entry.dr(account, amount, dims, ids)
        entry.cr(pool_account, total, pool_dims, ids)
        voucher = common.period_voucher(
            resolver,
            entry,
            pool,
            period,
            members,
            total,
            group=group,
            count=len(parts),
            category_name="间接费用",
            book=book,
        )
        if voucher is not None:
            plan.postings.append(voucher)
    plan.unmapped = resolver.unmapped()
    return plan


SPEC = common.EventSpec(
    Event.INDIRECT_ALLOCATION,
    plan_allocation,
    "cost_record",
    ROLES,
    ("project", "cost_record"),
    AllocationOptions,
)

"""Plan vouchers from cost documents with a rule set and a mapping table (pure).

Documents are grouped by the rule set's aggregation (one voucher per project × category × day by
default); each group becomes one balanced voucher whose posting key is derived from the
connection, the rule set, the group and the exact versions of its member documents — so the same
inputs always give the same key, and late documents for an already-posted day make a new voucher
instead of silently changing an old one. Unmapped values are collected, never guessed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field

from yecai.domain.documents import CATEGORY_NAMES_ZH, CostRecord
from yecai.domain.money import ZERO, money_sum
from yecai.domain.vouchers import Voucher, VoucherLine
from yecai.mapping.rules import Aggregation, MappingTable, RuleSet

KEY_LENGTH = 20  # hex characters of SHA-256 kept in the posting key (80 bits)


@dataclass(frozen=True, slots=True)
class PlannableCost:
    """A validated cost document as stored: its id, version (content hash) and content."""

    document_id: int
    version: str
    record: CostRecord


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A value with no mapping; the documents carrying it are held back, not posted."""

    kind: str  # "project" | "category"
    value: str
    document_ids: tuple[int, ...]

    @property
    def zh(self) -> str:
        label = {"project": "项目", "category": "成本类别"}[self.kind]
        return f"{label} {self.value} 没有映射（{len(self.document_ids)} 条单据暂不过账）"

    @property
    def en(self) -> str:
        return f"{self.kind} {self.value} is not mapped ({len(self.document_ids)} documents held back)"


@dataclass(slots=True)
class Plan:
    vouchers: list[Voucher] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    # groups whose amounts cancel out exactly: nothing to post yet, documents stay unbound
    zero_groups: list[str] = field(default_factory=list)


def key_token(posting_key: str) -> str:
    """The marker written into Kingdee so a posting can be found again by its key.

    No '[', '_' or '%' (LIKE wildcards on Kingdee's SQL Server) and no '<' (some deployments'
    WAF blocks it), so `FEXPLANATION like '%#YC:<key>%'` finds exactly this posting.
    """
    return f"#YC:{posting_key}"


def posting_key(connection: str, rule_set: str, group_key: str, members: Iterable[str]) -> str:
    material = "\n".join([connection, rule_set, group_key, *sorted(members)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def _group_key(rules: RuleSet, cost: PlannableCost) -> str:
    record = cost.record
    if rules.aggregation is Aggregation.PER_DOCUMENT:
        return f"doc|{record.source_key}"
    return f"{record.project_code}|{record.category.value}|{record.business_date.isoformat()}"


def plan_cost_vouchers(
    costs: Iterable[PlannableCost],
    rules: RuleSet,
    mapping: MappingTable,
    *,
    connection: str,
    project_names: Mapping[str, str] | None = None,
    kingdee_projects: Set[str] | None = None,
) -> Plan:
    """Group costs into balanced vouchers; report every unmapped project or category.

    `kingdee_projects`, when given, is the set of 项目 numbers that exist in Kingdee: a project
    mapped to a number Kingdee does not have is reported too, instead of failing at Kingdee.
    """
    plan = Plan()
    groups: dict[str, list[PlannableCost]] = defaultdict(list)
    missing: dict[tuple[str, str], list[int]] = defaultdict(list)
    for cost in costs:
        record = cost.record
        if record.category not in rules.categories:
            missing[("category", record.category.value)].append(cost.document_id)
            continue
        number = mapping.project_number(record.project_code)
        if number is None or (kingdee_projects is not None and number not in kingdee_projects):
            missing[("project", record.project_code)].append(cost.document_id)
            continue
        groups[_group_key(rules, cost)].append(cost)

    plan.unmapped = [Unmapped(kind, value, tuple(ids)) for (kind, value), ids in sorted(missing.items())]
    names = project_names or {}
    for group_key in sorted(groups):
        members = sorted(groups[group_key], key=lambda c: c.record.source_key)
        first = members[0].record
        rule = rules.categories[first.category]
        project_number = mapping.project_number(first.project_code)
        assert project_number is not None  # filtered above
        key = posting_key(
            connection, rules.name, group_key, (f"{c.record.source_key}@{c.version}" for c in members)
        )
        summary = rules.summary.format(
            project_code=first.project_code,
            project_name=names.get(first.project_code, first.project_code),
            category_name=CATEGORY_NAMES_ZH[first.category],
            date=first.business_date.isoformat(),
            count=len(members),
        )
        explanation = f"{summary} {key_token(key)}"
        total = money_sum(c.record.amount for c in members)
        if total == ZERO:
            plan.zero_groups.append(group_key)
            continue
        ids = tuple(c.document_id for c in members)
        project_dim = ((rules.kingdee.project_dimension, project_number),)
        debit_dims = project_dim if "project" in rule.debit_dimensions else ()
        credit_dims = project_dim if "project" in rule.credit_dimensions else ()
        # A negative total (credit notes outweigh costs that day) stays on the same sides as a
        # red-ink (负数) amount, the Chinese convention for reductions, rather than swapping sides.
        lines = (
            VoucherLine(rule.debit, total, ZERO, explanation, debit_dims, ids),
            VoucherLine(rule.credit, ZERO, total, explanation, credit_dims, ids),
        )
        plan.vouchers.append(Voucher(key, group_key, first.business_date, summary, lines))
    return plan

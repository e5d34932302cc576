"""Checks before anything is posted: unmapped values, rule-set sanity, and every account used.

`unmapped_values` runs the (pure) planners over a set of documents and lists each value the
mapping tables lack — project, organisation, department, supplier, customer, worker, cost category,
account role — with the documents it holds back. `accounts_used` lists, per rule set, every account
number a line may carry and the dimensions (flex keys) that line will have: what `yecai rules
check` compares with the live chart of accounts (末级科目, 核算维度 必录).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from yecai.domain.documents import AccountingStandard
from yecai.errors import ConfigurationError
from yecai.mapping import registry
from yecai.mapping.events.common import parse_options
from yecai.mapping.interface import PlannableDocument, PlanningContext, Unmapped
from yecai.mapping.rules import Event, MappingTable, RuleSet


def validate_rule_set(rules: RuleSet) -> None:
    """Refuse options, account roles, dimension roles and documents the rule set's event does not know."""
    spec = registry.spec_of(rules.event)
    wanted = spec.document
    if rules.document != wanted:
        raise ConfigurationError(
            f"规则集 {rules.name}（{rules.event.value}）应读取单据 {wanted}，而不是 {rules.document}",
            f"rule set {rules.name} ({rules.event.value}) reads {wanted} documents, not {rules.document}",
        )
    if spec.options is not None:
        parse_options(rules, spec.options)
    elif rules.options:
        raise ConfigurationError(
            f"规则集 {rules.name}（{rules.event.value}）不接受 options",
            f"rule set {rules.name} ({rules.event.value}) takes no options",
        )
    roles = spec.roles
    named = set(rules.accounts) | set(rules.dimensions)
    for accounts in rules.standard_accounts.values():
        named |= set(accounts)
    unknown = sorted(named - set(roles))
    if unknown:
        known = ", ".join(sorted(roles)) or "-"
        raise ConfigurationError(
            f"规则集 {rules.name} 使用了未知的科目角色 {', '.join(unknown)}（可用：{known}）",
            f"rule set {rules.name} names unknown account roles {', '.join(unknown)} (known: {known})",
        )


def unmapped_values(
    documents: Sequence[PlannableDocument],
    rule_sets: Iterable[RuleSet],
    mapping: MappingTable,
    ctx: PlanningContext | None = None,
) -> list[Unmapped]:
    """Every value the mapping lacks for these documents, across the rule sets, before posting.

    Each rule set sees the documents of its kind. Without a context, the documents themselves are
    what the planners may consult (contracts, projects, budget lines …), so passing everything
    that is about to be posted gives the complete list. Values are merged across rule sets.
    """
    if ctx is None:
        by_kind: dict[str, list[object]] = defaultdict(list)
        for document in documents:
            by_kind[document.model.kind].append(document.model)
        ctx = PlanningContext(connection="check", related=dict(by_kind))
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for rules in rule_sets:
        mine = [d for d in documents if d.model.kind == rules.document]
        if not mine:
            continue
        for item in registry.plan(mine, rules, mapping, ctx).unmapped:
            found[(item.kind, item.value)].update(item.document_ids)
    return [Unmapped(kind, value, tuple(sorted(ids))) for (kind, value), ids in sorted(found.items())]


@dataclass(frozen=True, slots=True)
class AccountUse:
    """One account a rule set may post to, and the dimensions its line carries."""

    rule_set: str
    role: str  # account role, or "<category>.debit" / "<category>.credit" for cost categories
    standard: AccountingStandard
    account: str
    dimensions: tuple[str, ...]  # dimension names (project, supplier …)
    flex_keys: tuple[str, ...]  # the FDetailID keys Kingdee sees (FF100001, FFLEX4 …)


def accounts_used(rules: RuleSet, mapping: MappingTable | None = None) -> list[AccountUse]:
    """Every (account, dimensions) a line of this rule set may carry, per accounting standard."""
    target = rules.kingdee
    out: dict[tuple[str, str, str, tuple[str, ...]], AccountUse] = {}

    def add(role: str, standard: AccountingStandard, account: str, dims: tuple[str, ...]) -> None:
        use = AccountUse(rules.name, role, standard, account, dims, tuple(target.flex_key(d) for d in dims))
        out.setdefault((role, standard.value, account, dims), use)

    spec = registry.spec_of(rules.event)
    for role, default in spec.roles.items():
        dims = rules.dimensions.get(role, default)
        if role in rules.accounts:
            add(role, rules.standard, rules.accounts[role], dims)
        for standard, accounts in rules.standard_accounts.items():
            if role in accounts:
                add(role, standard, accounts[role], dims)
    if spec.category_accounts:
        for category, rule in rules.categories.items():
            add(f"{category.value}.debit", rules.standard, rule.debit, rule.debit_dimensions)
            add(f"{category.value}.credit", rules.standard, rule.credit, rule.credit_dimensions)
        for standard, table in (mapping.cost_accounts if mapping else {}).items():
            for category, account in table.items():
                own = rules.categories.get(category)
                add(
                    f"{category.value}.debit",
                    standard,
                    account.debit,
                    own.debit_dimensions if own else ("project",),
                )
                add(
                    f"{category.value}.credit",
                    standard,
                    account.credit,
                    own.credit_dimensions if own else ("project",),
                )
    if spec.event is Event.COST and mapping is not None:
        # other/indirect costs are credited by their 费用明细, whatever the project's standard
        for standard in {rules.standard, *mapping.cost_accounts}:
            for name, item in mapping.cost_items.items():
                add(f"item:{name}.credit", standard, item.credit, item.credit_dimensions)
    return sorted(out.values(), key=lambda u: (u.standard.value, u.role, u.account))

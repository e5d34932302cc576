"""Which Kingdee accounts the report figures are read from — taken from configuration.

Cost by category: the debit account of each category in the job's cost rule set (the mapping
table's cost accounts win, per accounting standard). Revenue: the revenue rule set's `revenue`
role (主营业务收入). Payments: the payables the payment rule set debits. A job without a revenue or
payment rule set falls back to the default rule set of that event, so a tenant that posts revenue
by hand still gets it read from the same account the defaults name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from yecai.domain.documents import AccountingStandard, CostCategory
from yecai.mapping.rules import Event, MappingTable, RuleSet, default_rule_set


@dataclass(frozen=True, slots=True)
class ReportAccounts:
    book: str
    project_dimension: str  # FDetailID flex key of the 项目 dimension (e.g. FF100001)
    cost: dict[str, CostCategory] = field(default_factory=dict)  # account → category (debits)
    revenue: frozenset[str] = frozenset()  # net credit
    payables: frozenset[str] = frozenset()  # debits are payments
    payments_posted: bool = False  # the job posts payments, so Kingdee holds them

    @property
    def all(self) -> list[str]:
        return sorted({*self.cost, *self.revenue, *self.payables})


def _of_event(rule_sets: Sequence[RuleSet], event: Event) -> RuleSet | None:
    return next((rules for rules in rule_sets if rules.event is event), None)


def report_accounts(rule_sets: Sequence[RuleSet], mapping: MappingTable) -> ReportAccounts:
    """The accounts of a sync job's rule sets (with its mapping table), every standard included."""
    cost_rules = _of_event(rule_sets, Event.COST) or default_rule_set(Event.COST)
    revenue_rules = _of_event(rule_sets, Event.REVENUE) or default_rule_set(Event.REVENUE)
    payment_rules = _of_event(rule_sets, Event.PAYMENT)
    cost: dict[str, CostCategory] = {}
    payables: set[str] = set()
    revenue: set[str] = set()
    for standard in AccountingStandard:
        for category in CostCategory:
            rule = cost_rules.category_rule(category, standard, mapping)
            if rule is not None:
                cost.setdefault(rule.debit, category)
            paid = payment_rules.category_rule(category, standard, mapping) if payment_rules else None
            # the payment rule set debits the payable its category credits (应付账款—X)
            if paid is not None and "project" in paid.credit_dimensions:
                payables.add(paid.credit)
        account = revenue_rules.account("revenue", standard)
        if account:
            revenue.add(account)
    return ReportAccounts(
        book=cost_rules.kingdee.account_book,
        project_dimension=cost_rules.kingdee.project_dimension,
        cost=cost,
        revenue=frozenset(revenue),
        payables=frozenset(payables),
        payments_posted=payment_rules is not None,
    )

"""The planner registry: a rule set's event picks the function that turns documents into postings.

Every planner shares the interface of `yecai.mapping.interface`; adding an event is adding a module
under `yecai.mapping.events` and one row in each table here (its planner, the account roles it
uses with their default dimensions, and the document kind it reads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from yecai.mapping.events import (
    allocation,
    costs,
    invoices,
    payments,
    prepaid_vat,
    retention,
    revenue,
    valuation,
)
from yecai.mapping.interface import Plan, PlannableDocument, Planner, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

PLANNERS: dict[Event, Planner] = {
    Event.COST: costs.plan_costs,
    Event.INDIRECT_ALLOCATION: allocation.plan_allocation,
    Event.PURCHASE_INVOICE: invoices.plan_invoices,
    Event.VALUATION: valuation.plan_valuations,
    Event.REVENUE: revenue.plan_revenue,
    Event.PREPAID_VAT: prepaid_vat.plan_prepaid_vat,
    Event.RETENTION: retention.plan_retention,
    Event.PAYMENT_REQUEST: payments.plan_payment_requests,
    Event.PAYMENT: payments.plan_payments,
}

# Account roles of each event → the dimensions a line on that role carries unless the rule set's
# `dimensions` says otherwise. Cost-category accounts (COST, REVENUE, PURCHASE_INVOICE, PAYMENT)
# come from `categories` / the mapping table instead.
ROLES: dict[Event, Mapping[str, tuple[str, ...]]] = {
    Event.COST: costs.ROLES,
    Event.INDIRECT_ALLOCATION: allocation.ROLES,
    Event.PURCHASE_INVOICE: invoices.ROLES,
    Event.VALUATION: valuation.ROLES,
    Event.REVENUE: revenue.ROLES,
    Event.PREPAID_VAT: prepaid_vat.ROLES,
    Event.RETENTION: retention.ROLES,
    Event.PAYMENT_REQUEST: payments.REQUEST_ROLES,
    Event.PAYMENT: payments.PAYMENT_ROLES,
}

# The document kind each event reads, and the kinds it consults through `PlanningContext.related`.
DOCUMENTS: dict[Event, str] = {
    Event.COST: "cost_record",
    Event.INDIRECT_ALLOCATION: "cost_record",
    Event.PURCHASE_INVOICE: "invoice",
    Event.VALUATION: "progress_report",
    Event.REVENUE: "cost_record",
    Event.PREPAID_VAT: "invoice",
    Event.RETENTION: "contract",
    Event.PAYMENT_REQUEST: "payment_request",
    Event.PAYMENT: "payment_request",
}
RELATED: dict[Event, tuple[str, ...]] = {
    Event.COST: ("project",),
    Event.INDIRECT_ALLOCATION: ("project", "cost_record"),
    Event.PURCHASE_INVOICE: ("project", "contract"),
    Event.VALUATION: ("project", "contract"),
    Event.REVENUE: ("project", "contract", "budget_line"),
    Event.PREPAID_VAT: ("project", "contract"),
    Event.RETENTION: ("project", "progress_report"),
    Event.PAYMENT_REQUEST: ("project", "contract"),
    Event.PAYMENT: ("project", "contract"),
}


def plan(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    planner = PLANNERS.get(rules.event)
    if planner is None:
        raise NotImplementedError(f"no planner for event {rules.event.value}")
    return planner(documents, rules, mapping, ctx)

"""The planner registry: a rule set's event picks the function that turns documents into postings.

Every planner shares the interface of `yecai.mapping.plan`; adding an event is adding a module
under `yecai.mapping.events` and one row here.
"""

from __future__ import annotations

from collections.abc import Sequence

from yecai.mapping.events.costs import plan_costs
from yecai.mapping.plan import Plan, PlannableDocument, Planner, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

PLANNERS: dict[Event, Planner] = {
    Event.COST: plan_costs,
}


def plan(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    planner = PLANNERS.get(rules.event)
    if planner is None:
        raise NotImplementedError(f"no planner for event {rules.event.value}")
    return planner(documents, rules, mapping, ctx)

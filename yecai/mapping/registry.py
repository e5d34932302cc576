"""The event registry: a rule set's event picks its spec, and the spec's planner makes the postings.

Each module under `yecai.mapping.events` declares its event(s) once as an `EventSpec` (planner,
document kind, account roles with default dimensions, related kinds, options); this module collects
every spec it finds there. Adding an event is adding one module (plus its `Event` value).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from yecai.errors import ConfigurationError
from yecai.mapping import events
from yecai.mapping.events.common import EventSpec
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet


def _collect() -> dict[Event, EventSpec]:
    found: dict[Event, EventSpec] = {}
    for module_info in pkgutil.iter_modules(events.__path__):
        module = importlib.import_module(f"{events.__name__}.{module_info.name}")
        for value in vars(module).values():
            if not isinstance(value, EventSpec):
                continue
            known = found.setdefault(value.event, value)
            # the same spec seen again (imported by a sibling) is fine; two specs of one event are not
            if known is not value:
                raise RuntimeError(f"two specs declare the event {value.event.value}")
    return found


SPECS: dict[Event, EventSpec] = _collect()


def spec_of(event: Event) -> EventSpec:
    """The spec of an event, or a configuration error naming it."""
    found = SPECS.get(event)
    if found is None:
        raise ConfigurationError(
            f"业务事件 {event.value} 没有规则实现（yecai.mapping.events）",
            f"no planner for event {event.value} (yecai.mapping.events)",
        )
    return found


def plan(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """Plan the postings of the documents by the rule set's event."""
    return spec_of(rules.event).planner(documents, rules, mapping, ctx)

"""A cost ledger of any length, generated lazily for benchmarks (one project at a time in memory).

Projects are drawn exactly as `generate` draws them, over a ten-year window, and their daily direct
costs streamed out; when the 999 projects of one window are used up, the next ten years follow
(codes carry the year, so record ids stay unique). Nothing else (attendance, invoices, history)
is built, so a million rows cost the time to draw them and no more memory than one project.
"""

from __future__ import annotations

from collections.abc import Iterator

from yecai.sandbox.pm.contracts import make_contracts
from yecai.sandbox.pm.costs import direct_costs
from yecai.sandbox.pm.data import MAX_MONTHS, month_window
from yecai.sandbox.pm.models import CostRecord, Project
from yecai.sandbox.pm.plan import make_plan
from yecai.sandbox.pm.projects import BOOKING_STATUSES, MAX_PROJECTS, make_project
from yecai.sandbox.pm.seeding import stream

_YEARS_PER_WINDOW = MAX_MONTHS // 12


def ledger_rows(seed: int, start_month: str, projects: dict[str, Project]) -> Iterator[CostRecord]:
    """Daily cost lines, project after project, for ever; `projects` is filled as they appear."""
    year, month = (int(part) for part in start_month.split("-"))
    for cycle in range(1_000):
        first, last = month_window(f"{year + cycle * _YEARS_PER_WINDOW:04d}-{month:02d}", MAX_MONTHS)
        taken: set[str] = set()
        departments: dict[str, int] = {}
        for index in range(1, MAX_PROJECTS + 1):
            project = make_project(stream(seed, "project", index), index, first, taken, departments)
            if project.status not in BOOKING_STATUSES:
                continue
            code = project.project_code
            plan = make_plan(stream(seed, "plan", code), project)
            deals = make_contracts(stream(seed, "contracts", code), project, plan, first)
            projects[code] = project
            yield from direct_costs(
                stream(seed, "costs", code), project, plan, deals.contract_of, first, last
            ).records
            del projects[code]
    raise RuntimeError("the ledger generator ran out of windows")  # 10,000 years of projects

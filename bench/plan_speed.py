"""Planning speed: cost lines planned into balanced vouchers per second, in memory and in the pipeline.

The seed case (sandbox.pm, 50 projects × 1 month by default: 6,312 cost lines) is pulled and
validated into a fresh store exactly as the nightly job does, its suppliers bound as the binder
binds them, and then planned by the real planner (`yecai.mapping.registry.plan`, the default cost
rule set and mapping table) on one core:

- in memory, with the loaded heap frozen (`yecai.heap.frozen`, what the pipeline does);
- in memory, the heap left to the collector as it is (the same code without the freeze);
- through the store: `yecai.sync.planning.plan_postings`, which also loads the documents,
  builds the payloads and stores postings and lines (each repeat starts from no postings).

All three are measured in this run; each figure is the best of `--repeat` runs, in wall time and in
CPU time of this process (on a shared machine the wall clock also counts other processes' turns on
the core). The ratios compare the in-memory planner with the pipeline's planning step. The last
line is the in-memory figure, frozen heap, by CPU time: one core's throughput.

    .venv/bin/python bench/plan_speed.py [--projects 50 --months 1 --repeat 7 --db-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete

from yecai import heap, jsonutil
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument, PlanningContext
from yecai.mapping.rules import MappingTable, RuleSet, default_mapping, default_rule_set
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import Store, open_store
from yecai.store.tables import Posting, PostingLine
from yecai.sync import intake, planning

SOURCE, KINGDEE = "pm", "kd"


def load_seed_case(store: Store, projects: int, months: int, seed: int) -> None:
    """Pull and validate the seed case's projects and cost records into `store` (the nightly job's intake)."""
    server, _dataset = start_pm(projects=projects, months=months, seed=seed)
    try:
        connector = PmSandboxConnector(server.base_url, DEFAULT_TOKEN)
        for stream in ("projects", "cost_records"):
            intake.pull(store, connector, stream, connection=SOURCE)
            intake.validate_staged(store, connector, stream, connection=SOURCE)
    finally:
        server.stop()


def planning_inputs(
    store: Store, rules: RuleSet, mapping: MappingTable
) -> tuple[list[PlannableDocument], PlanningContext, MappingTable]:
    """The documents and context `plan_postings` gives the planner, and the mapping with the
    suppliers bound (numbers as `binder.bind_parties` would have them from Kingdee)."""
    model = DOCUMENT_TYPES[rules.document]
    with store.transaction() as session:
        latest = planning.latest_documents(session, SOURCE, rules.document)
        documents = [
            PlannableDocument(doc.id, doc.version, model.model_validate(jsonutil.loads(doc.data)))
            for doc in latest.values()
            if not doc.deleted
        ]
        context = planning.planning_context(
            session, rules, source_connection=SOURCE, kingdee_connection=KINGDEE
        )
    names = sorted({name for d in documents if (name := getattr(d.model, "supplier_name", None))})
    suppliers = {name: f"VEN{number:05d}" for number, name in enumerate(names, start=1)}
    return documents, context, mapping.model_copy(update={"suppliers": suppliers})


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """The fastest of `repeat` runs: (wall seconds, CPU seconds of this process).

    On a shared machine the wall clock also counts the time other processes held the core; the
    CPU time is what the planner itself took — one core's throughput.
    """
    wall = cpu = float("inf")
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - used)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each contender (best counts)")
    parser.add_argument(
        "--db-url", default=None, help="store for the pipeline side (default: SQLite in a temp dir)"
    )
    args = parser.parse_args(argv)

    rules, mapping = default_rule_set(), default_mapping()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.db_url or f"sqlite:///{Path(tmp) / 'plan.sqlite'}")
        try:
            load_seed_case(store, args.projects, args.months, args.seed)
            documents, context, bound = planning_inputs(store, rules, mapping)
            lines = len(documents)
            plan = registry.plan(documents, rules, bound, context)
            assert not plan.unmapped, plan.unmapped[:3]
            assert not plan.held, plan.held[:3]
            vouchers = len(plan.vouchers)

            def in_memory() -> None:
                registry.plan(documents, rules, bound, context)

            def frozen() -> None:
                with heap.frozen():
                    registry.plan(documents, rules, bound, context)

            def pipeline() -> None:
                with store.transaction() as session:
                    session.execute(delete(PostingLine))
                    session.execute(delete(Posting))
                result = planning.plan_postings(
                    store, rules=rules, mapping=bound, source_connection=SOURCE, kingdee_connection=KINGDEE
                )
                assert result.planned == vouchers, (result.planned, vouchers)

            frozen_s, frozen_cpu = best_of(args.repeat, frozen)
            loose_s, loose_cpu = best_of(args.repeat, in_memory)
            pipeline_s, pipeline_cpu = best_of(max(1, args.repeat // 2), pipeline)
        finally:
            store.close()

    def figures(wall: float, cpu: float) -> str:
        return f"{wall * 1000:7.1f} ms wall {lines / wall:9,.0f} lines/s | {cpu * 1000:7.1f} ms CPU {lines / cpu:9,.0f} lines/s"

    per_s = lines / frozen_cpu
    print(
        f"seed case: {args.projects} projects × {args.months} month(s): {lines:,} cost lines → {vouchers:,} vouchers"
    )
    print(
        f"best of {args.repeat} runs each, one core; wall time counts other processes on a shared machine, CPU time does not"
    )
    print(f"in memory, heap frozen (yecai.heap.frozen): {figures(frozen_s, frozen_cpu)}")
    print(f"in memory, heap not frozen:                 {figures(loose_s, loose_cpu)}")
    print(f"pipeline plan_postings (load, plan, store): {figures(pipeline_s, pipeline_cpu)}")
    print(
        f"ratio in-memory / pipeline = {pipeline_cpu / frozen_cpu:.1f}x CPU ({pipeline_s / frozen_s:.1f}x wall); "
        f"frozen / not frozen = {loose_cpu / frozen_cpu:.2f}x CPU"
    )
    print(f"lines_per_s={per_s:.0f}")


if __name__ == "__main__":
    main()

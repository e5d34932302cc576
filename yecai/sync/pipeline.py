"""The cost pipeline as one service call: pull → validate → bind projects → plan → post → check.

This is the nightly job of reference case 1 (actual costs of every project into Kingdee cost
ledgers) and what `yecai demo` runs. Each step is its own unit of work and commits as it goes, so
a crash at any point resumes correctly on the next run: records are deduplicated by content,
postings are keyed, and unknown write outcomes are looked up before anything is resent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial

from yecai.domain.posting_states import PostingState
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import MappingTable, RuleSet
from yecai.sources.connector import Connector
from yecai.store import runs
from yecai.store.db import Store
from yecai.sync import binder, corrections, intake, planning, readback, sending, states
from yecai.sync.results import SendResult, merge_sends

Step = Callable[[str, int | None], Callable[[int], None] | None]
# The send and check steps, replaceable: a queued job fans its sending out to several workers
# (`yecai.jobs.parts`) and merges what each worker read back.
Send = Callable[..., SendResult]
Check = Callable[..., readback.PostingCheck]
# Called while the first round plans, after each part of the plan is stored (`done=False`) and once
# when that planning ends, however it ends (`done=True`), with the send step's arguments: a
# fanned-out job queues its senders as soon as enough is planned (`yecai.jobs.parts.Fanout`).
Planned = Callable[..., None]
# Documents per part of a plan when a `Planned` hook is given (rule sets planned by project only).
PLAN_PART_DOCUMENTS = 2000


# Postings still on their way into Kingdee at the end of a run (the report's `pending`).
_PENDING = (PostingState.PLANNED, PostingState.SENT, PostingState.UNCERTAIN, PostingState.SAVED)


@dataclass(slots=True)
class _Progress:
    """What a run has done so far; also what a failed run reports."""

    pulls: list[intake.PullResult] = field(default_factory=list)
    validations: list[intake.ValidateResult] = field(default_factory=list)
    projects: binder.BindResult | None = None
    parties: binder.PartyResult | None = None
    plans: dict[str, planning.PlanResult] = field(default_factory=dict)
    corrections: dict[str, corrections.CorrectionResult] = field(default_factory=dict)
    send: SendResult | None = None
    check: readback.PostingCheck | None = None

    def counts(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for pull in self.pulls:
            out[f"pull.{pull.stream}"] = {
                "fetched": pull.fetched,
                "new": pull.new,
                "unchanged": pull.unchanged,
            }
        for validation in self.validations:
            out[f"validate.{validation.stream}"] = {"valid": validation.valid, "invalid": validation.invalid}
        for name, plan in self.plans.items():
            out[f"plan.{name}"] = {
                "documents": plan.documents,
                "planned": plan.planned,
                "unmapped": len(plan.unmapped),
                "held": len(plan.held),
                "changed_after_posting": len(plan.changed_after_posting),
                "deleted_after_posting": len(plan.deleted_after_posting),
            }
        if self.send:
            out["send"] = {k: v for k, v in asdict(self.send).items() if k != "errors"}
        if self.check:
            out["check"] = {
                "vouchers": self.check.vouchers,
                "missing": len(self.check.missing),
                "duplicated": len(self.check.duplicated),
                "amount_mismatch": len(self.check.amount_mismatch),
                "unknown": len(self.check.unknown),
            }
        return out


@dataclass(slots=True)
class SyncReport:
    """A completed run of a sync job: pulls, validations, project binding, plans, send, check."""

    run_id: int
    pulls: list[intake.PullResult]
    validations: list[intake.ValidateResult]
    projects: binder.BindResult
    plans: dict[str, planning.PlanResult]
    send: SendResult
    check: readback.PostingCheck
    corrections: dict[str, corrections.CorrectionResult] = field(default_factory=dict)
    # postings of the connection still on their way (planned, sent, uncertain, saved) after the run
    pending: int = 0

    @property
    def plan(self) -> planning.PlanResult:
        """All rule sets' plans added up (what a summary shows)."""
        return planning.merge_plans(list(self.plans.values()))


def run_sync_job(
    store: Store,
    connector: Connector,
    client: KingdeeClient,
    *,
    rule_sets: Sequence[RuleSet],
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    streams: Sequence[str] = ("projects", "cost_records"),
    related: Sequence[str] = (),
    since: str | None = None,
    batch_size: int = 50,
    max_attempts: int = 3,
    backoff: float = 0.5,
    settle_seconds: float | None = None,
    step: Step | None = None,
    kind: str = "sync",
    full_check: bool = False,
    senders: int = sending.DEFAULT_SENDERS,
    send: Send | None = None,
    check: Check | None = None,
    planned: Planned | None = None,
    plan_part_documents: int = PLAN_PART_DOCUMENTS,
) -> SyncReport:
    """Run a sync job once; `step(name, total)` may return a progress callback.

    `streams` are pulled in order (projects first: they bind the 项目 dimension); `since`
    re-reads the source from that moment instead of the stored cursors. Every rule set plans
    from the documents, then everything planned for the Kingdee connection is sent, and what
    Kingdee holds is checked against what yecai posted: the postings this run touched, or with
    `full_check` every voucher yecai ever posted (what the demo shows as totals). `senders` calls
    go to Kingdee at once (the data centre's `max_concurrency`). `send` and `check` replace
    `sending.send_postings` and `readback.check_postings` (same arguments). With `planned`, the
    first round plans rule sets a few projects at a time (`plan_part_documents` documents each)
    and calls it after each part is stored, so that senders start on it while the rest is planned.
    """
    if not rule_sets:
        raise ValueError("a sync job needs at least one rule set")

    def progress(name: str, total: int | None) -> Callable[[int], None] | None:
        return step(name, total) if step else None

    def bind_projects() -> binder.BindResult:
        return binder.bind_projects(
            store,
            client,
            rules=rule_sets[0],
            mapping=mapping,
            source_connection=source_connection,
            kingdee_connection=kingdee_connection,
        )

    # A second of slack: the store's clock and ours are the same, but its timestamps may be rounded.
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    run_id = runs.start_run(store, kind=kind, connection=source_connection)
    report = _Progress()
    read = readback.ReadBack()  # vouchers read back while sending: the check does not ask again
    try:
        # Binding the 项目 values is Kingdee calls only: it runs while the streams after
        # `projects` are pulled and validated (it reads nothing else), joined before planning.
        with ThreadPoolExecutor(1, thread_name_prefix="yecai-bind") as pool:
            projects_bound: Future[binder.BindResult] | None = None
            for stream in streams:
                # A pushed (webhook) or imported (file) source has its records staged already;
                # a pulled stream is validated while it is pulled.
                if connector.pulls:
                    pulled, validated = intake.pull_validating(
                        store,
                        connector,
                        stream,
                        connection=source_connection,
                        run_id=run_id,
                        since=since,
                        progress=progress(f"pull:{stream}", None),
                    )
                    report.pulls.append(pulled)
                else:
                    validated = intake.validate_staged(store, connector, stream, connection=source_connection)
                report.validations.append(validated)
                if stream == "projects" and projects_bound is None:
                    projects_bound = pool.submit(bind_projects)
            report.projects = (projects_bound or pool.submit(bind_projects)).result()
        # Parties that corrections re-plan are bound now; those of new documents by the plan itself.
        report.parties = binder.bind_parties(
            store,
            client,
            mapping=mapping,
            source_connection=source_connection,
            kingdee_connection=kingdee_connection,
            rule_sets=rule_sets,
            kingdee_projects=report.projects.numbers,
            related=tuple(related),
            senders=senders,
            changed_only=True,
        )
        parties = binder.PartyBinding(
            store,
            client,
            mapping=mapping,
            source_connection=source_connection,
            kingdee_connection=kingdee_connection,
            senders=senders,
            parties=report.parties,
        )
        mapping = parties.bind_into(mapping)
        for rules in rule_sets:
            report.corrections[rules.name] = corrections.plan_corrections(
                store,
                client,
                rules=rules,
                mapping=mapping,
                source_connection=source_connection,
                kingdee_connection=kingdee_connection,
                kingdee_projects=report.projects.numbers,
                related=tuple(related),
            )
        sending_args = {
            "kingdee_connection": kingdee_connection,
            "rule_sets": {rules.name: rules for rules in rule_sets},
            "batch_size": batch_size,
            "max_attempts": max_attempts,
            "backoff": backoff,
            "settle_seconds": settle_seconds,
            "senders": senders,
        }
        # Twice at most: corrections posted in the first round release documents whose current
        # versions are then planned and sent in the second.
        for _round in range(2):
            hook = planned if not _round else None
            try:
                for rules in rule_sets:
                    plan = planning.plan_postings(
                        store,
                        rules=rules,
                        mapping=mapping,
                        source_connection=source_connection,
                        kingdee_connection=kingdee_connection,
                        kingdee_projects=report.projects.numbers,
                        related=tuple(related),
                        parties=parties,
                        chunk_documents=plan_part_documents if hook else None,
                        stored=partial(hook, store, client, done=False, **sending_args) if hook else None,
                    )
                    mapping = parties.bind_into(mapping)
                    report.plans[rules.name] = (
                        planning.merge_plans([report.plans[rules.name], plan]) if _round else plan
                    )
            finally:
                if hook is not None:
                    hook(store, client, done=True, **sending_args)
            pending = states.posting_counts(store, kingdee_connection).get(PostingState.PLANNED, 0)
            sent = (send or sending.send_postings)(
                store,
                client,
                progress=progress("post", pending) if not _round else None,
                read=read,
                **sending_args,
            )
            report.send = merge_sends([report.send, sent]) if report.send else sent
            if not corrections.finalize(store, kingdee_connection=kingdee_connection):
                break
        report.check = (check or readback.check_postings)(
            store,
            client,
            kingdee_connection=kingdee_connection,
            since=None if full_check else started,
            already=read,
        )
    except Exception as exc:
        runs.finish_run(store, run_id=run_id, status="failed", counts=report.counts(), message=str(exc))
        raise
    check, send, projects = report.check, report.send, report.projects
    assert check is not None and send is not None and projects is not None
    status = "succeeded" if check.clean and not send.failed else "attention"
    runs.finish_run(store, run_id=run_id, status=status, counts=report.counts())
    counts = states.posting_counts(store, kingdee_connection)
    pending = sum(counts.get(state, 0) for state in _PENDING)
    return SyncReport(
        run_id,
        report.pulls,
        report.validations,
        projects,
        report.plans,
        send,
        check,
        report.corrections,
        pending,
    )


def run_cost_sync(
    store: Store,
    connector: Connector,
    client: KingdeeClient,
    *,
    rules: RuleSet,
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    batch_size: int = 50,
    max_attempts: int = 3,
    backoff: float = 0.5,
    streams: tuple[str, ...] = ("projects", "cost_records"),
    step: Step | None = None,
    full_check: bool = True,
    senders: int = sending.DEFAULT_SENDERS,
) -> SyncReport:
    """The nightly cost job of reference case 1: one cost rule set (what `yecai demo` runs)."""
    return run_sync_job(
        store,
        connector,
        client,
        rule_sets=[rules],
        mapping=mapping,
        source_connection=source_connection,
        kingdee_connection=kingdee_connection,
        streams=streams,
        batch_size=batch_size,
        max_attempts=max_attempts,
        backoff=backoff,
        step=step,
        kind="cost_sync",
        full_check=full_check,
        senders=senders,
    )

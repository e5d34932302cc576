"""Fan-out: one run of a sync job shared by several workers, each posting once.

A job with `parts: N` (N > 1) plans under its own lease; as soon as enough is planned — after the
first part of a plan made a few projects at a time (`Fanout.planned`), else at its send step — it
queues N − 1 part tasks, each with a lease of its own (`job#k`), which send what is planned while
the job plans the rest (an open planning marker, a run `sync-plan:<job>`, tells them more is
coming); when it has planned it works as one of the senders itself. Every
sender is send's concurrent sender (`sending._Sender`) keeping its share of the data centre's
limit in flight: it takes batches of planned postings with `FOR UPDATE SKIP LOCKED` (a posting is
in one batch only, its key stored and the posting marked `sent` before the call), saves them, reads
each saved batch back by key at once (which gives the 凭证字号), checks those postings in Kingdee
from what it read, and records what it did as a part run.
An unknown outcome is left `uncertain`: nothing is looked up while other senders may still be
writing. When its own share is done the job withdraws the parts no worker has started, waits for
the running ones, and settles the rest once, alone: unknown outcomes looked up by key, leftovers
sent, Submit/Audit, dead letters (`sending.send_postings`). The check merges the parts' checks
with a check of every other posting the run touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from yecai.domain.posting_states import PostingState as S
from yecai.errors import Action
from yecai.jobs import leases
from yecai.jobs.runner import Heartbeat, Runtime, call_limiter, holder_name
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.kingdee.vouchers import FORM_ID as VOUCHER_FORM
from yecai.kingdee.vouchers import voucher_numbers
from yecai.mapping.rules import RuleSet
from yecai.settings import Settings
from yecai.store import runs
from yecai.store.clock import utcnow
from yecai.store.db import Store
from yecai.store.tables import Posting, Run
from yecai.sync import readback, sending
from yecai.sync.readback import PostingCheck
from yecai.sync.results import SendResult, merge_sends
from yecai.workspace import KingdeeConnection

log = logging.getLogger("yecai.jobs")

SEPARATOR = "#"
# Below this many batches a fan-out costs more (queueing, a lease per part) than it saves.
MIN_BATCHES = 4
# A sender stops taking batches after this many whole-call refusals or unknown outcomes in a row;
# what it leaves is planned or uncertain, and the job's final step settles it.
MAX_STREAK = 3
WAIT_POLL = 0.2
# Seconds between two questions of a sender whether its job still plans (its share widens then).
PLANNING_POLL = 0.5
ID_CHUNK = 10_000


def part_name(job: str, index: int) -> str:
    return f"{job}{SEPARATOR}{index}"


def part_kind(job: str) -> str:
    return f"sync-part:{job}"


def plan_kind(job: str) -> str:
    """The kind of a job's planning marker: a run open while the job plans beside its parts."""
    return f"sync-plan:{job}"


def _open_marker(store: Store, job: str, token: str, connection: str) -> None:
    with store.transaction() as session:
        session.add(
            Run(kind=plan_kind(job), connection=connection, status="running", counts={"fanout": token})
        )


def _close_markers(store: Store, job: str, *, token: str | None, status: str) -> None:
    """Close the job's open planning markers: the fan-out's (`token`), or every one (None: left
    open by a run that died, so that its parts stop waiting)."""
    with store.transaction() as session:
        for run in session.scalars(select(Run).where(Run.kind == plan_kind(job), Run.status == "running")):
            if token is None or (run.counts or {}).get("fanout") == token:
                run.status, run.finished_at = status, utcnow()


def planning_open(store: Store, job: str, token: str) -> bool:
    """Whether the job is still planning for the fan-out `token` (more postings may come)."""
    with store.transaction() as session:
        found = session.scalars(
            select(Run.counts).where(Run.kind == plan_kind(job), Run.status == "running")
        ).all()
    return any((counts or {}).get("fanout") == token for counts in found)


def _job_alive(store: Store, job: str, lease_seconds: float) -> bool:
    """Whether the job's own lease is running and heard from within `lease_seconds`."""
    lease = leases.get(store, job)
    if lease is None or lease.state != "running":
        return False
    last = lease.heartbeat_at or lease.started_at or lease.queued_at
    return utcnow() - last <= dt.timedelta(seconds=lease_seconds)


def planning_more(store: Store, job: str, token: str, lease_seconds: float) -> Callable[[], bool]:
    """A part's question when nothing is left to claim: is its job still planning, and alive?"""
    return lambda: planning_open(store, job, token) and _job_alive(store, job, lease_seconds)


def is_part(lease_job: str) -> bool:
    return SEPARATOR in lease_job


def job_of(part: str) -> str:
    """The sync job a part's lease name belongs to (`<job>#k` → `<job>`)."""
    return part.split(SEPARATOR, 1)[0]


@dataclass(slots=True)
class Share:
    """What one sender did with its share: the postings it took, and its send and check."""

    ids: list[int] = field(default_factory=list)
    send: SendResult = field(default_factory=SendResult)
    check: PostingCheck = field(default_factory=PostingCheck)
    checked: list[int] = field(default_factory=list)

    def as_counts(self, token: str) -> dict[str, Any]:
        check = self.check
        return {
            "fanout": token,
            "taken": len(self.ids),
            "checked_ids": self.checked,
            "send": asdict(self.send),
            "check": {
                "vouchers": check.vouchers,
                "debit_total": str(check.debit_total),
                "credit_total": str(check.credit_total),
                "posted": check.posted,
                "missing": check.missing,
                "duplicated": check.duplicated,
                "amount_mismatch": check.amount_mismatch,
                "unknown": check.unknown,
            },
        }


def _check_of(counts: Mapping[str, Any]) -> PostingCheck:
    data = counts["check"]
    return PostingCheck(
        vouchers=int(data["vouchers"]),
        debit_total=Decimal(data["debit_total"]),
        credit_total=Decimal(data["credit_total"]),
        posted=int(data["posted"]),
        missing=list(data["missing"]),
        duplicated=list(data["duplicated"]),
        amount_mismatch=list(data["amount_mismatch"]),
        unknown=list(data["unknown"]),
    )


def merge_checks(checks: list[PostingCheck]) -> PostingCheck:
    """Checks of disjoint sets of postings added up."""
    total = PostingCheck()
    for check in checks:
        total.vouchers += check.vouchers
        total.debit_total += check.debit_total
        total.credit_total += check.credit_total
        total.posted += check.posted
        total.missing += check.missing
        total.duplicated += check.duplicated
        total.amount_mismatch += check.amount_mismatch
        total.unknown += check.unknown
    return total


def _chunks(ids: list[int]) -> list[list[int]]:
    """Ids in groups a statement can carry (PostgreSQL takes at most 65,535 parameters)."""
    return [ids[start : start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK)]


def _number(store: Store, client: KingdeeClient, ids: list[int]) -> list[int]:
    """Read the 凭证字号 of the vouchers among `ids` now in Kingdee; the ids of those in Kingdee.

    No transaction stays open across the Kingdee queries: ids are read, Kingdee asked, then the
    numbers written in a unit of work of their own."""
    placed: list[int] = []
    unnumbered: dict[int, str] = {}
    with store.transaction() as session:
        for chunk in _chunks(ids):
            rows = session.execute(
                select(Posting.id, Posting.form_id, Posting.kingdee_id, Posting.kingdee_number).where(
                    Posting.id.in_(chunk), Posting.state.in_((S.SAVED, S.POSTED))
                )
            )
            for posting_id, form_id, kingdee_id, number in rows:
                placed.append(posting_id)
                if form_id == VOUCHER_FORM and kingdee_id and not number:
                    unnumbered[posting_id] = str(kingdee_id)
    if unnumbered:
        try:
            numbers = voucher_numbers(client, unnumbered.values())
        except KingdeeError:
            numbers = {}  # the number is for people; the final step reads what is missing
        found = {posting_id: numbers[k] for posting_id, k in unnumbered.items() if k in numbers}
        if found:
            with store.transaction() as session:
                # one executemany (bulk UPDATE by primary key), not a statement per voucher
                session.execute(
                    update(Posting),
                    [{"id": posting_id, "kingdee_number": number} for posting_id, number in found.items()],
                )
    return placed


class _PartSender(sending._Sender):
    """send's concurrent sender as one of several: no look-ups, and the ids it took remembered.

    While its job still plans (`more`), the job sends nothing: this sender keeps `wide` calls in
    flight, its share of the limit among the other senders, and its own share after (the limiter
    holds the data centre's limit whatever the shares add up to)."""

    def __init__(self, *args: Any, taken: list[int], wide: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, lookups=False, **kwargs)
        self.taken = taken
        # wider only for a part that can tell whether its job still plans
        self.wide = max(self.senders, wide or 0) if self.more is not None else self.senders
        self.pool_size = self.wide
        self._planning = True
        self._asked = 0.0  # when `more` was last asked (monotonic)

    def slots(self) -> int:
        if self.more is None or self.wide == self.senders or not self._planning:
            return self.senders
        now = time.monotonic()
        if now - self._asked >= PLANNING_POLL:
            self._asked = now
            self._planning = self.more()  # once over, the planning stays over
        return self.wide if self._planning else self.senders

    def _claim(self) -> sending._Flight | None:
        flight = super()._claim()
        if flight is not None:
            self.taken += flight.ids
        return flight


def slot_share(limit: int, parts: int) -> int:
    """Calls one sender keeps in flight: its share of the data centre's limit (the limiter, held
    around every call by every worker, still enforces the limit itself)."""
    return max(1, -(-limit // max(1, parts)))


def share(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    rule_sets: Mapping[str, RuleSet],
    batch_size: int,
    max_attempts: int,
    senders: int = 1,
    backoff: float = 0.5,
    progress: Callable[[int], None] | None = None,
    more: Callable[[], bool] | None = None,
    wide: int | None = None,
) -> Share:
    """Take and save batches, `senders` calls at once (`wide` while the job still plans), until
    none is left (and, with `more`, none is still being planned); then number and check what was
    saved (what was read back while sending is not asked about again)."""
    done = Share()
    read = readback.ReadBack()
    sender = _PartSender(
        store,
        client,
        kingdee_connection=kingdee_connection,
        rule_sets=rule_sets,
        batch_size=batch_size,
        max_attempts=max_attempts,
        options={},
        # A sender stops after this many refusals or unknown outcomes in a row; what it leaves is
        # planned or uncertain, and the job's final step settles it.
        max_refusals=MAX_STREAK,
        backoff=backoff,
        settle_seconds=None,
        moves=Settings().kingdee_period_moves,
        senders=senders,
        progress=progress,
        result=done.send,
        read=read,
        taken=done.ids,
        more=more,
        wide=wide,
    )
    # The whole share runs with no look-up: a refusal that ends it puts its postings back to
    # planned first, so only a throttled data centre's give-up is swallowed here.
    try:
        sender.run()
    except KingdeeError as exc:
        if exc.action != Action.RETRY:
            raise
        done.send.errors.append(f"分片发送方暂停 / sender stopped: {exc}")
    if done.ids:
        done.checked = _number(store, client, done.ids)
        done.check = merge_checks(
            [
                readback.check_postings(
                    store, client, kingdee_connection=kingdee_connection, ids=chunk, already=read
                )
                for chunk in _chunks(done.checked)
            ]
        )
    return done


def run_share(
    store: Store,
    client: KingdeeClient,
    *,
    job: str,
    token: str,
    kingdee_connection: str,
    rule_sets: Mapping[str, RuleSet],
    batch_size: int,
    max_attempts: int,
    senders: int = 1,
    backoff: float = 0.5,
    progress: Callable[[int], None] | None = None,
    more: Callable[[], bool] | None = None,
    wide: int | None = None,
) -> Share:
    """`share` as a part run of the job (the console's runs list; the final step reads it)."""
    run_id = runs.start_run(store, kind=part_kind(job), connection=kingdee_connection)
    try:
        done = share(
            store,
            client,
            kingdee_connection=kingdee_connection,
            rule_sets=rule_sets,
            batch_size=batch_size,
            max_attempts=max_attempts,
            senders=senders,
            backoff=backoff,
            progress=progress,
            more=more,
            wide=wide,
        )
    except Exception as exc:
        runs.finish_run(store, run_id=run_id, status="failed", counts={"fanout": token}, message=str(exc))
        raise
    status = "succeeded" if done.check.clean and not done.send.failed else "attention"
    runs.finish_run(store, run_id=run_id, status=status, counts=done.as_counts(token))
    return done


# Enqueue one part task: (job, part lease name, fan-out token) → the queue task's id, or None
# when the part's lease could not be claimed.
EnqueuePart = Callable[[str, str, str], str | None]


class Fanout:
    """The send and check steps of one run of a job whose sending is shared by `parts` senders."""

    def __init__(
        self,
        store: Store,
        *,
        job: str,
        parts: int,
        enqueue: EnqueuePart,
        lease_seconds: float,
        fence: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.job = job
        self.parts = parts
        self.enqueue = enqueue
        self.lease_seconds = lease_seconds
        self.fence = fence
        self.token = uuid.uuid4().hex
        self.fanned_out = 0  # part tasks queued by this run (all send rounds)
        self.begun = utcnow() - dt.timedelta(seconds=1)  # the store's timestamps may be rounded
        self._merged: set[int] = set()
        # parts queued while the job planned (`planned`): the send step has only its share left
        self._opened: SendResult | None = None

    # --- the parts' leases ----------------------------------------------------------------------

    def _part_leases(self) -> list[leases.Lease]:
        return leases.all_leases(self.store, prefix=f"{self.job}{SEPARATOR}")

    def _wait_for_parts(self) -> None:
        """Until no part of this job holds a lease: a silent one (its worker gone) is released —
        its fence stops it before its next call, and its unknown outcomes are settled here."""
        limit = dt.timedelta(seconds=self.lease_seconds)
        while True:
            found = self._part_leases()
            if not found:
                return
            now = utcnow()
            for lease in found:
                last = lease.heartbeat_at or lease.started_at or lease.queued_at
                if lease.state == "running" and now - last > limit:
                    log.warning(
                        "作业分片 %s 已失联，释放 / part %s went silent; released", lease.job, lease.job
                    )
                    leases.release(self.store, lease.job, task_id=lease.task_id)
            self.fence()
            time.sleep(WAIT_POLL)

    def _withdraw_unstarted(self) -> None:
        for lease in self._part_leases():
            if lease.state == "queued":
                leases.withdraw(self.store, lease.job, task_id=lease.task_id)

    # --- the steps ------------------------------------------------------------------------------

    def _prepare(
        self,
        store: Store,
        client: KingdeeClient,
        *,
        kingdee_connection: str,
        rules: dict[str, RuleSet],
        settle_seconds: float | None,
    ) -> SendResult:
        """Before parts are queued: the earlier runs' parts gone, then their unknown outcomes
        looked up (nothing is looked up while a sender of an earlier run may still be writing)."""
        # A planning marker left open by a run that died would keep its parts waiting.
        _close_markers(store, self.job, token=None, status="failed")
        self._withdraw_unstarted()
        self._wait_for_parts()
        settled = SendResult()
        sending.resolve_unknown(
            store,
            client,
            kingdee_connection=kingdee_connection,
            result=settled,
            rule_sets=rules,
            settle_seconds=settle_seconds,
        )
        return settled

    def _enqueue_parts(self) -> None:
        for index in range(1, self.parts):
            if self.enqueue(self.job, part_name(self.job, index), self.token) is not None:
                self.fanned_out += 1

    def planned(
        self,
        store: Store,
        client: KingdeeClient,
        *,
        done: bool,
        kingdee_connection: str,
        rule_sets: Mapping[str, RuleSet] | None = None,
        batch_size: int = 50,
        max_attempts: int = 3,
        settle_seconds: float | None = None,
        **_send_options: Any,
    ) -> None:
        """The pipeline's `Planned` hook: after a part of the first plan is stored, queue the
        parts once enough is planned (they send it while the rest is planned, the marker open);
        when the planning ends, however it ends, close the marker so that they stop at the end."""
        if done:
            _close_markers(store, self.job, token=self.token, status="succeeded")
            return
        if (
            self._opened is not None
            or _planned(store, kingdee_connection, max_attempts) < MIN_BATCHES * batch_size
        ):
            return
        self._opened = self._prepare(
            store,
            client,
            kingdee_connection=kingdee_connection,
            rules=dict(rule_sets or {}),
            settle_seconds=settle_seconds,
        )
        _open_marker(store, self.job, self.token, kingdee_connection)
        self._enqueue_parts()

    def send(
        self,
        store: Store,
        client: KingdeeClient,
        *,
        kingdee_connection: str,
        rule_sets: Mapping[str, RuleSet] | None = None,
        batch_size: int = 50,
        max_attempts: int = 3,
        backoff: float = 0.5,
        settle_seconds: float | None = None,
        progress: Callable[[int], None] | None = None,
        senders: int = sending.DEFAULT_SENDERS,
        read: readback.ReadBack | None = None,
    ) -> SendResult:
        """`sending.send_postings`, with the batches shared by the part tasks and this one.

        `senders` is the data centre's limit: each of the `parts` senders keeps its share of it in
        flight, and the final step, alone, all of it. Parts queued while planning (`planned`)
        are sending already: this task takes its share beside them."""
        rules = dict(rule_sets or {})
        opened, self._opened = self._opened, None
        if opened is not None:
            sends, fan = [opened], True
        else:
            settled = self._prepare(
                store,
                client,
                kingdee_connection=kingdee_connection,
                rules=rules,
                settle_seconds=settle_seconds,
            )
            sends = [settled]
            fan = _planned(store, kingdee_connection, max_attempts) >= MIN_BATCHES * batch_size
            if fan:
                self._enqueue_parts()
        if fan:
            try:
                run_share(
                    store,
                    client,
                    job=self.job,
                    token=self.token,
                    kingdee_connection=kingdee_connection,
                    rule_sets=rules,
                    batch_size=batch_size,
                    max_attempts=max_attempts,
                    senders=slot_share(senders, self.parts),
                    backoff=backoff,
                    progress=progress,
                )
            finally:
                # A part no worker has started is not needed any more: the work is taken (or this
                # run failed). The running ones finish before anything else happens, so a retry
                # never plans or looks up beside a sender still writing.
                self._withdraw_unstarted()
                self._wait_for_parts()
            sends += self._new_sends()
        # Alone now: unknown outcomes looked up by key, leftovers sent, later steps, dead letters.
        sends.append(
            sending.send_postings(
                store,
                client,
                kingdee_connection=kingdee_connection,
                rule_sets=rules,
                batch_size=batch_size,
                max_attempts=max_attempts,
                backoff=backoff,
                settle_seconds=settle_seconds,
                senders=senders,
                read=read,
            )
        )
        return merge_sends(sends)

    def _part_runs(self) -> dict[int, dict[str, Any]]:
        """Run id → counts, for every part run of this fan-out (this task's own shares included)."""
        with self.store.transaction() as session:
            rows = session.execute(
                select(Run.id, Run.counts).where(
                    Run.kind == part_kind(self.job), Run.started_at >= self.begun
                )
            ).all()
        return {int(i): dict(c) for i, c in rows if c and c.get("fanout") == self.token}

    def _new_sends(self) -> list[SendResult]:
        """The send results of the part runs not yet added up (a second send round has its own)."""
        found = []
        for run_id, counts in sorted(self._part_runs().items()):
            if run_id in self._merged or "send" not in counts:
                continue
            self._merged.add(run_id)
            found.append(SendResult(**counts["send"]))
        return found

    def check(
        self,
        store: Store,
        client: KingdeeClient,
        *,
        kingdee_connection: str,
        since: dt.datetime | None = None,
        already: readback.ReadBack | None = None,
    ) -> PostingCheck:
        """The parts' checks plus a check of every other posting the run touched (what this
        task's final step read back `already` is not asked about again)."""
        if since is None:
            return readback.check_postings(
                store, client, kingdee_connection=kingdee_connection, already=already
            )
        parts = [c for c in self._part_runs().values() if "check" in c]
        checked = {int(i) for c in parts for i in c["checked_ids"]}
        with store.transaction() as session:
            touched = set(
                session.scalars(
                    select(Posting.id).where(
                        Posting.connection == kingdee_connection, Posting.updated_at >= since
                    )
                )
            )
        rest = sorted(touched - checked)
        checks = [_check_of(c) for c in parts]
        checks += [
            readback.check_postings(
                store, client, kingdee_connection=kingdee_connection, ids=chunk, already=already
            )
            for chunk in _chunks(rest)
        ]
        return merge_checks(checks)


def _planned(store: Store, kingdee_connection: str, max_attempts: int) -> int:
    with store.transaction() as session:
        found = session.scalar(
            select(func.count())
            .select_from(Posting)
            .where(*sending._sendable(kingdee_connection, max_attempts))
        )
        return int(found or 0)


def execute_part(runtime: Runtime, job: str, part: str, *, task_id: str, token: str) -> str:
    """Run one part task: take the part's lease, share the sending under a heartbeat, release it.

    Whatever happens, the part is not retried: what it leaves planned or uncertain is settled by
    the job's final step, which waits for this lease to go.
    """
    store = runtime.store
    holder = holder_name()
    lease = leases.start(store, part, task_id=task_id, holder=holder)
    if lease is None:
        return "superseded"  # withdrawn: the job's own sender took the work first
    try:
        workspace = runtime.workspace()
        spec = workspace.syncs[job]
        target = workspace.connections[spec.target]
        assert isinstance(target, KingdeeConnection)
        options = runtime.options
        with Heartbeat(
            store, lease, holder, interval=options.heartbeat(), lease_seconds=options.lease_seconds
        ) as heartbeat:
            limiter = call_limiter(runtime, spec.target, target, heartbeat, holder)
            with workspace.kingdee(spec.target, runtime.secrets, limiter=limiter) as client:
                run_share(
                    store,
                    client,
                    job=job,
                    token=token,
                    kingdee_connection=spec.target,
                    rule_sets={rules.name: rules for rules in workspace.rule_sets(spec)},
                    batch_size=spec.batch_size,
                    max_attempts=spec.max_attempts,
                    senders=slot_share(target.max_concurrency, spec.parts),
                    more=planning_more(store, job, token, options.lease_seconds),
                    # while the job plans, the parts share the limit among themselves
                    wide=slot_share(target.max_concurrency, spec.parts - 1),
                )
    except Exception:
        log.exception(
            "作业分片 %s 失败，由作业收尾 / part %s failed; the job settles what it left", part, part
        )
        leases.release(store, part, task_id=task_id)
        return "failed"
    leases.release(store, part, task_id=task_id)
    return "done"

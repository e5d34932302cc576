"""Sending: planned postings → Kingdee, exactly once (invariant 2).

Kingdee's WebAPI has no idempotency key, so exactly-once is built here from what planning stored:
1. mark a batch `sent`, BatchSave it, and commit each package's Kingdee Id/number the moment it
   comes back; then Submit and Audit as the rule set asks (`lifecycle.py`);
2. whenever the outcome of a write is unknown (timeout, dropped connection, HTML error page,
   "number already used"), the posting becomes `uncertain` and is looked up in Kingdee by its key
   before anything is resent — a write is never replayed blindly;
3. whole-call refusals (throttling, an unreachable server) back off and give up after a few.
A voucher's number in yecai is the 凭证字号 Kingdee gave it (`2026-10 记-0012`, read back after the
save), the one an accountant looks it up by; its FBillNo stays where the key lives (`kingdee_key`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, literal, select, update
from sqlalchemy.orm import defer

from yecai import jsonutil
from yecai.domain.posting_states import UNKNOWN
from yecai.domain.posting_states import PostingState as S
from yecai.errors import Action
from yecai.kingdee.client import KingdeeClient, KingdeeError, PackageResult, SaveResult
from yecai.kingdee.keys import Found, find_by_keys, key_value
from yecai.kingdee.responses import delete_done
from yecai.kingdee.vouchers import FORM_ID as VOUCHER_FORM
from yecai.kingdee.vouchers import voucher_numbers
from yecai.mapping.rules import PeriodPolicy, RuleSet
from yecai.observability import metrics
from yecai.settings import Settings
from yecai.store.base import utc_now
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync import lifecycle, readback, restored, states
from yecai.sync.results import SendResult
from yecai.sync.states import state_after, transition

Progress = Callable[[int], None]

PRIMARY_KEYS = {"GL_VOUCHER": "FVOUCHERID"}
AMOUNT_FIELDS: dict[str, tuple[str, ...]] = {"GL_VOUCHER": ("FDEBITTOTAL", "FCREDITTOTAL")}


def _lookup_value(posting: Posting) -> str:
    return posting.kingdee_key or key_value(posting.key_field, posting.posting_key)


# A write that timed out may still be running in Kingdee (IIS finishes a request whose client has
# gone; its default execution timeout is 110 s). With a unique key (FBillNo, a unique custom field)
# Kingdee itself refuses the second copy; with the 摘要 token alone, an absent key proves nothing
# until that time has passed, so such postings wait this long before a lookup may clear them.
SUMMARY_SETTLE_SECONDS = 120.0


def _settled(posting: Posting, settle_seconds: float | None) -> bool:
    wait = (
        settle_seconds
        if settle_seconds is not None
        else (SUMMARY_SETTLE_SECONDS if posting.key_field == "summary" else 0.0)
    )
    if wait <= 0:
        return True
    changed = posting.updated_at
    if changed.tzinfo is None:  # SQLite gives naive UTC back
        changed = changed.replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - changed).total_seconds() >= wait


def resolve_unknown(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    result: SendResult,
    rule_sets: Mapping[str, RuleSet] | None = None,
    settle_seconds: float | None = None,
) -> None:
    """Ask Kingdee about every posting whose write outcome is unknown; settle each one.

    A posting found is confirmed; one not found goes back to planned — except a summary-keyed
    posting still inside its settle time, which stays uncertain (see SUMMARY_SETTLE_SECONDS).
    After a restore, postings the backup held as not sent are looked up first (`restored`).
    """
    # After a restore the backup's "not sent" may be stale: those postings are looked up first.
    result.found_after_restore += restored.settle_after_restore(
        store,
        lambda form_id, key_field, values: _find(client, form_id, key_field, values),
        kingdee_connection=kingdee_connection,
        confirm=lambda posting, hit: _confirm(posting, hit, rule_sets, reason="found by key after a restore"),
    )
    with store.transaction() as session:
        unknown = list(
            session.scalars(
                select(Posting).where(Posting.connection == kingdee_connection, Posting.state.in_(UNKNOWN))
            )
        )
        if not unknown:
            return
        groups: dict[tuple[str, str], list[Posting]] = defaultdict(list)
        for posting in unknown:
            groups[(posting.form_id, posting.key_field)].append(posting)
        for (form_id, key_field), postings in groups.items():
            found = _find(client, form_id, key_field, (_lookup_value(p) for p in postings))
            for posting in postings:
                if posting.kind == "update":
                    # rewriting with the same content again is harmless
                    transition(posting, S.PLANNED, reason="update resent after an unknown outcome")
                    result.reset_after_unknown += 1
                    continue
                hit = found.get(_lookup_value(posting))
                if hit is None:
                    if not _settled(posting, settle_seconds):
                        # may still land: ask again after the settle time
                        transition(posting, S.UNCERTAIN, reason="not found inside the settle time")
                        result.waiting += 1
                        continue
                    transition(posting, S.PLANNED, reason="not found after the settle time")
                    # The network lost it, not Kingdee refusing it: no attempt is used up.
                    posting.attempts = max(posting.attempts - 1, 0)
                    result.reset_after_unknown += 1
                    continue
                _confirm(posting, hit, rule_sets, reason="found by key")
                result.found_after_unknown += 1


def _find(client: KingdeeClient, form_id: str, key_field: str, values: Iterable[str]) -> dict[str, Found]:
    """Documents of the form carrying these key values: the one lookup every unknown outcome gets."""
    return find_by_keys(
        client,
        form_id,
        key_field,
        values,
        pk=PRIMARY_KEYS.get(form_id, "FID"),
        amount_fields=AMOUNT_FIELDS.get(form_id, ()),
    )


def _confirm(posting: Posting, hit: Found, rule_sets: Mapping[str, RuleSet] | None, *, reason: str) -> None:
    """A posting found in Kingdee by its key: its Id, status and step taken from what Kingdee holds."""
    posting.kingdee_id, posting.kingdee_number, posting.kingdee_status = (
        hit.id,
        _number_of(posting, hit.number),
        hit.status,
    )
    posting.response = jsonutil.dumps({"found_by_key": True, "Id": hit.id, "Number": hit.number})
    posting.error_action = posting.error_fault = posting.error_message = None
    posting.step = {"C": "audit", "B": "submit"}.get(hit.status or "", "save")
    target = state_after(posting, _rules_for(posting, rule_sets))
    if posting.state != target:  # a saved posting re-read after a restore may still be saved
        transition(posting, target, reason=reason)


def _number_of(posting: Posting, number: str | None) -> str | None:
    """A bill is known by its FBillNo; a voucher by its 凭证字号, read after the save (None till then)."""
    return None if posting.form_id == VOUCHER_FORM else number


def number_vouchers(store: Store, client: KingdeeClient, *, kingdee_connection: str) -> int:
    """Read the 凭证字号 of every voucher in Kingdee that yecai holds without one; how many were read.

    One query per 200 vouchers. A failed read leaves them unnumbered for the next run: the number
    is for people, the key (not the number) is what exactly-once relies on.
    """
    with store.transaction() as session:
        postings = list(
            session.scalars(
                select(Posting).where(
                    Posting.connection == kingdee_connection,
                    Posting.form_id == VOUCHER_FORM,
                    Posting.kingdee_id.is_not(None),
                    Posting.kingdee_number.is_(None),
                    Posting.state.in_((S.SAVED, S.POSTED)),
                )
            )
        )
        if not postings:
            return 0
        try:
            numbers = voucher_numbers(client, [p.kingdee_id for p in postings if p.kingdee_id])
        except KingdeeError:
            return 0
        for posting in postings:
            posting.kingdee_number = numbers.get(str(posting.kingdee_id))
        return sum(1 for p in postings if p.kingdee_number)


def _rules_for(posting: Posting, rule_sets: Mapping[str, RuleSet] | None) -> RuleSet | None:
    return (rule_sets or {}).get(posting.rule_set)


def _move_to_next_period(posting: Posting) -> str:
    """Re-date a posting to the first day of the next month (period policy next_open)."""
    old = posting.business_date
    new = (old.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    payload = jsonutil.loads(posting.payload)
    for key in ("FDate", "FDATE"):
        if key in payload:
            payload[key] = new.isoformat()
    posting.payload = jsonutil.dumps(payload)
    posting.business_date = new
    return (
        f"原日期 {old} 所在期间已结账，按策略改入 {new} / period of {old} is closed; moved to {new} by policy"
    )


def _apply_package(
    posting: Posting,
    package: PackageResult,
    rules: RuleSet | None,
    max_attempts: int,
    period_moves: int,
    result: SendResult,
) -> None:
    posting.response = jsonutil.dumps(
        {
            "DIndex": package.index,
            "Id": package.id,
            "Number": package.number,
            "Errors": [{"FieldName": m.field_name, "Message": m.message} for m in package.errors],
            "MsgCode": package.msg_code,
        }
    )
    if package.ok:
        posting.kingdee_id = package.id
        posting.kingdee_number = _number_of(posting, package.number)
        posting.step = "save"
        posting.kingdee_status = "A"
        posting.error_action = posting.error_fault = posting.error_message = posting.error_code = None
        transition(posting, state_after(posting, rules), reason="saved by BatchSave")
        if posting.state == S.POSTED:
            result.posted += 1
        return
    outcome = package.outcome
    assert outcome is not None
    posting.error_action = outcome.action.value
    posting.error_fault = outcome.fault.value
    posting.error_code = package.msg_code
    posting.error_message = f"{outcome.zh}：{package.describe()} / {outcome.en}"
    if outcome.tag == "closed_period" and rules is not None:
        if rules.period_policy is PeriodPolicy.NEXT_OPEN and posting.attempts < max_attempts + period_moves:
            posting.note = _move_to_next_period(posting)
            posting.attempts -= 1  # nobody's data: the period was closed, not the posting wrong
            transition(posting, S.PLANNED, reason="closed period, re-dated by policy")
            result.moved_period += 1
        else:
            transition(posting, S.HELD, reason="closed period, held by policy")
            posting.note = posting.error_message
            result.held += 1
        return
    if outcome.action == Action.UNCERTAIN:
        transition(posting, S.UNCERTAIN, reason="package outcome unknown")
    elif outcome.action == Action.RETRY and posting.attempts < max_attempts:
        transition(posting, S.PLANNED, reason="retryable refusal")
        result.retried += 1
    elif outcome.action == Action.RETRY:
        # retries exhausted: a dead letter, replayable
        transition(posting, S.DEAD, reason="retryable refusal, attempts exhausted")
        result.failed += 1
        result.errors.append(f"{posting.posting_key}: {posting.error_message}")
    else:
        # needs a fix of data or configuration, then a replay
        transition(posting, S.FAILED, reason="refused by Kingdee")
        result.failed += 1
        result.errors.append(f"{posting.posting_key}: {posting.error_message}")


def _sendable(kingdee_connection: str, max_attempts: int) -> tuple[Any, ...]:
    """Conditions of the postings a BatchSave may carry: planned, attempts left, not deletions.

    Every value is written into the statement: the same text all run long, so psycopg prepares it,
    and a prepared statement's generic plan then sees what a one-off plan would — the planned
    postings in id order from `ix_postings_planned`. With bound values PostgreSQL walked the
    primary key past every posting already sent, or sorted every planned one (issue 15)."""
    return (
        Posting.connection == _inline(kingdee_connection),
        Posting.state == _inline(S.PLANNED.value),
        Posting.attempts < _inline(max_attempts),
        Posting.kind != _inline("delete"),
    )


def _inline(value: object) -> Any:
    """A value rendered into the statement's text (escaped by the dialect), not bound."""
    return literal(value, literal_execute=True)


@dataclass(slots=True)
class _Taken:
    """A claimed posting: what a BatchSave needs of it."""

    id: int
    form_id: str
    payload: str


def claim_query(kingdee_connection: str, max_attempts: int, form_id: str, batch_size: int) -> Select[Any]:
    """The next planned postings of one form, locked: what a sender claims (`_sendable`: read in
    id order from `ix_postings_planned`, not past every posting already sent)."""
    return (
        select(Posting.id, Posting.form_id, Posting.payload)
        .where(*_sendable(kingdee_connection, max_attempts), Posting.form_id == _inline(form_id))
        .order_by(Posting.id)
        .limit(_inline(batch_size))
        # Two senders on PostgreSQL never take the same postings (SQLite serialises writers
        # anyway and ignores the clause).
        .with_for_update(skip_locked=True)
    )


def _take_batch(store: Store, kingdee_connection: str, max_attempts: int, batch_size: int) -> list[_Taken]:
    """The next batch of one form, marked `sent` with an attempt charged, committed before the call.

    Core statements, not the ORM: a slot waits for this between two calls (issue 15).
    """
    # The move every claimed posting makes, checked against the table once (as `transition` would).
    states.check_move(S.PLANNED, S.SENT, why="taken into a BatchSave")
    with store.transaction() as session:
        first = session.scalars(
            select(Posting.form_id)
            .where(*_sendable(kingdee_connection, max_attempts))
            .order_by(Posting.id)
            .limit(1)
        ).first()
        if first is None:
            return []
        batch = [
            _Taken(row.id, row.form_id, row.payload)
            for row in session.execute(claim_query(kingdee_connection, max_attempts, first, batch_size))
        ]
        if batch:
            # from here on the outcome may be unknown
            session.execute(
                update(Posting)
                .where(Posting.id.in_([taken.id for taken in batch]))
                .values(state=S.SENT.value, attempts=Posting.attempts + 1, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )
        return batch


# Calls in flight at once when the caller names no limit: a workspace's default `max_concurrency`.
DEFAULT_SENDERS = 4
# Keys read back in one query: several saved batches waiting for a slot go together, up to this.
READ_BACK_KEYS = 200
# Seconds a sender with nothing to claim waits before asking again whether more is being planned.
MORE_POLL = 0.1


@dataclass(slots=True)
class _Flight:
    """One call in flight: a BatchSave of claimed postings, or the read-back of saved ones."""

    ids: list[int]
    form_id: str = ""
    refs: list[readback.KeyRef] = field(default_factory=list)  # read-back: the keys asked for
    # BatchSave: what is sent, each model the posting's stored JSON text
    models: list[jsonutil.RawJSON] = field(default_factory=list)

    @property
    def is_read(self) -> bool:
        return bool(self.refs)


class _Sender:
    """Up to `senders` BatchSave and read-back calls in flight; every store write on this thread.

    Batches are claimed here (committed `sent` with an attempt charged, before the call), sent by
    worker threads that only talk HTTP, and their answers stored here as they come back — so on
    SQLite this thread is the single writer, and on PostgreSQL a claim also skips rows another
    sender holds (`FOR UPDATE SKIP LOCKED`). A saved batch is read back by key at once, in the same
    slots. When an outcome is unknown, nothing new is claimed until every call in flight has come
    back and the unknown postings have been looked up (a posting still in flight must never be
    taken for lost).
    """

    def __init__(
        self,
        store: Store,
        client: KingdeeClient,
        *,
        kingdee_connection: str,
        rule_sets: Mapping[str, RuleSet] | None,
        batch_size: int,
        max_attempts: int,
        options: dict[str, object],
        max_refusals: int,
        backoff: float,
        settle_seconds: float | None,
        moves: int,
        senders: int,
        progress: Progress | None,
        result: SendResult,
        read: readback.ReadBack,
        lookups: bool = True,
        more: Callable[[], bool] | None = None,
    ) -> None:
        self.store, self.client, self.connection = store, client, kingdee_connection
        # False for one of several senders sharing a run (`yecai.jobs.parts`): another sender's
        # batch in flight would look lost, so unknown outcomes stay uncertain for the job to settle
        # once it sends alone; this sender only pauses until its own calls are back.
        self.lookups = lookups
        # Whether more postings may still be planned (a part sending while its job plans): when
        # nothing is left to claim, this sender waits for them instead of ending.
        self.more = more
        self.rule_sets, self.batch_size, self.max_attempts = rule_sets, batch_size, max_attempts
        self.options, self.max_refusals, self.backoff = options, max_refusals, backoff
        self.settle_seconds, self.moves, self.senders = settle_seconds, moves, max(1, senders)
        self.pool_size = self.senders  # threads for calls: the most `slots()` may ever say
        self.progress, self.result, self.read = progress, result, read
        self.refusals = 0  # consecutive call-level refusals; the run gives up after max_refusals
        self.unknown_streak = 0  # consecutive batches whose outcome was unknown
        self.pause_until = 0.0  # no new BatchSave before this (backoff after a refusal)
        # Unknown outcomes are settled before anything new is sent: those left by an earlier run
        # first, then after every batch that left one.
        self.settle = True
        self.fatal: BaseException | None = None
        self.reads: deque[_Flight] = deque()  # saved batches waiting for a slot to be read back

    def run(self) -> None:
        flying: dict[Future[Any], _Flight] = {}
        drained = False  # no planned posting was left at the last claim
        with ThreadPoolExecutor(self.pool_size, thread_name_prefix="yecai-send") as pool:
            while True:
                stopping = self.fatal is not None or self.result.interrupted
                if self.settle and not flying and not stopping:
                    if self.lookups:
                        resolve_unknown(
                            self.store,
                            self.client,
                            kingdee_connection=self.connection,
                            result=self.result,
                            rule_sets=self.rule_sets,
                            settle_seconds=self.settle_seconds,
                        )
                    self.settle, drained = False, False
                    if self.unknown_streak > self.max_refusals:
                        # The link keeps failing mid-write: stop this run (nothing is lost — every
                        # posting is planned or uncertain) and let the next run, or the retry, go on.
                        self.result.errors.append(
                            f"连续 {self.unknown_streak} 次写入结果不明，本次运行中止 / "
                            f"{self.unknown_streak} unknown write outcomes in a row; run stopped"
                        )
                        self.result.interrupted = stopping = True
                drained = self._fill(pool, flying, drained, stopping)
                if not flying:
                    if stopping or (drained and not self.reads and not self.settle):
                        if stopping or self.more is None or not self.more():
                            break
                        time.sleep(MORE_POLL)
                        drained = False
                        continue
                    time.sleep(max(0.0, self.pause_until - time.monotonic()))
                    continue
                wait_for = max(0.0, self.pause_until - time.monotonic()) or None
                done, _ = wait(flying, timeout=wait_for, return_when=FIRST_COMPLETED)
                landed = [(flying.pop(future), future) for future in done]
                if all(future.exception() is None for _flight, future in landed):
                    # The freed slots are filled before the answers are stored, so a slot does not
                    # idle while the store takes them in. As if the new calls had left a moment
                    # earlier: an unknown outcome among the answers still stops further claims,
                    # and look-ups still wait until nothing is in flight. A failed call is stored
                    # first (its refusal or unknown outcome decides what may be sent next).
                    drained = self._fill(
                        pool, flying, drained, self.fatal is not None or self.result.interrupted
                    )
                for flight, future in landed:
                    self._landed(flight, future)
                    # a landed save may have put postings back to planned (a retry, a new period)
                    drained = drained and flight.is_read
        if self.fatal is not None:
            raise self.fatal

    def _fill(
        self, pool: ThreadPoolExecutor, flying: dict[Future[Any], _Flight], drained: bool, stopping: bool
    ) -> bool:
        """Start calls in the free slots: read-backs first, then new batches; whether drained."""
        # After a refusal (throttling, an unreachable server) one call probes at a time
        # until a save goes through: a throttled data centre is not hit by a full burst.
        slots = self.slots()
        while len(flying) < (1 if self.refusals else slots) and not stopping:
            # Once nothing is left to save, the last read-backs share the free slots
            # instead of going as one long query while the other slots idle.
            flight = self._next_read(slots - len(flying) if drained else 1)
            if flight is None:
                if drained or self.settle or time.monotonic() < self.pause_until:
                    break
                flight = self._claim()
                if flight is None:
                    drained = True
                    break
            flying[pool.submit(self._call, flight)] = flight
        return drained

    def slots(self) -> int:
        """Calls this sender keeps in flight now."""
        return self.senders

    def _claim(self) -> _Flight | None:
        batch = _take_batch(self.store, self.connection, self.max_attempts, self.batch_size)
        if not batch:
            return None
        self.result.calls += 1
        # the stored payloads go into the request as they are (RawJSON): not parsed to be written again
        models = [jsonutil.RawJSON(p.payload) for p in batch]
        return _Flight([p.id for p in batch], batch[0].form_id, models=models)

    def _next_read(self, slots: int = 1) -> _Flight | None:
        """Saved batches waiting to be read back, several together up to READ_BACK_KEYS keys —
        or, with `slots` free and nothing left to save, about an equal share of what waits each."""
        if not self.reads:
            return None
        most = READ_BACK_KEYS
        if slots > 1:
            waiting = sum(len(f.refs) for f in self.reads)
            most = min(most, max(-(-waiting // slots), 1))
        flight = self.reads.popleft()
        while self.reads and len(flight.refs) + len(self.reads[0].refs) <= most:
            more = self.reads.popleft()
            flight = _Flight(flight.ids + more.ids, flight.form_id, flight.refs + more.refs)
        return flight

    def _call(self, flight: _Flight) -> Any:
        """On a worker thread: HTTP only, never the store."""
        if flight.is_read:
            return readback.read_back(self.client, flight.refs)
        save_options = {"IsVerifyBaseDataField": True, "IsDeleteEntry": True, **self.options}
        return self.client.batch_save(flight.form_id, flight.models, **save_options)

    def _landed(self, flight: _Flight, future: Future[Any]) -> None:
        error = future.exception()
        if flight.is_read:
            if error is None:
                self._store_read(flight, future.result())
            # A failed read-back is not an error: the check at the end of the run reads again.
            return
        if isinstance(error, KingdeeError):
            self._save_failed(flight, error)
        elif error is not None:
            # Not Kingdee's answer: a fault of ours. The batch stays `sent` — looked up next run.
            self.fatal = self.fatal or error
        else:
            self._saved(flight, future.result())

    def _save_failed(self, flight: _Flight, exc: KingdeeError) -> None:
        if exc.action == Action.UNCERTAIN:
            _move_all(self.store, flight.ids, S.UNCERTAIN, reason="BatchSave outcome unknown")
            metrics.count_postings(self.connection, "uncertain", len(flight.ids))
            self.unknown_streak += 1
            self.settle = True
            self.pause_until = time.monotonic() + self.backoff
            return
        # Refused before anything ran (throttled, unreachable, credentials …): the postings go
        # back to planned without using up an attempt — it was nobody's data.
        _move_all(
            self.store, flight.ids, S.PLANNED, reason="BatchSave refused before anything ran", refund=True
        )
        metrics.count_postings(self.connection, "refused", len(flight.ids))
        if exc.action == Action.RETRY and self.refusals < self.max_refusals:
            self.refusals += 1
            self.result.retried += len(flight.ids)
            self.pause_until = time.monotonic() + min(self.backoff * 2**self.refusals, 30.0)
            return
        self.fatal = self.fatal or exc

    def _saved(self, flight: _Flight, answer: SaveResult) -> None:
        self.refusals = 0
        self.unknown_streak = 0
        self.result.sent += len(flight.ids)
        outcomes: list[str] = []
        refs: list[readback.KeyRef] = []
        with self.store.transaction() as session:
            # the payload (the Model just sent) is read only to re-date one into the next period
            saved = select(Posting).options(defer(Posting.payload)).where(Posting.id.in_(flight.ids))
            fresh = {p.id: p for p in session.scalars(saved)}
            for posting_id, package in zip(flight.ids, answer.packages, strict=True):
                posting = fresh[posting_id]
                rules = _rules_for(posting, self.rule_sets)
                _apply_package(posting, package, rules, self.max_attempts, self.moves, self.result)
                # planned again: a retry (or re-dated into the next open period) in a later batch
                outcomes.append("retry" if posting.state == S.PLANNED else posting.state)
                if not package.ok and package.outcome and package.outcome.action == Action.RETRY:
                    self.pause_until = time.monotonic() + self.backoff
                if package.ok and posting.form_id == VOUCHER_FORM:
                    refs.append(readback.key_ref(posting))
        # Counted once committed; the outcome is the state each posting took from Kingdee's answer.
        for state in outcomes:
            metrics.count_postings(self.connection, state)
        if any(not p.ok and p.outcome and p.outcome.action == Action.UNCERTAIN for p in answer.packages):
            self.settle = True
        if refs:
            self.reads.append(_Flight(flight.ids, flight.form_id, refs))
        if self.progress:
            self.progress(len(flight.ids))

    def _store_read(self, flight: _Flight, vouchers: dict[str, readback.KingdeeVoucher]) -> None:
        """Remember what was read for the run's check, and give each voucher its 凭证字号."""
        self.read.add((ref.posting_key for ref in flight.refs), vouchers)
        labels = {v.id: v.label for v in vouchers.values() if v.label}
        if not labels:
            return
        with self.store.transaction() as session:
            read = select(Posting).options(defer(Posting.payload)).where(Posting.id.in_(flight.ids))
            for posting in session.scalars(read):
                if posting.kingdee_id in labels and not posting.kingdee_number:
                    posting.kingdee_number = labels[posting.kingdee_id]


def send_postings(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    rule_sets: Mapping[str, RuleSet] | None = None,
    batch_size: int = 50,
    max_attempts: int = 3,
    progress: Progress | None = None,
    options: dict[str, object] | None = None,
    max_refusals: int = 6,
    backoff: float = 0.5,
    settle_seconds: float | None = None,
    period_moves: int | None = None,
    senders: int = DEFAULT_SENDERS,
    read: readback.ReadBack | None = None,
) -> SendResult:
    """Send every planned posting of the connection; settle unknown outcomes first.

    Postings are saved in batches of one form each (vouchers with BatchSave on GL_VOUCHER, bills
    on their own form), up to `senders` calls at once (the data centre's concurrency limit; the
    client's limiter, when it has one, still holds a slot around each call); each saved batch of
    vouchers is read back by key at once, into `read` (what the run's check then need not ask
    again), which also gives the vouchers their 凭证字号. Then the Submit/Audit steps a rule set
    asks for are done. A posting is charged an attempt only when a BatchSave that carried it could
    have reached Kingdee's validation; after `max_attempts` it becomes a dead letter. Whole-call
    refusals (throttling, an unreachable server) back off exponentially from `backoff` seconds up
    to 30 s and end the run after `max_refusals` in a row. `period_moves` defaults to the setting
    `kingdee_period_moves` (YECAI_KINGDEE_PERIOD_MOVES).
    """
    result = SendResult()
    moves = Settings().kingdee_period_moves if period_moves is None else period_moves
    _send_deletions(store, client, kingdee_connection=kingdee_connection, result=result)
    _Sender(
        store,
        client,
        kingdee_connection=kingdee_connection,
        rule_sets=rule_sets,
        batch_size=batch_size,
        max_attempts=max_attempts,
        options=dict(options or {}),
        max_refusals=max_refusals,
        backoff=backoff,
        settle_seconds=settle_seconds,
        moves=moves,
        senders=senders,
        progress=progress,
        result=result,
        read=read if read is not None else readback.ReadBack(),
    ).run()
    lifecycle.advance(
        store, client, kingdee_connection=kingdee_connection, rule_sets=rule_sets or {}, result=result
    )
    number_vouchers(store, client, kingdee_connection=kingdee_connection)
    _fail_exhausted(store, kingdee_connection, max_attempts, result)
    return result


def _send_deletions(
    store: Store, client: KingdeeClient, *, kingdee_connection: str, result: SendResult
) -> None:
    """Corrections that delete an unaudited voucher whose documents are all gone from the source."""
    with store.transaction() as session:
        for posting in session.scalars(
            select(Posting).where(
                Posting.connection == kingdee_connection,
                Posting.kind == "delete",
                Posting.state.in_((S.PLANNED, S.UNCERTAIN, S.SENT)),
            )
        ):
            original = session.get(Posting, posting.reverses_id) if posting.reverses_id else None
            if original is None or not original.kingdee_id:
                transition(posting, S.FAILED, reason="the voucher to delete is unknown")
                posting.error_message = "找不到要删除的凭证 / the voucher to delete is unknown"
                continue
            posting.attempts += 1
            try:
                answer = client.delete(original.form_id, ids=[original.kingdee_id])
            except KingdeeError as exc:
                retry = exc.action in (Action.RETRY, Action.UNCERTAIN)
                transition(posting, S.PLANNED if retry else S.FAILED, reason="Delete call failed")
                posting.error_message = str(exc)
                continue
            package = answer.packages[0]
            if delete_done(package.outcome):  # deleted now, or already gone: the goal is reached
                transition(posting, S.POSTED, reason="deleted from Kingdee")
                result.posted += 1
            else:
                transition(posting, S.FAILED, reason="Delete refused")
                posting.error_message = package.describe()
                result.failed += 1


def _move_all(store: Store, ids: Iterable[int], to: S, *, reason: str, refund: bool = False) -> None:
    """Move a whole batch; `refund` gives back the attempt charged when it was taken."""
    with store.transaction() as session:
        for posting in session.scalars(select(Posting).where(Posting.id.in_(list(ids)))):
            transition(posting, to, reason=reason)
            if refund:
                posting.attempts -= 1


def _fail_exhausted(store: Store, kingdee_connection: str, max_attempts: int, result: SendResult) -> None:
    with store.transaction() as session:
        for posting in session.scalars(
            select(Posting).where(
                Posting.connection == kingdee_connection,
                Posting.state == S.PLANNED,
                Posting.attempts >= max_attempts,
            )
        ):
            transition(posting, S.DEAD, reason="attempts exhausted")
            posting.error_message = (
                posting.error_message or ""
            ) + f"（已尝试 {posting.attempts} 次 / after {posting.attempts} attempts）"
            result.failed += 1
            result.errors.append(f"{posting.posting_key}: {posting.error_message}")

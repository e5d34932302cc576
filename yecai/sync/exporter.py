"""Exporter: documents → planned postings → Kingdee, exactly once.

Kingdee's WebAPI has no idempotency key, so exactly-once is built here (invariant 2):
1. plan: group unbound documents into vouchers and store each posting with its key, payload and
   document bindings *before* anything is sent;
2. send: mark a batch `sent`, BatchSave it, and commit each package's Kingdee Id/number the
   moment it comes back; then Submit and Audit as the rule set asks (`lifecycle.py`);
3. whenever the outcome of a write is unknown (timeout, dropped connection, HTML error page,
   "number already used"), the posting becomes `uncertain` and is looked up in Kingdee by the key
   token in its 摘要 before anything is resent — a write is never replayed blindly.
The key is written where the rule set says (摘要 token, deterministic FBillNo, or a custom field).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.domain.bills import Bill
from yecai.domain.documents import DOCUMENT_TYPES, Project
from yecai.errors import Action
from yecai.kingdee.client import KingdeeClient, KingdeeError, PackageResult
from yecai.kingdee.keys import find_by_keys, key_value
from yecai.kingdee.vouchers import VoucherTarget, voucher_model
from yecai.mapping import registry
from yecai.mapping.events.revenue import HISTORY_KEY
from yecai.mapping.interface import Held, PlannableDocument, Planned, PlanningContext, Unmapped
from yecai.mapping.rules import Event, MappingTable, PeriodPolicy, RuleSet
from yecai.observability import metrics
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, PostingLine
from yecai.sync import lifecycle

Progress = Callable[[int], None]

UNKNOWN_STATES = ("sent", "uncertain")
# Posting states: awaiting_approval → planned → sent → saved (Submit/Audit still due) → posted;
# sent/uncertain are looked up by key before anything is resent; failed (fix data or
# configuration, then replay), dead (retries exhausted: a dead letter), held (closed period by
# policy), skipped (by a person, with a reason).
STATES = (
    "awaiting_approval",
    "planned",
    "sent",
    "uncertain",
    "saved",
    "posted",
    "failed",
    "dead",
    "held",
    "skipped",
)
PRIMARY_KEYS = {"GL_VOUCHER": "FVOUCHERID"}
AMOUNT_FIELDS: dict[str, tuple[str, ...]] = {"GL_VOUCHER": ("FDEBITTOTAL", "FCREDITTOTAL")}


@dataclass(slots=True)
class PlanResult:
    documents: int = 0  # documents considered (latest versions not yet posted)
    planned: int = 0  # new postings stored
    already_planned: int = 0  # postings that existed with the same key
    already_bound: int = 0  # source keys whose current version is already posted
    changed_after_posting: list[str] = field(default_factory=list)  # source keys held back
    deleted_after_posting: list[str] = field(default_factory=list)  # held for reversal by policy
    unmapped: list[Unmapped] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    zero_groups: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SendResult:
    sent: int = 0  # postings included in a BatchSave
    posted: int = 0  # confirmed in Kingdee by this run
    found_after_unknown: int = 0  # uncertain writes that turned out to have landed
    reset_after_unknown: int = 0  # uncertain writes that had not landed (sent again)
    retried: int = 0
    failed: int = 0
    held: int = 0  # closed period, period policy hold
    moved_period: int = 0  # closed period, moved to the next open one by policy
    waiting: int = 0  # outcome unknown, inside the settle time: asked again by a later run
    interrupted: bool = False  # the run stopped early (unknown outcomes kept coming); resume later
    submitted: int = 0
    audited: int = 0
    compensated: int = 0  # saved documents deleted again after a later step failed
    calls: int = 0
    errors: list[str] = field(default_factory=list)


def merge_plans(plans: list[PlanResult]) -> PlanResult:
    """Several rule sets' plan results added up."""
    total = PlanResult()
    for plan in plans:
        total.documents += plan.documents
        total.planned += plan.planned
        total.already_planned += plan.already_planned
        total.already_bound += plan.already_bound
        total.changed_after_posting += plan.changed_after_posting
        total.deleted_after_posting += plan.deleted_after_posting
        total.unmapped += plan.unmapped
        total.held += plan.held
        total.zero_groups += plan.zero_groups
    return total


def merge_sends(sends: list[SendResult]) -> SendResult:
    """Several send rounds' results added up."""
    total = SendResult()
    for send in sends:
        for name in SendResult.__dataclass_fields__:
            value, current = getattr(send, name), getattr(total, name)
            setattr(total, name, (current or value) if isinstance(value, bool) else current + value)
    return total


def target_of(rules: RuleSet) -> VoucherTarget:
    k = rules.kingdee
    return VoucherTarget(k.account_book, k.voucher_group, k.currency, k.rate_type, k.key_field)


def _latest_documents(session: Session, connection: str, kind: str) -> dict[str, Document]:
    latest: dict[str, Document] = {}
    for doc in session.scalars(
        select(Document).where(Document.connection == connection, Document.kind == kind).order_by(Document.id)
    ):
        latest[doc.source_key] = doc  # ascending ids: the last one seen is the newest version
    return latest


def _bound(session: Session, connection: str, kind: str, rule_set: str) -> dict[str, set[int]]:
    """Source key → ids of its document versions already bound to a posting of this rule set."""
    rows = session.execute(
        select(Document.source_key, Document.id)
        .join(PostingLine, PostingLine.document_id == Document.id)
        .where(
            Document.connection == connection,
            Document.kind == kind,
            PostingLine.rule_set == rule_set,
            PostingLine.active.is_(True),
        )
    )
    bound: dict[str, set[int]] = {}
    for key, doc_id in rows:
        bound.setdefault(key, set()).add(doc_id)
    return bound


def _amount_of(model: object) -> Decimal:
    amount = getattr(model, "amount", None)
    return amount if isinstance(amount, Decimal) else Decimal("0.00")


def _documents_of(planned: Planned) -> list[tuple[int, int]]:
    """(document id, line number) for each document a planned posting carries, first line wins."""
    if isinstance(planned, Bill):
        return [(doc_id, 1) for doc_id in dict.fromkeys(planned.document_ids)]
    seen: dict[int, int] = {}
    for number, line in enumerate(planned.lines, start=1):
        for doc_id in line.document_ids:
            seen.setdefault(doc_id, number)
    return list(seen.items())


def plan_postings(
    store: Store,
    *,
    rules: RuleSet,
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    kingdee_projects: set[str] | None = None,
    related: tuple[str, ...] = (),
) -> PlanResult:
    """Store planned postings for every document of the rule set not yet posted (idempotent).

    `related` names document kinds the rule set's planner consults (e.g. contracts).
    """
    result = PlanResult()
    target = target_of(rules)
    model_of = DOCUMENT_TYPES[rules.document]
    # the kinds the event's planner consults, besides any the sync job names
    related = tuple(dict.fromkeys([*related, *registry.spec_of(rules.event).related]))
    with store.transaction() as session:
        names = {
            key: Project.model_validate(jsonutil.loads(doc.data)).name
            for key, doc in _latest_documents(session, source_connection, "project").items()
            if not doc.deleted
        }
        related_models = {
            kind: [
                DOCUMENT_TYPES[kind].model_validate(jsonutil.loads(doc.data))
                for doc in _latest_documents(session, source_connection, kind).values()
                if not doc.deleted
            ]
            for kind in related
        }
        latest = _latest_documents(session, source_connection, rules.document)
        bound = _bound(session, source_connection, rules.document, rules.name)
        documents: list[PlannableDocument] = []
        amounts: dict[int, Decimal] = {}
        for key, doc in latest.items():
            if doc.deleted:
                # Deleted in the source: nothing to post; if it was posted, a reversal is due
                # by policy — held and reported, never silently dropped.
                if key in bound:
                    result.deleted_after_posting.append(key)
                continue
            if key in bound:
                if doc.id in bound[key]:
                    result.already_bound += 1
                else:
                    # A source change after posting is a correction (update or 红字冲销 by policy),
                    # never a second posting of the same amount.
                    result.changed_after_posting.append(key)
                continue
            model = model_of.model_validate(jsonutil.loads(doc.data))
            documents.append(PlannableDocument(doc.id, doc.version, model))
            amounts[doc.id] = _amount_of(model)
        result.documents = len(documents)
        context = PlanningContext(
            connection=kingdee_connection,
            project_names=names,
            kingdee_projects=kingdee_projects,
            related=related_models,
            history=_history(session, rules, kingdee_connection),
            today=dt.date.today(),
        )
        plan = registry.plan(documents, rules, mapping, context)
        result.unmapped = plan.unmapped
        result.held = plan.held
        result.zero_groups = plan.zero_groups
        keys = [p.posting_key for p in plan.postings]
        existing: set[str] = set()
        for start in range(0, len(keys), 500):
            existing.update(
                session.scalars(
                    select(Posting.posting_key).where(Posting.posting_key.in_(keys[start : start + 500]))
                )
            )
        for planned in plan.postings:
            if planned.posting_key in existing:
                result.already_planned += 1
                continue
            if isinstance(planned, Bill):
                form_id, payload = planned.form_id, planned.model()
                debit = credit = planned.amount
                key_field, kingdee_key = "bill_no", planned.bill_no
            else:
                form_id, payload = rules.form_id, voucher_model(planned, target)
                debit, credit = planned.debit_total, planned.credit_total
                key_field, kingdee_key = target.key_field, key_value(target.key_field, planned.posting_key)
            posting = Posting(
                posting_key=planned.posting_key,
                connection=kingdee_connection,
                rule_set=rules.name,
                form_id=form_id,
                group_key=planned.group_key,
                business_date=planned.date,
                state="awaiting_approval" if rules.approval else "planned",
                debit_total=debit,
                credit_total=credit,
                payload=jsonutil.dumps(payload),
                attempts=0,
                key_field=key_field,
                kingdee_key=kingdee_key,
            )
            posting.lines = [
                PostingLine(document_id=doc_id, rule_set=rules.name, line_no=line_no, amount=amounts[doc_id])
                for doc_id, line_no in _documents_of(planned)
            ]
            session.add(posting)
            result.planned += 1
    return result


def _set_state(store: Store, ids: Iterable[int], state: str) -> None:
    with store.transaction() as session:
        for posting in session.scalars(select(Posting).where(Posting.id.in_(list(ids)))):
            posting.state = state


# Postings whose amounts count as recognised: in Kingdee or on their way there. Reversed,
# superseded, failed, dead and skipped ones do not (their lines are inactive or never landed).
_RECOGNISED = ("awaiting_approval", "planned", "sent", "uncertain", "saved", "posted", "held")


def _history(session: Session, rules: RuleSet, kingdee_connection: str) -> dict[str, object]:
    """What earlier postings of this rule set recognised, for planners that build on it.

    Revenue by the input method needs, per project, the cost and the revenue recognised before
    this run: a revised estimate then catches up in the period it changes (CAS 14), instead of
    each period being priced as if it were the first. Cost comes from the active posting lines,
    revenue from the credit to the revenue accounts in the stored payloads.
    """
    if rules.event is not Event.REVENUE:
        return {}
    revenue_accounts = {rules.account("revenue")} | {
        accounts["revenue"] for accounts in rules.standard_accounts.values() if "revenue" in accounts
    }
    to_date: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"cost": Decimal(0), "revenue": Decimal(0)})
    query = (
        select(Posting.group_key, Posting.payload, func.sum(PostingLine.amount))
        .join(PostingLine, PostingLine.posting_id == Posting.id)
        .where(
            Posting.connection == kingdee_connection,
            Posting.rule_set == rules.name,
            Posting.kind != "reversal",
            Posting.state.in_(_RECOGNISED),
            PostingLine.active,
        )
        .group_by(Posting.id, Posting.group_key, Posting.payload)
    )
    for group_key, payload, cost in session.execute(query):
        project = str(group_key).split("|", 1)[0]
        figures = to_date[project]
        figures["cost"] += Decimal(cost or 0)
        for line in jsonutil.loads(payload).get("FEntity", []):
            if (line.get("FACCOUNTID") or {}).get("FNumber") in revenue_accounts:
                figures["revenue"] += Decimal(str(line.get("FCREDIT") or 0)) - Decimal(
                    str(line.get("FDEBIT") or 0)
                )
    return {HISTORY_KEY: dict(to_date)}


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
    """
    with store.transaction() as session:
        unknown = list(
            session.scalars(
                select(Posting).where(
                    Posting.connection == kingdee_connection, Posting.state.in_(UNKNOWN_STATES)
                )
            )
        )
        if not unknown:
            return
        groups: dict[tuple[str, str], list[Posting]] = defaultdict(list)
        for posting in unknown:
            groups[(posting.form_id, posting.key_field)].append(posting)
        for (form_id, key_field), postings in groups.items():
            found = find_by_keys(
                client,
                form_id,
                key_field,
                (_lookup_value(p) for p in postings),
                pk=PRIMARY_KEYS.get(form_id, "FID"),
                amount_fields=AMOUNT_FIELDS.get(form_id, ()),
            )
            for posting in postings:
                if posting.kind == "update":
                    posting.state = "planned"  # rewriting with the same content again is harmless
                    result.reset_after_unknown += 1
                    continue
                hit = found.get(_lookup_value(posting))
                if hit is None:
                    if not _settled(posting, settle_seconds):
                        posting.state = "uncertain"  # may still land: ask again after the settle time
                        result.waiting += 1
                        continue
                    posting.state = "planned"  # provably not in Kingdee: safe to send again
                    # The network lost it, not Kingdee refusing it: no attempt is used up.
                    posting.attempts = max(posting.attempts - 1, 0)
                    result.reset_after_unknown += 1
                    continue
                posting.kingdee_id, posting.kingdee_number, posting.kingdee_status = (
                    hit.id,
                    hit.number,
                    hit.status,
                )
                posting.response = jsonutil.dumps({"found_by_key": True, "Id": hit.id, "Number": hit.number})
                posting.error_action = posting.error_fault = posting.error_message = None
                posting.step = {"C": "audit", "B": "submit"}.get(hit.status or "", "save")
                posting.state = _state_after(posting, _rules_for(posting, rule_sets))
                result.found_after_unknown += 1


def _rules_for(posting: Posting, rule_sets: Mapping[str, RuleSet] | None) -> RuleSet | None:
    return (rule_sets or {}).get(posting.rule_set)


def _state_after(posting: Posting, rules: RuleSet | None) -> str:
    """`posted` once every step the rule set asks for is done; else `saved` (more steps due)."""
    wanted = "audit" if rules and rules.audit else "submit" if rules and rules.submit else "save"
    done = ["save", "submit", "audit"].index(posting.step or "save")
    return "posted" if done >= ["save", "submit", "audit"].index(wanted) else "saved"


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
    posting: Posting, package: PackageResult, rules: RuleSet | None, max_attempts: int, result: SendResult
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
        posting.kingdee_number = package.number
        posting.step = "save"
        posting.kingdee_status = "A"
        posting.error_action = posting.error_fault = posting.error_message = posting.error_code = None
        posting.state = _state_after(posting, rules)
        if posting.state == "posted":
            result.posted += 1
        return
    outcome = package.outcome
    assert outcome is not None
    posting.error_action = outcome.action.value
    posting.error_fault = outcome.fault.value
    posting.error_code = package.msg_code
    posting.error_message = f"{outcome.zh}：{package.describe()} / {outcome.en}"
    if outcome.tag == "closed_period" and rules is not None:
        if rules.period_policy is PeriodPolicy.NEXT_OPEN and posting.attempts < max_attempts + 12:
            posting.note = _move_to_next_period(posting)
            posting.attempts -= 1  # nobody's data: the period was closed, not the posting wrong
            posting.state = "planned"
            result.moved_period += 1
        else:
            posting.state = "held"
            posting.note = posting.error_message
            result.held += 1
        return
    if outcome.action == Action.UNCERTAIN:
        posting.state = "uncertain"
    elif outcome.action == Action.RETRY and posting.attempts < max_attempts:
        posting.state = "planned"
        result.retried += 1
    elif outcome.action == Action.RETRY:
        posting.state = "dead"  # retries exhausted: a dead letter, replayable
        result.failed += 1
        result.errors.append(f"{posting.posting_key}: {posting.error_message}")
    else:
        posting.state = "failed"  # needs a fix of data or configuration, then a replay
        result.failed += 1
        result.errors.append(f"{posting.posting_key}: {posting.error_message}")


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
) -> SendResult:
    """Send every planned posting of the connection; settle unknown outcomes first.

    Postings are saved in batches of one form each (vouchers with BatchSave on GL_VOUCHER, bills
    on their own form); then the Submit/Audit steps a rule set asks for are done. A posting is
    charged an attempt only when a BatchSave that carried it could have reached Kingdee's
    validation; after `max_attempts` it becomes a dead letter. Whole-call refusals (throttling,
    an unreachable server) back off exponentially from `backoff` seconds up to 30 s and end the
    run after `max_refusals` in a row.
    """
    result = SendResult()
    save_options = {"IsVerifyBaseDataField": True, "IsDeleteEntry": True, **(options or {})}
    _send_deletions(store, client, kingdee_connection=kingdee_connection, result=result)
    resolve_unknown(
        store,
        client,
        kingdee_connection=kingdee_connection,
        result=result,
        rule_sets=rule_sets,
        settle_seconds=settle_seconds,
    )
    delay = 0.0
    refusals = 0  # consecutive call-level refusals; the run gives up after max_refusals
    unknown_streak = 0  # consecutive batches whose outcome was unknown
    while True:
        with store.transaction() as session:
            first = session.scalars(
                select(Posting.form_id)
                .where(
                    Posting.connection == kingdee_connection,
                    Posting.state == "planned",
                    Posting.attempts < max_attempts,
                    Posting.kind != "delete",
                )
                .order_by(Posting.id)
                .limit(1)
            ).first()
            batch = []
            if first is not None:
                batch = list(
                    session.scalars(
                        select(Posting)
                        .where(
                            Posting.connection == kingdee_connection,
                            Posting.state == "planned",
                            Posting.attempts < max_attempts,
                            Posting.form_id == first,
                            Posting.kind != "delete",
                        )
                        .order_by(Posting.id)
                        .limit(batch_size)
                        # Two senders on PostgreSQL never take the same postings (SQLite serialises
                        # writers anyway and ignores the clause).
                        .with_for_update(skip_locked=True)
                    )
                )
            for posting in batch:
                posting.state = "sent"  # from here on the outcome may be unknown
                posting.attempts += 1
        if not batch:
            break
        if delay:
            time.sleep(delay)
        form_id = batch[0].form_id
        models = [jsonutil.loads(p.payload) for p in batch]
        ids = [p.id for p in batch]
        result.calls += 1
        try:
            answer = client.batch_save(form_id, models, **save_options)
        except KingdeeError as exc:
            if exc.action == Action.UNCERTAIN:
                _set_state(store, ids, "uncertain")
                metrics.count_postings(kingdee_connection, "uncertain", len(ids))
                unknown_streak += 1
                resolve_unknown(
                    store,
                    client,
                    kingdee_connection=kingdee_connection,
                    result=result,
                    rule_sets=rule_sets,
                    settle_seconds=settle_seconds,
                )
                if unknown_streak > max_refusals:
                    # The link keeps failing mid-write: stop this run (nothing is lost — every
                    # posting is planned or uncertain) and let the next run, or the job's retry, go on.
                    result.errors.append(
                        f"连续 {unknown_streak} 次写入结果不明，本次运行中止 / {unknown_streak} unknown write outcomes in a row; run stopped"
                    )
                    result.interrupted = True
                    break
                delay = backoff
                continue
            # Refused before anything ran (throttled, unreachable, credentials …): the postings
            # go back to planned without using up an attempt — it was nobody's data.
            _release(store, ids)
            metrics.count_postings(kingdee_connection, "refused", len(ids))
            if exc.action == Action.RETRY and refusals < max_refusals:
                refusals += 1
                result.retried += len(ids)
                delay = min(backoff * 2**refusals, 30.0)
                continue
            raise
        refusals = 0
        unknown_streak = 0
        result.sent += len(batch)
        delay = 0.0
        outcomes: list[str] = []
        with store.transaction() as session:
            fresh = {p.id: p for p in session.scalars(select(Posting).where(Posting.id.in_(ids)))}
            for posting_id, package in zip(ids, answer.packages, strict=True):
                posting = fresh[posting_id]
                _apply_package(posting, package, _rules_for(posting, rule_sets), max_attempts, result)
                # planned again: a retry (or re-dated into the next open period) in a later batch
                outcomes.append("retry" if posting.state == "planned" else posting.state)
                if not package.ok and package.outcome and package.outcome.action == Action.RETRY:
                    delay = backoff
        # Counted once committed; the outcome is the state each posting took from Kingdee's answer.
        for state in outcomes:
            metrics.count_postings(kingdee_connection, state)
        if any(not p.ok and p.outcome and p.outcome.action == Action.UNCERTAIN for p in answer.packages):
            resolve_unknown(
                store,
                client,
                kingdee_connection=kingdee_connection,
                result=result,
                rule_sets=rule_sets,
                settle_seconds=settle_seconds,
            )
        if progress:
            progress(len(batch))
    lifecycle.advance(
        store, client, kingdee_connection=kingdee_connection, rule_sets=rule_sets or {}, result=result
    )
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
                Posting.state.in_(("planned", "uncertain", "sent")),
            )
        ):
            original = session.get(Posting, posting.reverses_id) if posting.reverses_id else None
            if original is None or not original.kingdee_id:
                posting.state = "failed"
                posting.error_message = "找不到要删除的凭证 / the voucher to delete is unknown"
                continue
            posting.attempts += 1
            try:
                answer = client.delete(original.form_id, ids=[original.kingdee_id])
            except KingdeeError as exc:
                posting.state = "planned" if exc.action in (Action.RETRY, Action.UNCERTAIN) else "failed"
                posting.error_message = str(exc)
                continue
            package = answer.packages[0]
            if package.ok or package.msg_code == 10:  # 10: already gone — the goal is reached
                posting.state = "posted"
                result.posted += 1
            else:
                posting.state = "failed"
                posting.error_message = package.describe()
                result.failed += 1


def _release(store: Store, ids: list[int]) -> None:
    with store.transaction() as session:
        for posting in session.scalars(select(Posting).where(Posting.id.in_(ids))):
            posting.state = "planned"
            posting.attempts -= 1


def _fail_exhausted(store: Store, kingdee_connection: str, max_attempts: int, result: SendResult) -> None:
    with store.transaction() as session:
        for posting in session.scalars(
            select(Posting).where(
                Posting.connection == kingdee_connection,
                Posting.state == "planned",
                Posting.attempts >= max_attempts,
            )
        ):
            posting.state = "dead"
            posting.error_message = (
                posting.error_message or ""
            ) + f"（已尝试 {posting.attempts} 次 / after {posting.attempts} attempts）"
            result.failed += 1
            result.errors.append(f"{posting.posting_key}: {posting.error_message}")


def posting_counts(store: Store, kingdee_connection: str) -> dict[str, int]:
    with store.transaction() as session:
        rows = session.execute(
            select(Posting.state, func.count())
            .where(Posting.connection == kingdee_connection)
            .group_by(Posting.state)
        )
        return {key: value for key, value in rows}


def posted_totals(store: Store, kingdee_connection: str) -> tuple[Decimal, Decimal]:
    with store.transaction() as session:
        debit, credit = session.execute(
            select(
                func.coalesce(func.sum(Posting.debit_total), 0),
                func.coalesce(func.sum(Posting.credit_total), 0),
            ).where(Posting.connection == kingdee_connection, Posting.state == "posted")
        ).one()
        return Decimal(debit), Decimal(credit)

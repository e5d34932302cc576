"""Exporter: documents → planned postings → Kingdee, exactly once.

Kingdee's WebAPI has no idempotency key, so exactly-once is built here (invariant 2):
1. plan: group unbound documents into vouchers and store each posting with its key, payload and
   document bindings *before* anything is sent;
2. send: mark a batch `sending`, BatchSave it, and commit each package's Kingdee Id/number the
   moment it comes back;
3. whenever the outcome of a write is unknown (timeout, dropped connection, HTML error page,
   "number already used"), the posting becomes `uncertain` and is looked up in Kingdee by the key
   token in its 摘要 before anything is resent — a write is never replayed blindly.
States: planned → sending → posted | failed, with sending/uncertain → (lookup) → posted | planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.domain.bills import Bill
from yecai.domain.documents import DOCUMENT_TYPES, Project
from yecai.errors import Action
from yecai.kingdee.client import KingdeeClient, KingdeeError, PackageResult
from yecai.kingdee.vouchers import FORM_ID, VoucherTarget, find_by_tokens, voucher_model
from yecai.mapping import planner
from yecai.mapping.plan import Held, PlannableDocument, Planned, PlanningContext, Unmapped, key_token
from yecai.mapping.rules import MappingTable, RuleSet
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, PostingLine

Progress = Callable[[int], None]

UNKNOWN_STATES = ("sending", "uncertain")


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


def target_of(rules: RuleSet) -> VoucherTarget:
    k = rules.kingdee
    return VoucherTarget(k.account_book, k.voucher_group, k.currency, k.rate_type)


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
        .where(Document.connection == connection, Document.kind == kind, PostingLine.rule_set == rule_set)
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
        )
        plan = planner.plan(documents, rules, mapping, context)
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
            else:
                form_id, payload = rules.form_id, voucher_model(planned, target)
                debit, credit = planned.debit_total, planned.credit_total
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


def resolve_unknown(
    store: Store, client: KingdeeClient, *, kingdee_connection: str, result: SendResult
) -> None:
    """Ask Kingdee about every posting whose write outcome is unknown; settle each one."""
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
        found = find_by_tokens(client, (key_token(p.posting_key) for p in unknown))
        for posting in unknown:
            hit = found.get(key_token(posting.posting_key))
            if hit is not None:
                posting.state = "posted"
                posting.kingdee_id = hit.id
                posting.kingdee_number = hit.number
                posting.response = jsonutil.dumps({"found_by_key": True, "Id": hit.id, "Number": hit.number})
                posting.error_action = posting.error_fault = posting.error_message = None
                result.found_after_unknown += 1
            else:
                posting.state = "planned"  # provably not in Kingdee: safe to send again
                result.reset_after_unknown += 1


def _apply_package(posting: Posting, package: PackageResult, max_attempts: int, result: SendResult) -> None:
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
        posting.state = "posted"
        posting.kingdee_id = package.id
        posting.kingdee_number = package.number
        posting.error_action = posting.error_fault = posting.error_message = posting.error_code = None
        result.posted += 1
        return
    outcome = package.outcome
    assert outcome is not None
    posting.error_action = outcome.action.value
    posting.error_fault = outcome.fault.value
    posting.error_code = package.msg_code
    posting.error_message = f"{outcome.zh}：{package.describe()} / {outcome.en}"
    if outcome.action == Action.UNCERTAIN:
        posting.state = "uncertain"
    elif outcome.action == Action.RETRY and posting.attempts < max_attempts:
        posting.state = "planned"
        result.retried += 1
    else:
        posting.state = "failed"
        result.failed += 1
        result.errors.append(f"{posting.posting_key}: {posting.error_message}")


def send_postings(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    batch_size: int = 50,
    max_attempts: int = 3,
    progress: Progress | None = None,
    options: dict[str, object] | None = None,
    max_refusals: int = 6,
    backoff: float = 0.5,
) -> SendResult:
    """Send every planned posting of the connection; settle unknown outcomes first.

    A posting is charged an attempt only when a BatchSave that carried it could have reached
    Kingdee's validation; after `max_attempts` it fails. Whole-call refusals (throttling, an
    unreachable server) back off exponentially from `backoff` seconds up to 30 s and end the run
    after `max_refusals` in a row.
    """
    result = SendResult()
    save_options = {"IsVerifyBaseDataField": True, "IsDeleteEntry": True, **(options or {})}
    resolve_unknown(store, client, kingdee_connection=kingdee_connection, result=result)
    delay = 0.0
    refusals = 0  # consecutive call-level refusals; the run gives up after max_refusals
    while True:
        with store.transaction() as session:
            batch = list(
                session.scalars(
                    select(Posting)
                    .where(
                        Posting.connection == kingdee_connection,
                        Posting.state == "planned",
                        Posting.attempts < max_attempts,
                    )
                    .order_by(Posting.id)
                    .limit(batch_size)
                    # Two senders on PostgreSQL never take the same postings (SQLite serialises
                    # writers anyway and ignores the clause).
                    .with_for_update(skip_locked=True)
                )
            )
            for posting in batch:
                posting.state = "sending"  # from here on the outcome may be unknown
                posting.attempts += 1
        if not batch:
            break
        if delay:
            time.sleep(delay)
        models = [jsonutil.loads(p.payload) for p in batch]
        ids = [p.id for p in batch]
        result.calls += 1
        try:
            answer = client.batch_save(FORM_ID, models, **save_options)
        except KingdeeError as exc:
            if exc.action == Action.UNCERTAIN:
                _set_state(store, ids, "uncertain")
                resolve_unknown(store, client, kingdee_connection=kingdee_connection, result=result)
                delay = backoff
                continue
            # Refused before anything ran (throttled, unreachable, credentials …): the postings
            # go back to planned without using up an attempt — it was nobody's data.
            _release(store, ids)
            if exc.action == Action.RETRY and refusals < max_refusals:
                refusals += 1
                result.retried += len(ids)
                delay = min(backoff * 2**refusals, 30.0)
                continue
            raise
        refusals = 0
        result.sent += len(batch)
        delay = 0.0
        with store.transaction() as session:
            fresh = {p.id: p for p in session.scalars(select(Posting).where(Posting.id.in_(ids)))}
            for posting_id, package in zip(ids, answer.packages, strict=True):
                _apply_package(fresh[posting_id], package, max_attempts, result)
                if not package.ok and package.outcome and package.outcome.action == Action.RETRY:
                    delay = backoff
        if any(not p.ok and p.outcome and p.outcome.action == Action.UNCERTAIN for p in answer.packages):
            resolve_unknown(store, client, kingdee_connection=kingdee_connection, result=result)
        if progress:
            progress(len(batch))
    _fail_exhausted(store, kingdee_connection, max_attempts, result)
    return result


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
            posting.state = "failed"
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

"""Planning: documents → planned postings, each stored with its key before anything is sent.

Groups the latest unbound version of every document into vouchers or bills by the rule set, and
stores each posting with its key, payload (in the 账簿 of its projects' organisation) and document
lines first (invariant 2): what is sent later is only ever what was stored here. A document changed or deleted after posting is held back
for corrections, never posted twice. Revenue planners also get what earlier postings recognised
and what other rule sets put into 合同履约成本; prepaid VAT learns which projects it has posted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import ARRAY, Row, String, any_, bindparam, func, insert, select
from sqlalchemy.orm import Session

from yecai import heap, jsonutil
from yecai.domain.bills import Bill
from yecai.domain.documents import DOCUMENT_TYPES, Project
from yecai.domain.posting_states import PostingState, initial
from yecai.domain.vouchers import Voucher
from yecai.kingdee.keys import key_value
from yecai.kingdee.vouchers import VoucherTarget, voucher_model
from yecai.mapping import registry
from yecai.mapping.events import common, month_end
from yecai.mapping.events.prepaid_vat import POSTED_KEY
from yecai.mapping.events.revenue import FULFILMENT_KEY, HISTORY_KEY, RevenueOptions
from yecai.mapping.interface import Held, PlannableDocument, Planned, PlanningContext, Unmapped
from yecai.mapping.rules import Aggregation, Event, MappingTable, RuleSet
from yecai.store.db import Store
from yecai.store.inserts import copy_rows, insert_many_ignore
from yecai.store.tables import Document, Posting, PostingLine

# Rows per INSERT statement batch when storing planned postings and their lines.
INSERT_BATCH = 1000


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


def target_of(rules: RuleSet, book: str | None = None) -> VoucherTarget:
    """Where a rule set's vouchers go: `book` (the voucher's own), else the rule set's account book."""
    k = rules.kingdee
    return VoucherTarget(book or k.account_book, k.voucher_group, k.currency, k.rate_type, k.key_field)


def books_by_project(mapping: MappingTable, rules: RuleSet, codes: set[str]) -> dict[str, str]:
    """项目 number → the 账簿 its vouchers go to, for the PM project codes known to the plan."""
    out: dict[str, str] = {}
    for code in sorted(codes | set(mapping.projects)):
        number = mapping.project_number(code)
        if number is not None:
            out.setdefault(number, mapping.account_book(code) or rules.kingdee.account_book)
    return out


def voucher_books(voucher: Voucher, rules: RuleSet, books: dict[str, str]) -> set[str]:
    """The books a voucher's lines belong to, by the 项目 on them (and the book its planner chose).

    A voucher without any 项目 line (and no book of its own) goes to the rule set's book.
    """
    flex = rules.kingdee.project_dimension
    found = {
        books.get(value, rules.kingdee.account_book)
        for line in voucher.lines
        for key, value in line.dimensions
        if key == flex
    }
    if voucher.book:
        found.add(voucher.book)
    return found or {rules.kingdee.account_book}


def mixed_books(voucher: Voucher, found: set[str]) -> Held:
    """Why a voucher whose lines fall in several books is refused (never posted half)."""
    ids = tuple(dict.fromkeys(i for line in voucher.lines for i in line.document_ids))
    listed = "、".join(sorted(found))
    return Held(
        ids,
        f"凭证 {voucher.group_key} 的分录属于不同账簿（{listed}）：一张凭证不能跨账簿（核算组织）过账，"
        "请检查映射表中项目的组织与 account_books，或规则集的汇总方式",
        f"voucher {voucher.group_key} has lines in different account books ({', '.join(sorted(found))}): "
        "one voucher cannot span books (accounting organisations); check the projects' org and "
        "account_books in the mapping table, or the rule set's aggregation",
    )


def latest_documents(session: Session, connection: str, kind: str) -> dict[str, Document]:
    """Source key → the newest stored version of each document of the kind (tombstones included)."""
    latest: dict[str, Document] = {}
    for doc in session.scalars(
        select(Document).where(Document.connection == connection, Document.kind == kind).order_by(Document.id)
    ):
        latest[doc.source_key] = doc  # ascending ids: the last one seen is the newest version
    return latest


def latest_rows(session: Session, connection: str, kind: str) -> dict[str, Row[Any]]:
    """`latest_documents` as plain rows (id, source_key, version, deleted, data), read with Core.

    Planning reads only these columns of thousands of documents: mapping each row to a tracked
    ORM object cost more than the query itself (issue 15). Only the newest version of each key is
    read, in the same order as `latest_documents` (by the key's first version).
    """
    versions = (
        select(
            Document.source_key,
            func.min(Document.id).label("first"),
            func.max(Document.id).label("last"),
        )
        .where(Document.connection == connection, Document.kind == kind)
        .group_by(Document.source_key)
        .subquery()
    )
    query = (
        select(Document.id, Document.source_key, Document.version, Document.deleted, Document.data)
        .join(versions, Document.id == versions.c.last)
        .order_by(versions.c.first)
    )
    return {row.source_key: row for row in session.execute(query)}


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


def planning_context(
    session: Session,
    rules: RuleSet,
    *,
    source_connection: str,
    kingdee_connection: str,
    kingdee_projects: set[str] | None = None,
    related: tuple[str, ...] = (),
    today: dt.date | None = None,
) -> PlanningContext:
    """What a planner of the rule set sees besides its documents: one function for every caller.

    Planning and corrections (which re-plan a changed voucher in place) both build their context
    here, so a correction cannot plan with less than the original had — the Project documents
    (accounting standard, VAT method …), the related documents the event's spec names, the
    history and the project names. `related` adds kinds the sync job names.
    """
    kinds = tuple(dict.fromkeys([*related, *registry.spec_of(rules.event).related]))
    names = {
        key: Project.model_validate(jsonutil.loads(doc.data)).name
        for key, doc in latest_rows(session, source_connection, "project").items()
        if not doc.deleted
    }
    related_models = {
        kind: [
            DOCUMENT_TYPES[kind].model_validate(jsonutil.loads(doc.data))
            for doc in latest_rows(session, source_connection, kind).values()
            if not doc.deleted
        ]
        for kind in kinds
    }
    return PlanningContext(
        connection=kingdee_connection,
        project_names=names,
        kingdee_projects=kingdee_projects,
        related=related_models,
        history={
            **_history(session, rules, kingdee_connection),
            **_month_end_history(session, rules, kingdee_connection),
        },
        today=today or dt.date.today(),
    )


class AskingMapping(Protocol):
    """A mapping table that remembers the parties a planner asked it for (`binder.PartyBinding`)."""

    @property
    def asked(self) -> dict[str, set[str]]: ...

    def differs(self, bound: MappingTable) -> bool: ...


class PartyBinder(Protocol):
    """Binds the suppliers and customers the plan references (`binder.PartyBinding`)."""

    def asking(self, mapping: MappingTable) -> MappingTable: ...

    def bind(self, asked: dict[str, set[str]], rule_sets: Sequence[RuleSet]) -> MappingTable: ...


def plan_postings(
    store: Store,
    *,
    rules: RuleSet,
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    kingdee_projects: set[str] | None = None,
    related: tuple[str, ...] = (),
    parties: PartyBinder | None = None,
    chunk_documents: int | None = None,
    stored: Callable[[], None] | None = None,
) -> PlanResult:
    """Store planned postings for every document of the rule set not yet posted (idempotent).

    `related` names document kinds the rule set's planner consults (e.g. contracts). With
    `parties`, the suppliers and customers the plan references are bound before anything is
    stored: the plan asks for them by their would-be numbers, they are found or created in Kingdee
    while the payloads are built, and only if Kingdee knew one under another number (or one could
    not be bound) is the plan made again with the numbers bound — one plan, not a dry one first.

    With `chunk_documents`, a rule set whose vouchers never span projects (`plans_by_project`) is
    planned, bound and stored a few projects at a time, about that many documents each, and
    `stored()` is called after each: senders start on the first part while the rest is planned
    (issue 15). The postings are the same as one plan's; only their order in the store differs.
    """
    result = PlanResult()
    with store.transaction() as session:
        documents, amounts = _plannable(session, rules, source_connection, result)
        context = planning_context(
            session,
            rules,
            source_connection=source_connection,
            kingdee_connection=kingdee_connection,
            kingdee_projects=kingdee_projects,
            related=related,
        )
    codes = set(context.project_names) | {
        str(code) for d in documents if (code := getattr(d.model, "project_code", None)) is not None
    }
    books = books_by_project(mapping, rules, codes)
    chunks = (
        by_projects(documents, chunk_documents)
        if chunk_documents and plans_by_project(rules)
        else [documents]
    )
    done = [result]
    # The parties of one part are bound (Kingdee calls, one part after another on one thread)
    # while the next part is planned; a part is stored once its parties are bound — the first at
    # once, so that senders waiting for it start as early as they can.
    with ThreadPoolExecutor(1, thread_name_prefix="yecai-bind") as binder:
        waiting: _Prepared | None = None
        for number, chunk in enumerate(chunks):
            prepared = _prepare(store, chunk, rules, mapping, context, amounts, books, parties, binder)
            if waiting is not None:
                done.append(_finish(store, waiting))
                if stored is not None:
                    stored()
            waiting = prepared
            if number == 0 and len(chunks) > 1:
                done.append(_finish(store, waiting))
                waiting = None
                if stored is not None:
                    stored()
        if waiting is not None:
            done.append(_finish(store, waiting))
            if stored is not None:
                stored()
    total = merge_plans(done)
    if len(chunks) > 1:
        total.unmapped = _merge_unmapped(total.unmapped)
    return total


def _plannable(
    session: Session, rules: RuleSet, source_connection: str, result: PlanResult
) -> tuple[list[PlannableDocument], dict[int, Decimal]]:
    """The latest version of every document of the rule set not bound to one of its postings yet
    (with its amount); what is deleted or changed after posting is counted into `result`."""
    model_of = DOCUMENT_TYPES[rules.document]
    latest = latest_rows(session, source_connection, rules.document)
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
    return documents, amounts


# Aggregations whose every voucher is of one project: a plan of some projects' documents makes
# exactly those projects' vouchers.
_PROJECT_AGGREGATIONS = frozenset(
    {
        Aggregation.PER_DOCUMENT,
        Aggregation.PROJECT_CATEGORY_DAY,
        Aggregation.PROJECT_DAY,
        Aggregation.PROJECT_CATEGORY_MONTH,
        Aggregation.PROJECT_PERIOD,
    }
)


def plans_by_project(rules: RuleSet) -> bool:
    """Whether the rule set may be planned a few projects at a time: cost postings grouped within
    a project. Other events read across projects or from a history of earlier postings (revenue,
    allocation, month end …) and are planned whole."""
    return rules.event is Event.COST and rules.aggregation in _PROJECT_AGGREGATIONS


def by_projects(documents: list[PlannableDocument], size: int) -> list[list[PlannableDocument]]:
    """The documents in parts of whole projects: the first about `size` documents, each next one
    about twice the last (at least one part), the projects in the order they first appear and each
    part's documents in their own order, as one plan would have seen them.

    The first part is small so that senders start early; the others grow so that their parties
    are bound in few rounds (a part's suppliers go at least 50 a call, so many small parts would
    bind them in many short rounds, one after another)."""
    counts: dict[object, int] = {}
    for document in documents:
        project = getattr(document.model, "project_code", None)
        counts[project] = counts.get(project, 0) + 1
    part_of: dict[object, int] = {}
    part, filled, target = 0, 0, size
    for project, count in counts.items():
        if filled >= target:
            part, filled, target = part + 1, 0, target * 2
        part_of[project] = part
        filled += count
    chunks: list[list[PlannableDocument]] = [[] for _ in range(part + 1)]
    for document in documents:
        chunks[part_of[getattr(document.model, "project_code", None)]].append(document)
    return chunks


def _merge_unmapped(found: list[Unmapped]) -> list[Unmapped]:
    """One entry per unmapped value, its documents from every part."""
    merged: dict[tuple[str, str], list[int]] = {}
    for item in found:
        merged.setdefault((item.kind, item.value), []).extend(item.document_ids)
    return [Unmapped(kind, value, tuple(dict.fromkeys(ids))) for (kind, value), ids in merged.items()]


@dataclass(slots=True)
class _Prepared:
    """A part planned, its rows built, its parties being bound: what storing it needs."""

    documents: list[PlannableDocument]
    rules: RuleSet
    context: PlanningContext
    amounts: dict[int, Decimal]
    books: dict[str, str]
    asking: MappingTable
    binding: Future[MappingTable] | None
    postings: list[dict[str, Any]]
    lines: dict[str, list[dict[str, Any]]]
    result: PlanResult


def _prepare(
    store: Store,
    documents: list[PlannableDocument],
    rules: RuleSet,
    mapping: MappingTable,
    context: PlanningContext,
    amounts: dict[int, Decimal],
    books: dict[str, str],
    parties: PartyBinder | None,
    binder: ThreadPoolExecutor | None,
) -> _Prepared:
    """Plan the documents and build their rows; the parties the plan asks for are bound on
    `binder` meanwhile (after those of earlier parts: a party two parts name is created once)."""
    result = PlanResult()
    asking = parties.asking(mapping) if parties is not None else mapping
    # What was just loaded lives until the plan is stored: keep it out of the collector's way.
    with heap.frozen():
        plan = registry.plan(documents, rules, asking, context)
    with store.transaction() as session:
        existing = _existing_keys(session, [p.posting_key for p in plan.postings])
    asked: dict[str, set[str]] = cast(AskingMapping, asking).asked if parties is not None else {}
    # The parties' lookups and creates are Kingdee calls: they run while the payloads are built.
    binding = (
        binder.submit(parties.bind, asked, [rules]) if binder and parties and any(asked.values()) else None
    )
    postings, lines = _postings_of(plan, rules, context, amounts, books, existing, target_of(rules), result)
    return _Prepared(documents, rules, context, amounts, books, asking, binding, postings, lines, result)


def _finish(store: Store, prepared: _Prepared) -> PlanResult:
    """Store a prepared part once its parties are bound, or plan it again with their numbers."""
    if prepared.binding is not None:
        # raises when a party is left unconfirmed: the run stops before anything is stored
        now_bound = prepared.binding.result()
        if cast(AskingMapping, prepared.asking).differs(now_bound):
            # Kingdee knew a party under another number, or one could not be created: the plan
            # as made references numbers that are not (all) there — plan again.
            again = _prepare(
                store,
                prepared.documents,
                prepared.rules,
                now_bound,
                prepared.context,
                prepared.amounts,
                prepared.books,
                None,
                None,
            )
            return _finish(store, again)
    with store.transaction() as session:
        _store_postings(session, prepared.postings, prepared.lines, prepared.result)
    return prepared.result


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    """The posting keys of `keys` already stored.

    PostgreSQL gets them as one array parameter: an `IN` list of 500 placeholders is a statement
    too long for psycopg's parse cache, parsed again in Python for every chunk.
    """
    if session.get_bind().dialect.name == "postgresql":
        return set(
            session.scalars(
                select(Posting.posting_key).where(
                    Posting.posting_key == any_(bindparam("keys", keys, type_=ARRAY(String)))
                )
            )
        )
    existing: set[str] = set()
    for start in range(0, len(keys), 500):
        existing.update(
            session.scalars(
                select(Posting.posting_key).where(Posting.posting_key.in_(keys[start : start + 500]))
            )
        )
    return existing


def _postings_of(
    plan: Any,
    rules: RuleSet,
    context: PlanningContext,
    amounts: dict[int, Decimal],
    books: dict[str, str],
    existing: set[str],
    target: VoucherTarget,
    result: PlanResult,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The rows of the plan's new postings and their document lines, not yet stored."""
    result.unmapped = plan.unmapped
    result.held = list(plan.held)
    result.zero_groups = plan.zero_groups
    # A rule may plan a voucher and its scheduled red-ink reversal for the same documents (暂估,
    # the 合同结算 presentation): the documents are bound to the first; the companion carries
    # them in its lines' trail only (a document is bound once per rule set).
    bound_here: set[int] = set()
    postings: list[dict[str, Any]] = []
    lines: dict[str, list[dict[str, Any]]] = {}
    state = str(initial(approval=rules.approval))  # the plain value, as the ORM stored it
    for planned in plan.postings:
        if planned.posting_key in existing:
            result.already_planned += 1
            continue
        if planned.posting_key in lines:  # a planner's bug: one key for two postings
            raise ValueError(f"the plan holds posting key {planned.posting_key} twice")
        if isinstance(planned, Bill):
            form_id, payload = planned.form_id, planned.model()
            debit = credit = planned.amount
            key_field, kingdee_key = "bill_no", planned.bill_no
        else:
            found = voucher_books(planned, rules, books)
            if len(found) > 1:
                result.held.append(mixed_books(planned, found))
                continue
            form_id, payload = rules.form_id, voucher_model(planned, target_of(rules, found.pop()))
            debit, credit = planned.debit_total, planned.credit_total
            key_field, kingdee_key = target.key_field, key_value(target.key_field, planned.posting_key)
        postings.append(
            {
                "posting_key": planned.posting_key,
                "connection": context.connection,
                "rule_set": rules.name,
                "form_id": form_id,
                "group_key": planned.group_key,
                "business_date": planned.date,
                "state": state,
                "debit_total": debit,
                "credit_total": credit,
                "payload": jsonutil.dumps(payload),
                "attempts": 0,
                "kind": "posting",
                "key_field": key_field,
                "kingdee_key": kingdee_key,
            }
        )
        own = [
            {"document_id": doc_id, "rule_set": rules.name, "line_no": line_no, "amount": amounts[doc_id]}
            for doc_id, line_no in _documents_of(planned)
            if doc_id not in bound_here
        ]
        bound_here.update(line["document_id"] for line in own)
        lines[planned.posting_key] = own
    return postings, lines


def _store_postings(
    session: Session,
    postings: list[dict[str, Any]],
    lines: dict[str, list[dict[str, Any]]],
    result: PlanResult,
) -> None:
    """Insert the planned postings, then their lines, with Core executemany (no unit of work).

    Postings go first, in plan order, each yielding to a posting another planner stored with the
    same key meanwhile (counted as already planned, its lines left to that planner); each line
    then points at the id its posting was given.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    # PostgreSQL takes every posting in one COPY and one INSERT … SELECT; SQLite in batches.
    batch_size = (len(postings) or 1) if postgres else INSERT_BATCH
    ids: dict[str, int] = {}
    for start in range(0, len(postings), batch_size):
        batch = postings[start : start + batch_size]
        ids.update(
            (key, posting_id)
            for posting_id, key in insert_many_ignore(session, Posting, batch, ("id", "posting_key"))
        )
    rows: list[dict[str, Any]] = []
    for posting in postings:
        key = posting["posting_key"]
        if key not in ids:
            result.already_planned += 1
            continue
        result.planned += 1
        rows.extend({"posting_id": ids[key], "active": True, **line} for line in lines[key])
    if postgres and rows:
        copy_rows(
            session, PostingLine.__table__, _LINE_COLUMNS, [tuple(r[c] for c in _LINE_COLUMNS) for r in rows]
        )
        return result
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(PostingLine.__table__), rows[start : start + INSERT_BATCH])
    return result


# What a planned document line gives (every column but the id): COPY needs them all named.
_LINE_COLUMNS = ("posting_id", "active", "document_id", "rule_set", "line_no", "amount")


# Postings whose amounts count as recognised: in Kingdee or on their way there. Reversed,
# superseded, failed, dead and skipped ones do not (their lines are inactive or never landed).
_RECOGNISED = (
    PostingState.AWAITING_APPROVAL,
    PostingState.PLANNED,
    PostingState.SENT,
    PostingState.UNCERTAIN,
    PostingState.SAVED,
    PostingState.POSTED,
    PostingState.HELD,
)


def _history(session: Session, rules: RuleSet, kingdee_connection: str) -> dict[str, object]:
    """What earlier postings recognised, for planners that build on it (REVENUE, PREPAID_VAT)."""
    if rules.event is Event.REVENUE:
        return {
            HISTORY_KEY: _revenue_to_date(session, rules, kingdee_connection),
            FULFILMENT_KEY: _fulfilment_cost(session, rules, kingdee_connection),
        }
    if rules.event is Event.PREPAID_VAT:
        return {POSTED_KEY: _prepaid_projects(session, rules, kingdee_connection)}
    return {}


def _revenue_to_date(
    session: Session, rules: RuleSet, kingdee_connection: str
) -> dict[str, dict[str, Decimal]]:
    """Per project, the cost and the revenue earlier revenue postings recognised.

    Revenue by the input method needs them: a revised estimate then catches up in the period it
    changes (CAS 14), instead of each period being priced as if it were the first. Cost comes from
    the active posting lines (the cost records), revenue from the credit to the revenue accounts
    in the stored payloads.
    """
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
    return dict(to_date)


def _month_end_history(session: Session, rules: RuleSet, kingdee_connection: str) -> dict[str, object]:
    """The ledger the month-end close works from: every stored posting's lines by account × 项目 ×
    period (net debit), the other rule sets' apart from this rule set's own, and the groups it
    already posted. Closing entries are computed from balances, as an accountant does from the
    科目余额表; postings retired (reversed, superseded) count no more, like revenue's history.
    """
    if rules.event is not Event.MONTH_END:
        return {}
    flex = f"FDETAILID__{rules.kingdee.project_dimension}"
    others: dict[str, dict[str, dict[str, Decimal]]] = {}
    own: dict[str, dict[str, dict[str, Decimal]]] = {}
    # the same per 账簿: VAT and surcharges close per book (the same account numbers in two books
    # are two ledgers, possibly on two charts)
    by_book: dict[str, dict[str, dict[str, dict[str, dict[str, Decimal]]]]] = {"others": {}, "own": {}}
    closed: set[str] = set()
    query = select(Posting.rule_set, Posting.group_key, Posting.business_date, Posting.payload).where(
        Posting.connection == kingdee_connection,
        Posting.form_id == "GL_VOUCHER",
        Posting.kind != "reversal",
        Posting.state.in_(_RECOGNISED),
    )
    for rule_set, group_key, business_date, payload in session.execute(query):
        books = own if rule_set == rules.name else others
        if rule_set == rules.name:
            closed.add(str(group_key))
        period = f"{business_date:%Y-%m}"
        body = jsonutil.loads(payload)
        book = (body.get("FAccountBookID") or {}).get("FNumber") or rules.kingdee.account_book
        kept = by_book["own" if rule_set == rules.name else "others"].setdefault(str(book), {})
        for line in body.get("FEntity", []):
            account = (line.get("FACCOUNTID") or {}).get("FNumber")
            if not account:
                continue
            project = ((line.get("FDetailID") or {}).get(flex) or {}).get("FNumber") or ""
            net = Decimal(str(line.get("FDEBIT") or 0)) - Decimal(str(line.get("FCREDIT") or 0))
            for ledger in (books, kept):
                cell = ledger.setdefault(account, {}).setdefault(project, {})
                cell[period] = cell.get(period, Decimal(0)) + net
    return {
        month_end.LEDGER_KEY: others,
        month_end.OWN_KEY: own,
        month_end.CLOSED_KEY: closed,
        month_end.BOOK_LEDGER_KEY: by_book["others"],
        month_end.BOOK_OWN_KEY: by_book["own"],
    }


def _project_of(line: dict[str, object], flex: str) -> str | None:
    details = line.get("FDetailID")
    if not isinstance(details, dict):
        return None
    value = details.get(f"FDETAILID__{flex}")
    return str(value.get("FNumber")) if isinstance(value, dict) and value.get("FNumber") else None


def _net_debit(line: dict[str, object]) -> Decimal:
    return Decimal(str(line.get("FDEBIT") or 0)) - Decimal(str(line.get("FCREDIT") or 0))


def _fulfilment_cost(
    session: Session, rules: RuleSet, kingdee_connection: str
) -> dict[str, list[dict[str, object]]]:
    """Per 项目 number, what the rule sets of the revenue rule set's `carry_from` (the invoice rule's
    non-deductible tax, the month-end allocation) posted to its accounts, by period and account,
    and whether an earlier revenue posting already carried it to 主营业务成本.

    Read from the stored postings because that is what is in (or on its way to) Kingdee: the
    revenue rule then empties exactly what the other rules put into 合同履约成本, whatever their
    options, without recomputing them. A posting counts as carried when a revenue posting of the
    same project planned after it (a higher id) covers its period — revenue takes everything
    waiting up to its period's end. Reversed postings stay in with their red-ink reversals (both
    are in Kingdee and net to nothing); a reversed revenue posting carries nothing.
    """
    options = common.parse_options(rules, RevenueOptions)
    if not options.carry_from:
        return {}
    flex = rules.kingdee.project_dimension
    covered: dict[str, list[tuple[str, int]]] = defaultdict(list)  # 项目 number → (period, posting id)
    revenue = select(Posting.id, Posting.business_date, Posting.payload).where(
        Posting.connection == kingdee_connection,
        Posting.rule_set == rules.name,
        Posting.kind != "reversal",
        Posting.state.in_(_RECOGNISED),
    )
    for posting_id, day, payload in session.execute(revenue):
        numbers = {_project_of(line, flex) for line in jsonutil.loads(payload).get("FEntity", [])}
        for number in numbers - {None}:
            assert number is not None
            covered[number].append((common.period_of(day), posting_id))
    totals: dict[tuple[str, str, str, bool], Decimal] = defaultdict(Decimal)
    others = select(Posting.id, Posting.business_date, Posting.payload).where(
        Posting.connection == kingdee_connection,
        Posting.rule_set.in_(options.carry_from),
        Posting.kind != "delete",
        Posting.state.in_((*_RECOGNISED, PostingState.REVERSED)),
    )
    for posting_id, day, payload in session.execute(others):
        period = common.period_of(day)
        for line in jsonutil.loads(payload).get("FEntity", []):
            number = _project_of(line, flex)
            account = (line.get("FACCOUNTID") or {}).get("FNumber")
            if number is None or not account:
                continue
            done = any(p >= period and i > posting_id for p, i in covered.get(number, ()))
            totals[(number, period, str(account), done)] += _net_debit(line)
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for (number, period, account, done), amount in sorted(totals.items()):
        if amount:
            out[number].append({"period": period, "account": account, "amount": amount, "carried": done})
    return dict(out)


def _prepaid_projects(session: Session, rules: RuleSet, kingdee_connection: str) -> list[str]:
    """PM project codes the prepaid-VAT rule set has posted for: their go-live carry is used up."""
    query = select(Posting.group_key).where(
        Posting.connection == kingdee_connection,
        Posting.rule_set == rules.name,
        Posting.kind != "reversal",
        Posting.state.in_(_RECOGNISED),
    )
    return sorted({str(key).split("|", 1)[0] for key in session.scalars(query)})

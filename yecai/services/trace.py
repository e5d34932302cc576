"""Traceability for people: projects, documents and postings, and the path between them both ways.

record → document → posting → Kingdee voucher, and from a voucher number back to every source
record behind it (invariant 4). Every function takes the caller (`Principal`) and narrows its
query to the projects they may see; a row outside them is reported as absent, never as forbidden,
so its existence is not revealed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from yecai.auth.principal import Principal
from yecai.domain.money import money_sum
from yecai.domain.posting_states import PostingState
from yecai.jsonutil import loads
from yecai.services.postings import PostingHead, head_of
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, PostingLine, Record


@dataclass(frozen=True, slots=True)
class ProjectRow:
    code: str
    name: str | None
    documents: int
    cost_total: Decimal  # the latest version of each cost record, deleted ones left out
    postings: int
    contract_value: Decimal | None = None  # 合同额, from the project's latest document


@dataclass(frozen=True, slots=True)
class ProjectTotals:
    """The projects list's 合计 row: money summed in Decimal over every row the filter kept.

    Postings are not summed: a voucher spanning projects counts once in each of their rows.
    """

    projects: int
    documents: int
    contract_value: Decimal
    cost_total: Decimal


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    connection: str
    kind: str
    source_key: str
    version: str
    project_code: str | None
    business_date: dt.date | None
    category: str | None
    amount: Decimal | None
    deleted: bool
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PostingSummary(PostingHead):
    kind: str
    debit_total: Decimal
    kingdee_number: str | None
    attempts: int
    error_fault: str | None
    message: str | None
    projects: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LineRow:
    line_no: int
    amount: Decimal
    active: bool
    rule_set: str
    document: DocumentRow
    posting_id: int


@dataclass(frozen=True, slots=True)
class DocumentDetail:
    document: DocumentRow
    data: dict[str, Any]
    record_id: int
    record_payload: dict[str, Any]
    record_received_at: dt.datetime
    versions: list[DocumentRow]
    postings: list[PostingSummary]
    # set when `yecai archive` moved the raw payload to a file: record_payload is then a stub
    record_archive: RecordArchive | None = None


@dataclass(frozen=True, slots=True)
class RecordArchive:
    """Where an archived record's raw payload is: the archive file (in the archive directory) and line."""

    file: str
    line: int
    archived_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PostingDetail:
    posting: PostingSummary
    kingdee_id: str | None
    key_field: str
    kingdee_key: str | None
    step: str | None
    kingdee_status: str | None
    reverses_id: int | None
    reversed_by: list[int]
    approved_by: str | None
    error_code: int | None
    error_action: str | None
    payload: Any
    response: Any
    lines: list[LineRow] = field(default_factory=list)


def _document_row(d: Document) -> DocumentRow:
    return DocumentRow(
        d.id,
        d.connection,
        d.kind,
        d.source_key,
        d.version,
        d.project_code,
        d.business_date,
        d.category,
        d.amount,
        bool(d.deleted),
        d.created_at,
    )


def _visible_posting(who: Principal) -> Any:
    """Postings all of whose projects the caller may see (everything for unlimited callers).

    A voucher spanning projects (a month-end company voucher, a `period` aggregation) shows every
    project's figures, so a project manager sees it only when every project on it is theirs; a
    posting with no project line at all is company-wide and not theirs either.
    """
    if who.projects is None:
        return None
    lines = select(PostingLine.id).join(Document, Document.id == PostingLine.document_id)
    mine = lines.where(PostingLine.posting_id == Posting.id, who.project_clause(Document.project_code))
    others = lines.where(
        PostingLine.posting_id == Posting.id,
        Document.project_code.is_not(None),
        ~who.project_clause(Document.project_code),
    )
    return and_(exists(mine), ~exists(others))


def _posting_projects(session: Session, ids: list[int]) -> dict[int, tuple[str, ...]]:
    if not ids:
        return {}
    rows = session.execute(
        select(PostingLine.posting_id, Document.project_code)
        .join(Document, Document.id == PostingLine.document_id)
        .where(PostingLine.posting_id.in_(ids))
        .distinct()
    )
    found: dict[int, set[str]] = {}
    for posting_id, code in rows:
        if code:
            found.setdefault(posting_id, set()).add(code)
    return {key: tuple(sorted(value)) for key, value in found.items()}


def _summary(p: Posting, projects: tuple[str, ...]) -> PostingSummary:
    return PostingSummary(
        **head_of(p),
        kind=p.kind,
        debit_total=p.debit_total,
        kingdee_number=p.kingdee_number,
        attempts=p.attempts,
        error_fault=p.error_fault,
        message=p.error_message or p.note,
        projects=projects,
    )


def projects(store: Store, who: Principal, *, search: str | None = None) -> list[ProjectRow]:
    """Every project code that has documents, with its name, contract value, cost and postings.

    `search` keeps the projects whose code or name contains it (case-insensitive). Cost is the sum
    of each cost record's latest version: a record changed in the source counts once, at its new
    amount, and one deleted there not at all.
    """
    with store.sessions() as session:
        visible = who.project_clause(Document.project_code)
        counts = dict(
            session.execute(
                select(Document.project_code, func.count())
                .where(Document.project_code.is_not(None), visible)
                .group_by(Document.project_code)
            ).all()
        )
        newest = (
            select(func.max(Document.id))
            .where(Document.kind == "cost_record", visible)
            .group_by(Document.connection, Document.source_key)
        )
        costs: dict[str, list[Decimal]] = {}
        for code, amount in session.execute(
            select(Document.project_code, Document.amount).where(
                Document.id.in_(newest), Document.deleted.is_(False), Document.amount.is_not(None)
            )
        ):
            costs.setdefault(code, []).append(Decimal(amount))
        posting_counts = dict(
            session.execute(
                select(Document.project_code, func.count(func.distinct(PostingLine.posting_id)))
                .join(PostingLine, PostingLine.document_id == Document.id)
                .where(visible)
                .group_by(Document.project_code)
            ).all()
        )
        names: dict[str, str] = {}
        contracts: dict[str, Decimal | None] = {}
        for row in session.scalars(
            select(Document).where(Document.kind == "project", visible).order_by(Document.id)
        ):
            data = loads(row.data)
            if not row.project_code or not isinstance(data, dict):
                continue
            if data.get("name"):
                names[row.project_code] = str(data["name"])  # the newest version wins
            value = data.get("contract_value")
            contracts[row.project_code] = None if row.deleted or value is None else Decimal(str(value))
    rows = [
        ProjectRow(
            code,
            names.get(code),
            counts[code],
            money_sum(costs.get(code, ())),
            posting_counts.get(code, 0),
            contracts.get(code),
        )
        for code in sorted(counts)
    ]
    needle = (search or "").strip().casefold()
    if needle:
        rows = [r for r in rows if needle in r.code.casefold() or needle in (r.name or "").casefold()]
    return rows


def project_totals(rows: list[ProjectRow]) -> ProjectTotals:
    """The 合计 row of `rows` (see `ProjectTotals`)."""
    return ProjectTotals(
        projects=len(rows),
        documents=sum(r.documents for r in rows),
        contract_value=money_sum(r.contract_value for r in rows if r.contract_value is not None),
        cost_total=money_sum(r.cost_total for r in rows),
    )


def documents(
    store: Store,
    who: Principal,
    *,
    kind: str | None = None,
    project: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DocumentRow]:
    query = (
        select(Document)
        .where(who.project_clause(Document.project_code))
        .order_by(Document.id.desc())
        .limit(max(1, min(limit, 1000)))
        .offset(max(0, offset))
    )
    if kind:
        query = query.where(Document.kind == kind)
    if project:
        query = query.where(Document.project_code == project)
    with store.sessions() as session:
        return [_document_row(d) for d in session.scalars(query)]


def document_detail(store: Store, who: Principal, document_id: int) -> DocumentDetail | None:
    with store.sessions() as session:
        document = session.get(Document, document_id)
        if document is None or not who.sees_project(document.project_code):
            return None
        record = session.get(Record, document.record_id)
        assert record is not None  # a document is always built from a record (foreign key)
        versions = [
            _document_row(d)
            for d in session.scalars(
                select(Document)
                .where(
                    Document.connection == document.connection,
                    Document.kind == document.kind,
                    Document.source_key == document.source_key,
                )
                .order_by(Document.id)
            )
        ]
        posting_ids = list(
            session.scalars(
                select(PostingLine.posting_id)
                .where(PostingLine.document_id.in_([v.id for v in versions]))
                .distinct()
            )
        )
        projects_of = _posting_projects(session, posting_ids)
        postings = [
            _summary(p, projects_of.get(p.id, ()))
            for p in session.scalars(select(Posting).where(Posting.id.in_(posting_ids)).order_by(Posting.id))
        ]
        data = loads(document.data)
        payload = loads(record.payload)
        return DocumentDetail(
            _document_row(document),
            data if isinstance(data, dict) else {"value": data},
            record.id,
            payload if isinstance(payload, dict) else {"value": payload},
            record.received_at,
            versions,
            postings,
            RecordArchive(record.archive_file, record.archive_line or 0, record.archived_at)
            if record.archive_file
            else None,
        )


def postings(
    store: Store,
    who: Principal,
    *,
    state: str | None = None,
    connection: str | None = None,
    project: str | None = None,
    number: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[PostingSummary]:
    query = select(Posting).order_by(Posting.id.desc()).limit(max(1, min(limit, 1000))).offset(max(0, offset))
    visible = _visible_posting(who)
    if visible is not None:
        query = query.where(visible)
    if state:
        query = query.where(Posting.state == (PostingState.SENT if state == "sending" else state))
    if connection:
        query = query.where(Posting.connection == connection)
    if number:
        query = query.where(_number_is(number))
    if project:
        query = query.where(
            exists(
                select(PostingLine.id)
                .join(Document, Document.id == PostingLine.document_id)
                .where(PostingLine.posting_id == Posting.id, Document.project_code == project)
            )
        )
    with store.sessions() as session:
        rows = list(session.scalars(query))
        projects_of = _posting_projects(session, [p.id for p in rows])
        return [_summary(p, projects_of.get(p.id, ())) for p in rows]


def posting_visible(store: Store, who: Principal, posting_id: int) -> bool:
    """Whether the caller may see (and, with the right permission, act on) this posting."""
    query = select(Posting.id).where(Posting.id == posting_id)
    visible = _visible_posting(who)
    if visible is not None:
        query = query.where(visible)
    with store.sessions() as session:
        return session.scalar(query) is not None


def posting_detail(store: Store, who: Principal, posting_id: int) -> PostingDetail | None:
    if not posting_visible(store, who, posting_id):
        return None
    with store.sessions() as session:
        p = session.get(Posting, posting_id)
        assert p is not None
        line_rows = session.execute(
            select(PostingLine, Document)
            .join(Document, Document.id == PostingLine.document_id)
            .where(PostingLine.posting_id == p.id)
            .order_by(PostingLine.line_no, PostingLine.id)
        ).all()
        lines = [
            LineRow(line.line_no, line.amount, bool(line.active), line.rule_set, _document_row(doc), p.id)
            for line, doc in line_rows
            # a manager sees the lines of their own projects inside a shared (allocated) posting
            if who.sees_project(doc.project_code)
        ]
        reversed_by = list(session.scalars(select(Posting.id).where(Posting.reverses_id == p.id)))
        projects_of = _posting_projects(session, [p.id])
        return PostingDetail(
            _summary(p, projects_of.get(p.id, ())),
            p.kingdee_id,
            p.key_field,
            p.kingdee_key,
            p.step,
            p.kingdee_status,
            p.reverses_id,
            reversed_by,
            p.approved_by,
            p.error_code,
            p.error_action,
            loads(p.payload) if p.payload else None,
            loads(p.response) if p.response else None,
            lines,
        )


def _number_is(number: str) -> ColumnElement[bool]:
    """What an accountant may type for a posting: Kingdee's number as yecai shows it (a voucher's
    `2026-10 记-0012`, a bill's FBillNo), the key number yecai wrote (FBillNo `YC…`), or a voucher's
    凭证字号 alone (`记-0012`, the same in every period: all of them match)."""
    wanted = number.strip()
    matches = [Posting.kingdee_number == wanted, Posting.kingdee_key == wanted]
    if "-" in wanted and " " not in wanted:
        matches.append(Posting.kingdee_number.endswith(f" {wanted}", autoescape=True))
    return or_(*matches)


def postings_of_voucher(store: Store, who: Principal, number: str) -> list[PostingSummary]:
    """The way back: a Kingdee voucher or bill number → the postings (and so records) behind it."""
    return postings(store, who, number=number, limit=50)

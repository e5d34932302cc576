"""The tables: runs, stream state, staged records, documents, postings and bindings.

Records are what arrived, untouched (one row per revision of a source key); documents are
their validated canonical form; postings are the writes to Kingdee with their full trail; posting
lines tie every document amount to exactly one voucher line (traceability); bindings tie source
keys to Kingdee ids for base data and vouchers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yecai.store.base import Base, Id, Money, utc_now


class Run(Base):
    """One execution of a sync, import, posting or report, with counts and its outcome."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    connection: Mapped[str | None] = mapped_column(String(80))
    stream: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)


class StreamState(Base):
    """The cursor of one stream of one connection; moves only with the records it covers."""

    __tablename__ = "stream_states"
    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    stream: Mapped[str] = mapped_column(String(80), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )


class Record(Base):
    """A staged raw record exactly as received; a source row that differs from its key's latest
    record is a new record (even when it equals an older one: a value that changes back)."""

    __tablename__ = "records"
    # One row per revision of a source key: two writers staging the same key at once both compute
    # the same next revision, so the second fails here and decides again against the new latest.
    __table_args__ = (UniqueConstraint("connection", "stream", "source_key", "revision"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    stream: Mapped[str] = mapped_column(String(80))
    source_key: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    # 1, 2, 3 … per (connection, stream, source key), in the order the versions arrived
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # The document version this record gives when its content came before under the key (a value
    # that changed back): its hash alone would repeat an older document version and posting key.
    # NULL means the content hash is the version (`yecai.store.staging.store_documents`).
    version: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON text, decimals exact
    cursor_value: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="staged")  # staged | valid | invalid
    issues: Mapped[list | None] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # `yecai archive` moved the raw payload to a checksummed file (yecai.ops.archive): the row stays
    # (documents, webhook events and the trace refer to it), `payload` keeps only a stub, and these
    # say where the payload is: the file's name in the archive directory and its line (1-based).
    archive_file: Mapped[str | None] = mapped_column(String(255))
    archive_line: Mapped[int | None] = mapped_column(Integer)
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# Only records waiting to be validated (migration 0015), in id order (0016): the one lookup by
# status, a batch at a time. A full index on (connection, stream, status) also let PostgreSQL, with
# statistics older than a stream's rows, reach the duplicate check by source key through it and
# filter every row of the stream per key; without the id every batch sorted the whole backlog.
STAGED = text("status = 'staged'")
Index(
    "ix_records_status",
    Record.connection,
    Record.stream,
    Record.id,
    sqlite_where=STAGED,
    postgresql_where=STAGED,
)


class Document(Base):
    """A validated canonical document (CostRecord, Project, …) built from one record."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("connection", "kind", "source_key", "version"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    connection: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64))  # content hash of the record it came from
    project_code: Mapped[str | None] = mapped_column(String(80))
    business_date: Mapped[dt.date | None] = mapped_column(Date)
    category: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    # A deletion in the source is a document version of its own (a tombstone), so the history
    # stays whole and what was posted can be reversed by policy.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    data: Mapped[str] = mapped_column(Text)  # canonical JSON of the document
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


Index("ix_documents_kind", Document.connection, Document.kind, Document.project_code)
# Validation asks which records of a batch have a document already (migration 0016): without it
# PostgreSQL read every stored document for each batch.
Index("ix_documents_record", Document.record_id)


class Posting(Base):
    """One write to Kingdee: key stored before sending, state machine, full request/response."""

    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    posting_key: Mapped[str] = mapped_column(String(64), unique=True)
    connection: Mapped[str] = mapped_column(String(80))  # the Kingdee connection written to
    rule_set: Mapped[str] = mapped_column(String(80))
    form_id: Mapped[str] = mapped_column(String(60))
    group_key: Mapped[str] = mapped_column(String(200))
    business_date: Mapped[dt.date] = mapped_column(Date)
    # a PostingState (yecai.domain.posting_states); moved only through yecai.sync.states.transition
    state: Mapped[str] = mapped_column(String(20), default="planned")
    debit_total: Mapped[Decimal] = mapped_column(Money)
    credit_total: Mapped[Decimal] = mapped_column(Money)
    payload: Mapped[str] = mapped_column(Text)  # the Model sent (canonical JSON)
    response: Mapped[str | None] = mapped_column(Text)  # Kingdee's answer for this package
    kingdee_id: Mapped[str | None] = mapped_column(String(40))
    kingdee_number: Mapped[str | None] = mapped_column(String(80))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # posting | reversal (红字冲销 of `reverses_id`) | update (a not-yet-audited document rewritten)
    kind: Mapped[str] = mapped_column(String(20), default="posting", server_default="posting")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id"))
    # where the key sits in Kingdee and its value there: summary token, FBillNo or a custom F_ field
    key_field: Mapped[str] = mapped_column(String(60), default="summary", server_default="summary")
    kingdee_key: Mapped[str | None] = mapped_column(String(80))
    # Save → Submit → Audit: the last step done in Kingdee, and Kingdee's FDocumentStatus
    step: Mapped[str | None] = mapped_column(String(20))
    kingdee_status: Mapped[str | None] = mapped_column(String(2))
    note: Mapped[str | None] = mapped_column(Text)  # why held, skipped, corrected …
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error_action: Mapped[str | None] = mapped_column(String(20))
    error_fault: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )
    lines: Mapped[list[PostingLine]] = relationship(back_populates="posting", order_by="PostingLine.id")


Index("ix_postings_state", Posting.connection, Posting.state)
# A sender's claim: the next planned postings of its connection in id order (migration 0016). The
# (connection, state) index cannot give them in id order, so PostgreSQL walked the primary key past
# every posting already sent.
PLANNED = text("state = 'planned'")
Index("ix_postings_planned", Posting.connection, Posting.id, sqlite_where=PLANNED, postgresql_where=PLANNED)


class PostingLine(Base):
    """Ties one document amount to one line of one posting: each amount is posted once per rule set.

    A line stays when its posting is reversed or superseded (the trail) but becomes inactive, which
    releases the document for its new posting; only active lines are unique per rule set.
    """

    __tablename__ = "posting_lines"
    __table_args__ = (
        Index(
            "uq_posting_lines_active",
            "document_id",
            "rule_set",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    rule_set: Mapped[str] = mapped_column(String(80))
    line_no: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    posting: Mapped[Posting] = relationship(back_populates="lines")


class Binding(Base):
    """Source key ↔ Kingdee id/number, for base data (projects → 项目 dimension) and documents."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("connection", "kind", "source_key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(200))
    form_id: Mapped[str] = mapped_column(String(60))
    kingdee_id: Mapped[str | None] = mapped_column(String(40))
    kingdee_number: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

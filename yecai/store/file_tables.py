"""Tables of file import: one row per imported file, its row problems, locks and column templates.

`file_imports` is the fingerprint guard (a file's SHA-256 is imported once per connection and
kind) and the resumable checkpoint of a large file; `file_import_issues` keeps every rejected row
and warning for the downloadable report; `file_import_locks` lets one importer at a time work on a
(connection, kind), across threads and processes; `column_templates` are saved column mappings.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yecai.store.base import Base, Id, utc_now
from yecai.store.tables import Record


class FileImport(Base):
    """One file (by fingerprint) imported into one (connection, kind): status, checkpoint, counts."""

    __tablename__ = "file_imports"
    __table_args__ = (UniqueConstraint("connection", "kind", "fingerprint", "sheet_filter"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(
        String(40)
    )  # cost, attendance, invoice, payment_request, budget, worker
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the file's bytes
    sheet_filter: Mapped[str] = mapped_column(String(120), default="")  # "" = every matching sheet
    file_name: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    file_format: Mapped[str] = mapped_column(String(10))  # xlsx | xls | ods | csv
    encoding: Mapped[str | None] = mapped_column(String(40))  # detected, CSV only
    template: Mapped[str | None] = mapped_column(String(80))
    # importing → imported; importing with a dead lock holder = interrupted, resumed from rows_done
    status: Mapped[str] = mapped_column(String(20), default="importing")
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)  # data rows committed (checkpoint)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    layout: Mapped[dict] = mapped_column(JSON, default=dict)  # sheets, header rows, column → field
    notes: Mapped[list] = mapped_column(JSON, default=list)  # file-level notes, 中文 / English
    exported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # 导出时间 in the title
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    imported_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# A re-export without a key column is matched by content hash alone (duplicates with multiplicity).
# Only keyless rows (`row:…` keys) are looked up so: keyed rows, nearly all of them, stay out of
# the index and an insert does not pay for a random-position entry (migration 0014).
KEYLESS = text("source_key LIKE 'row:%'")
Index(
    "ix_records_content_hash",
    Record.connection,
    Record.stream,
    Record.content_hash,
    sqlite_where=KEYLESS,
    postgresql_where=KEYLESS,
)


class FileImportIssue(Base):
    """One problem of one row of an imported file: a rejection (error) or a doubt (warning)."""

    __tablename__ = "file_import_issues"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("file_imports.id"))
    severity: Mapped[str] = mapped_column(String(10))  # error | warning | skipped | duplicate | revived
    sheet: Mapped[str] = mapped_column(String(120))
    row_number: Mapped[int] = mapped_column(Integer)  # 1-based, as Excel shows it
    column: Mapped[str] = mapped_column(String(200))  # the header as written in the file
    field: Mapped[str] = mapped_column(String(80))
    value: Mapped[str] = mapped_column(Text)
    zh: Mapped[str] = mapped_column(Text)
    en: Mapped[str] = mapped_column(Text)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))


Index("ix_file_import_issues_import", FileImportIssue.import_id, FileImportIssue.severity)


class FileImportLock(Base):
    """Who imports into a (connection, kind) right now; a lock whose heartbeat is old is stale.

    The owner columns name the process that holds it, so that a lock whose process on this machine
    is gone (killed, aborted) is taken over at once instead of after the heartbeat's grace period.
    """

    __tablename__ = "file_import_locks"
    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))  # random per acquisition: only its owner may release
    holder: Mapped[str] = mapped_column(String(200))  # user@host pid N
    file_name: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # the holding process (migration 0012; empty on rows of an older yecai: the heartbeat rule only)
    owner_host: Mapped[str | None] = mapped_column(String(255))  # socket.gethostname()
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    # "<start ticks>@<boot id>/<pid namespace>" (Linux /proc): tells a reused pid and another machine apart
    owner_start: Mapped[str | None] = mapped_column(String(120))


class ColumnTemplate(Base):
    """A saved column mapping (source header → field, constants) reused for a recurring export."""

    __tablename__ = "column_templates"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    definition: Mapped[dict] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )

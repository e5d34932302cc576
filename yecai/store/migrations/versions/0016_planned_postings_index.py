"""Indexes for a run's hot lookups: planned postings and staged records in id order; documents by record

A sender claims the next batch of planned postings of its connection in id order
(`yecai.sync.sending._take_batch`, `FOR UPDATE SKIP LOCKED … ORDER BY id LIMIT n`). With only the
(connection, state) index, PostgreSQL walked the primary key from the lowest id and filtered out
every posting already sent or saved: a claim late in a run of 13,299 vouchers read ~9,000 rows
and took 11 ms, 3.6 s of the database's 8.5 s in a scaled-out run (issue 15). This index holds the
planned postings only, in id order: a claim reads the rows it takes.

`documents.record_id` (a foreign key) had no index: validation asks which records of a batch
already have a document, and PostgreSQL read every document stored so far for each batch of
1,000 records — 67 ms a batch by the end of a 24,000-record pull, 1.7 s in all.

`ix_records_status` (staged records only, migration 0015) is on (connection, stream, id) instead of
(connection, stream, status): validation reads the backlog a batch at a time in id order, and each
batch sorted every staged record of the stream.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

PLANNED = sa.text("state = 'planned'")
STAGED = sa.text("status = 'staged'")


def _staged_index(columns: list[str]) -> None:
    op.drop_index("ix_records_status", table_name="records")
    op.create_index(
        "ix_records_status", "records", columns, unique=False, sqlite_where=STAGED, postgresql_where=STAGED
    )


def upgrade() -> None:
    op.create_index("ix_documents_record", "documents", ["record_id"], unique=False)
    _staged_index(["connection", "stream", "id"])
    op.create_index(
        "ix_postings_planned",
        "postings",
        ["connection", "id"],
        unique=False,
        sqlite_where=PLANNED,
        postgresql_where=PLANNED,
    )


def downgrade() -> None:
    op.drop_index("ix_postings_planned", table_name="postings")
    op.drop_index("ix_documents_record", table_name="documents")
    _staged_index(["connection", "stream", "status"])

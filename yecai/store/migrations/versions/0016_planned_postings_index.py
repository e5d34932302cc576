"""postings: an index of the planned postings in id order (partial index)

A sender claims the next batch of planned postings of its connection in id order
(`yecai.sync.sending._take_batch`, `FOR UPDATE SKIP LOCKED … ORDER BY id LIMIT n`). With only the
(connection, state) index, PostgreSQL walked the primary key from the lowest id and filtered out
every posting already sent or saved: a claim late in a run of 13,299 vouchers read ~9,000 rows
and took 11 ms, 3.6 s of the database's 8.5 s in a scaled-out run (issue 15). This index holds the
planned postings only, in id order: a claim reads the rows it takes.

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


def upgrade() -> None:
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

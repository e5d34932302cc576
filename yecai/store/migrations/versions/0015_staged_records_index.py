"""records: the status index holds staged records only (partial index)

The index serves one lookup: the records of a stream still waiting to be validated
(`status = 'staged'`, `yecai.sync.intake.validate_staged`). As a full index on (connection,
stream, status) it also offered PostgreSQL a way into every record of a stream, and with
statistics taken before a stream had rows (autovacuum's ANALYZE after a pull's first stream) the
planner chose it for the duplicate check by source key and filtered every stored row of the
stream for every key: a nightly pull of 24,000 cost records then took 13–30 s instead of 3.
Partial, it cannot answer that lookup at all, and it stays as small as the validation backlog.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

STAGED = sa.text("status = 'staged'")


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_status")
    op.create_index(
        "ix_records_status",
        "records",
        ["connection", "stream", "status"],
        unique=False,
        sqlite_where=STAGED,
        postgresql_where=STAGED,
    )


def downgrade() -> None:
    op.drop_index("ix_records_status", table_name="records")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_status", ["connection", "stream", "status"], unique=False)

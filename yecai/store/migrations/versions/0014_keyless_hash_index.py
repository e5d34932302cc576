"""records: the content-hash index holds keyless rows only (partial index)

The index serves one lookup: a re-export without a key column matched by content hash
(`source_key LIKE 'row:%'`, `yecai.files.dedup`). Keyed rows, nearly every row of every source,
never use it, yet each insert of one paid for a random-position entry of a 64-character hash:
about a third of SQLite's own insert time per imported row.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KEYLESS = sa.text("source_key LIKE 'row:%'")


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_content_hash")
    op.create_index(
        "ix_records_content_hash",
        "records",
        ["connection", "stream", "content_hash"],
        unique=False,
        sqlite_where=KEYLESS,
        postgresql_where=KEYLESS,
    )


def downgrade() -> None:
    op.drop_index("ix_records_content_hash", table_name="records")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_content_hash", ["connection", "stream", "content_hash"], unique=False
        )

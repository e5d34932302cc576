"""records.revision and records.version: a value that changes back is a new record

A record used to be unique by (connection, stream, source key, content hash), so 100 → 200 → 100
could not store the third version. Records are now numbered per source key (revision 1, 2, 3 …)
and unique by that number; existing rows are numbered in the order they arrived (by id).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch_op.add_column(sa.Column("version", sa.String(length=64), nullable=True))
    # Until now every stored version of a key had its own content, so numbering them by arrival
    # needs no version label: each hash is still its own document version.
    op.execute(
        "UPDATE records SET revision = (SELECT COUNT(*) FROM records AS earlier"
        " WHERE earlier.connection = records.connection AND earlier.stream = records.stream"
        " AND earlier.source_key = records.source_key AND earlier.id <= records.id)"
    )
    # The old and the new constraint share their conventional name (uq_<table>_<first column>).
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_constraint("uq_records_connection", type_="unique")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_records_connection", ["connection", "stream", "source_key", "revision"]
        )


def downgrade() -> None:
    # Only possible while no content repeats under a key (no value has changed back yet).
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_constraint("uq_records_connection", type_="unique")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_records_connection", ["connection", "stream", "source_key", "content_hash"]
        )
        batch_op.drop_column("version")
        batch_op.drop_column("revision")

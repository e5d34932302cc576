"""records: where an archived raw payload went (archive file, line) and when

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("archive_file", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("archive_line", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("archive_line")
        batch.drop_column("archive_file")

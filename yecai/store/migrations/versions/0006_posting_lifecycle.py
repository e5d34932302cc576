"""postings: kind and reversal link, key field and value, Save/Submit/Audit step, approval, note;
posting_lines: active flag, unique per rule set only while active (reversals release documents)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), server_default="posting", nullable=False))
        batch_op.add_column(
            sa.Column("reverses_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("key_field", sa.String(length=60), server_default="summary", nullable=False)
        )
        batch_op.add_column(sa.Column("kingdee_key", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("step", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("kingdee_status", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_postings_reverses_id_postings"), "postings", ["reverses_id"], ["id"]
        )
    with op.batch_alter_table("posting_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.drop_constraint("uq_posting_lines_document_id", type_="unique")
    op.create_index(
        "uq_posting_lines_active",
        "posting_lines",
        ["document_id", "rule_set"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("uq_posting_lines_active", table_name="posting_lines")
    with op.batch_alter_table("posting_lines", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.create_unique_constraint("uq_posting_lines_document_id", ["document_id", "rule_set"])
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_postings_reverses_id_postings"), type_="foreignkey")
        for column in (
            "approved_at",
            "approved_by",
            "note",
            "kingdee_status",
            "step",
            "kingdee_key",
            "key_field",
            "reverses_id",
            "kind",
        ):
            batch_op.drop_column(column)

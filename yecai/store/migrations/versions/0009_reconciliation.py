"""reconciliation: the differences of each reconciliation run (the run itself is a `runs` row)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "recon_differences",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("project", sa.String(length=80), nullable=True),
        sa.Column("account", sa.String(length=200), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("source_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("yecai_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("kingdee_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("posting_id", ID, nullable=True),
        sa.Column("posting_key", sa.String(length=64), nullable=True),
        sa.Column("kingdee_number", sa.String(length=80), nullable=True),
        sa.Column("kingdee_id", sa.String(length=40), nullable=True),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("message_zh", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_recon_differences_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_recon_differences_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_differences")),
    )
    with op.batch_alter_table("recon_differences", schema=None) as batch_op:
        batch_op.create_index("ix_recon_differences_run", ["run_id", "kind"], unique=False)
        batch_op.create_index("ix_recon_differences_project", ["run_id", "project"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recon_differences", schema=None) as batch_op:
        batch_op.drop_index("ix_recon_differences_project")
        batch_op.drop_index("ix_recon_differences_run")
    op.drop_table("recon_differences")

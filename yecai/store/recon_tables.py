"""Reconciliation tables: the differences one reconciliation run found, one row each.

The run itself is a row of `runs` (kind `reconcile`, counts per difference type, the period in its
counts); each difference names its type, project, account and period, the three amounts (source,
yecai, Kingdee), the posting and voucher behind it, the documents, and what to do — both languages.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yecai.store.base import Base, Id, Money


class ReconDifference(Base):
    """One difference of a reconciliation run, per project × account × period (or per voucher)."""

    __tablename__ = "recon_differences"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    # missing_in_kingdee | unknown_in_kingdee | amount_mismatch | changed_in_kingdee | source_changed
    kind: Mapped[str] = mapped_column(String(30))
    project: Mapped[str | None] = mapped_column(String(80))  # PM project code; None: no 项目 dimension
    account: Mapped[str | None] = mapped_column(String(200))  # account number (or numbers, per voucher)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    source_amount: Mapped[Decimal | None] = mapped_column(Money)  # debit − credit, as the source says now
    yecai_amount: Mapped[Decimal | None] = mapped_column(Money)  # debit − credit, as yecai posted it
    kingdee_amount: Mapped[Decimal | None] = mapped_column(Money)  # debit − credit, as Kingdee holds it
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id"))
    posting_key: Mapped[str | None] = mapped_column(String(64))
    kingdee_number: Mapped[str | None] = mapped_column(String(80))  # the voucher's FBillNo
    kingdee_id: Mapped[str | None] = mapped_column(String(40))
    document_ids: Mapped[list] = mapped_column(JSON, default=list)
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)


Index("ix_recon_differences_run", ReconDifference.run_id, ReconDifference.kind)
Index("ix_recon_differences_project", ReconDifference.run_id, ReconDifference.project)

"""The webhook event log: one row per event id per connection, the de-duplication key.

An event is acknowledged (HTTP 2xx) only after its row and its staged record are committed
together, so a redelivered event finds its id here and is answered "duplicate" without storing
anything twice; a replay of the whole log is therefore harmless.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yecai.store.base import Base, Id, utc_now


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("connection", "event_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20))  # stored | unchanged | ignored
    body_hash: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

"""Encrypted connection secrets: (connection, name) → Fernet ciphertext. Plain text never stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yecai.store.base import Base, utc_now


class ConnectionSecret(Base):
    __tablename__ = "connection_secrets"
    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )

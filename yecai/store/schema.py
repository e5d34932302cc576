"""Every table of the store in one metadata: what Alembic compares and migrations are made from.

The table modules are split by role and do not import each other; importing this module loads all
of them so that `metadata` is complete (the store imports it on opening, so every mapper is known).
"""

from __future__ import annotations

from yecai.store import (  # noqa: F401  (imported for their tables)
    auth_tables,
    file_tables,
    job_tables,
    recon_tables,
    secret_tables,
    tables,
    webhook_tables,
)
from yecai.store.base import Base

metadata = Base.metadata

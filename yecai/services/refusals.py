"""What Kingdee refused: failed or dead postings of a connection in a time window, grouped by
form and MsgCode — what a finished or failed run reports as `kingdee.error` (one alert per kind of
refusal, not one per posting). A read-only service over `postings`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from yecai.domain.posting_states import PostingState
from yecai.store.db import Store
from yecai.store.tables import Posting


@dataclass(frozen=True, slots=True)
class KingdeeFailure:
    """Postings Kingdee refused with one MsgCode on one form."""

    connection: str
    form_id: str
    msg_code: int
    postings: int
    message: str  # one of them, as a sample


def kingdee_failures(store: Store, *, connection: str, since: dt.datetime) -> list[KingdeeFailure]:
    """Failed or dead postings of the connection changed since `since`, by form and MsgCode."""
    with store.transaction() as session:
        rows = session.execute(
            select(Posting.form_id, Posting.error_code, func.count(), func.max(Posting.error_message))
            .where(
                Posting.connection == connection,
                Posting.state.in_((PostingState.FAILED, PostingState.DEAD)),
                Posting.error_code.is_not(None),
                Posting.updated_at >= since.astimezone(dt.UTC),
            )
            .group_by(Posting.form_id, Posting.error_code)
            .order_by(Posting.form_id, Posting.error_code)
        ).all()
    return [
        KingdeeFailure(connection, form, int(code), int(count), (message or "")[:500])
        for form, code, count, message in rows
    ]

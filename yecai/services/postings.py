"""Postings as a person handles them: list, approve (the approval gate), replay, skip with a reason.

Service functions with keyword-only arguments, called by `yecai postings …` and (later) the
console. A replay never resends blindly: a posting that may be in Kingdee is looked up by its key
first (it goes back to `uncertain`), a compensated or never-saved one goes back to `planned`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, select

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.domain.posting_states import TERMINAL, PostingState
from yecai.errors import YecaiError
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync.states import transition

S = PostingState
REPLAYABLE = (S.FAILED, S.DEAD, S.HELD, S.SKIPPED)
# In Kingdee, or its write's outcome undecided: setting it aside would hide a live voucher.
NOT_SKIPPABLE = (S.POSTED, S.SAVED, S.SENT, S.UNCERTAIN)


@dataclass(frozen=True, slots=True)
class PostingHead:
    """Which posting a row shows: the columns every list of postings starts with, in this order.

    The CLI's rows and the trace's summaries extend it, so the two cannot disagree on what names
    a posting; `head_of` copies these columns from the stored posting.
    """

    id: int
    posting_key: str
    connection: str
    rule_set: str
    form_id: str
    business_date: dt.date
    state: str


def head_of(p: Posting) -> dict[str, Any]:
    """The stored posting's PostingHead columns, as keywords for a row that extends it."""
    return {f.name: getattr(p, f.name) for f in fields(PostingHead)}


@dataclass(frozen=True, slots=True)
class PostingRow(PostingHead):
    debit_total: str
    kingdee_number: str | None
    attempts: int
    message: str | None


def list_postings(
    store: Store, *, state: str | None = None, connection: str | None = None, limit: int = 200
) -> list[PostingRow]:
    wanted = S.SENT if state == "sending" else state
    with store.transaction() as session:
        query = select(Posting).order_by(Posting.id.desc()).limit(limit)
        if wanted:
            query = query.where(Posting.state == wanted)
        if connection:
            query = query.where(Posting.connection == connection)
        return [
            PostingRow(
                **head_of(p),
                debit_total=f"{p.debit_total:,.2f}",
                kingdee_number=p.kingdee_number,
                attempts=p.attempts,
                message=p.error_message or p.note,
            )
            for p in session.scalars(query)
        ]


def counts_by_state(store: Store, *, connection: str | None = None) -> dict[str, int]:
    with store.transaction() as session:
        query = select(Posting.state, func.count()).group_by(Posting.state)
        if connection:
            query = query.where(Posting.connection == connection)
        return {state: count for state, count in session.execute(query)}


def approve(
    store: Store,
    *,
    who: str,
    ids: Sequence[int] = (),
    rule_set: str | None = None,
    connection: str | None = None,
    by: Principal | None = None,
) -> int:
    """Release postings waiting at the approval gate; returns how many were approved.

    With `by`, each release is written to the audit log in the same transaction."""
    with store.transaction() as session:
        query = select(Posting).where(Posting.state == S.AWAITING_APPROVAL)
        if ids:
            query = query.where(Posting.id.in_(list(ids)))
        if rule_set:
            query = query.where(Posting.rule_set == rule_set)
        if connection:
            query = query.where(Posting.connection == connection)
        count = 0
        for posting in session.scalars(query):
            transition(posting, S.PLANNED, reason=f"approved by {who}")
            posting.approved_by = who
            posting.approved_at = dt.datetime.now(dt.UTC)
            count += 1
            if by is not None:
                audit.record(
                    session,
                    by,
                    action="posting.approve",
                    target_type="posting",
                    target_id=posting.id,
                    before={"state": S.AWAITING_APPROVAL},
                    after={"state": S.PLANNED, "approved_by": who},
                )
        return count


def _get(session: object, posting_id: int) -> Posting:
    posting = session.get(Posting, posting_id)  # type: ignore[attr-defined]
    if posting is None:
        raise YecaiError(f"过账 {posting_id} 不存在", f"posting {posting_id} does not exist")
    return posting


def replay(store: Store, *, posting_id: int, by: Principal | None = None) -> str:
    """Put a failed, dead, held or skipped posting back in the queue; returns its new state."""
    with store.transaction() as session:
        posting = _get(session, posting_id)
        before = {"state": posting.state, "attempts": posting.attempts, "note": posting.note}
        if posting.state not in REPLAYABLE:
            raise YecaiError(
                f"过账 {posting_id} 状态为 {posting.state}，不能重放（可重放：{', '.join(REPLAYABLE)}）",
                f"posting {posting_id} is {posting.state}; only {', '.join(REPLAYABLE)} can be replayed",
            )
        # A document that may exist in Kingdee is looked up first, never resent blindly.
        to = S.SAVED if posting.kingdee_id else S.UNCERTAIN if posting.attempts else S.PLANNED
        transition(posting, to, reason="replay")
        posting.attempts = 0
        posting.note = f"重放 replayed {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z"
        if by is not None:
            audit.record(
                session,
                by,
                action="posting.replay",
                target_type="posting",
                target_id=posting.id,
                before=before,
                after={"state": posting.state, "attempts": 0, "note": posting.note},
            )
        return posting.state


def skip(store: Store, *, posting_id: int, reason: str, who: str, by: Principal | None = None) -> None:
    """Set a posting aside for good, with the reason (it can still be replayed later)."""
    if not reason.strip():
        raise YecaiError("跳过必须说明原因", "skipping needs a reason")
    with store.transaction() as session:
        posting = _get(session, posting_id)
        if posting.state in NOT_SKIPPABLE:
            raise YecaiError(
                f"过账 {posting_id} 已在金蝶中或结果未定（{posting.state}），不能跳过",
                f"posting {posting_id} is in Kingdee or undecided ({posting.state}); it cannot be skipped",
            )
        if posting.state in TERMINAL:
            raise YecaiError(
                f"过账 {posting_id} 已被更正（{posting.state}），不能跳过",
                f"posting {posting_id} is retired by a correction ({posting.state}); it cannot be skipped",
            )
        before = {"state": posting.state, "note": posting.note}
        transition(posting, S.SKIPPED, reason=f"skipped by {who}")
        posting.note = f"{who}: {reason}"
        if by is not None:
            audit.record(
                session,
                by,
                action="posting.skip",
                target_type="posting",
                target_id=posting.id,
                before=before,
                after={"state": S.SKIPPED, "note": posting.note},
            )

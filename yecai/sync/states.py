"""Moving a posting between states: the one place a posting's state is set, checked against the table.

`transition` checks the move against `yecai.domain.posting_states.TRANSITIONS` and then sets the
row, so a move the table does not know fails loudly instead of leaving a posting somewhere no
code path expects. `state_after` says where a posting stands once Kingdee confirmed a step
(Save → Submit → Audit as its rule set asks); the counts are what the pipeline reports.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from yecai.domain.posting_states import PostingState, check_move
from yecai.store.db import Store
from yecai.store.tables import Posting

if TYPE_CHECKING:  # for the hints only: the services import this module and need no rule sets
    from yecai.mapping.rules import RuleSet

STEPS = ("save", "submit", "audit")


def transition(posting: Posting, to: PostingState, *, reason: str = "") -> str:
    """Move the posting to `to` if the table allows it; returns the table's reason for the move.

    `reason` says what the caller is doing; it only appears in the error of a refused move.
    """
    allowed = check_move(posting.state, to, why=reason)
    posting.state = to
    return allowed


def final_step(rules: RuleSet | None) -> str:
    """The last of Save → Submit → Audit the rule set asks for."""
    return "audit" if rules and rules.audit else "submit" if rules and rules.submit else "save"


def state_after(posting: Posting, rules: RuleSet | None) -> PostingState:
    """`posted` once every step the rule set asks for is done; else `saved` (more steps due)."""
    done = STEPS.index(posting.step or "save")
    return PostingState.POSTED if done >= STEPS.index(final_step(rules)) else PostingState.SAVED


def posting_counts(store: Store, kingdee_connection: str) -> dict[str, int]:
    """How many postings of the connection are in each state."""
    with store.transaction() as session:
        rows = session.execute(
            select(Posting.state, func.count())
            .where(Posting.connection == kingdee_connection)
            .group_by(Posting.state)
        )
        return {key: value for key, value in rows}


def posted_totals(store: Store, kingdee_connection: str) -> tuple[Decimal, Decimal]:
    """Debit and credit totals of the connection's posted postings."""
    with store.transaction() as session:
        debit, credit = session.execute(
            select(
                func.coalesce(func.sum(Posting.debit_total), 0),
                func.coalesce(func.sum(Posting.credit_total), 0),
            ).where(Posting.connection == kingdee_connection, Posting.state == PostingState.POSTED)
        ).one()
        return Decimal(debit), Decimal(credit)

"""The posting state machine as a table: walked whole, and checked against what a real run does.

Every state is reachable from where postings start, the retired states lead nowhere, every move
the table does not list is refused by `transition()` (all pairs), and the moves the pipeline makes
end to end — approval, Save → Submit → Audit, a refused audit compensated and replayed, closed
periods, corrections by update, deletion and reversal — are all in the table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.posting_world import Site, rules_with, systems_for
from yecai.domain.posting_states import (
    INITIAL,
    OPEN,
    STATES,
    TERMINAL,
    TRANSITIONS,
    UNKNOWN,
    IllegalTransition,
    PostingState,
    check_move,
    initial,
)
from yecai.errors import YecaiError
from yecai.mapping.rules import PeriodPolicy, default_rule_set
from yecai.sandbox.kingdee import SandboxSettings
from yecai.services import postings as service
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync import states
from yecai.sync.states import final_step, state_after, transition

S = PostingState
Move = tuple[str, str]


def reachable(start: frozenset[PostingState]) -> set[PostingState]:
    seen = set(start)
    frontier = list(start)
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_the_table_names_every_state_and_only_states() -> None:
    assert set(TRANSITIONS) == set(PostingState)
    for moves in TRANSITIONS.values():
        assert set(moves) <= set(PostingState)
        # every reason is in words, Chinese first then English
        assert all(" / " in reason and reason.strip() for reason in moves.values())


def test_every_state_is_reachable_from_the_initial_states() -> None:
    assert {initial(approval=True), initial(approval=False)} == INITIAL
    assert reachable(INITIAL) == set(PostingState)


def test_terminal_states_have_no_way_out_and_the_others_have_one() -> None:
    assert {S.REVERSED, S.SUPERSEDED, S.DELETED} == TERMINAL
    assert {state for state, moves in TRANSITIONS.items() if not moves} == TERMINAL
    # every other state can still reach a state in Kingdee or a person's decision
    for state in set(PostingState) - TERMINAL:
        assert reachable(frozenset({state})) & {S.POSTED, S.SKIPPED, S.FAILED}


def test_transition_allows_the_table_and_refuses_every_other_pair() -> None:
    for current in PostingState:
        for to in PostingState:
            posting = Posting(state=current)
            if to in TRANSITIONS[current]:
                assert transition(posting, to, reason="test") == TRANSITIONS[current][to]
                assert posting.state == to
            else:
                with pytest.raises(IllegalTransition) as refused:
                    transition(posting, to, reason="test")
                assert posting.state == current  # a refused move leaves the row untouched
                assert (refused.value.current, refused.value.to) == (current, to)


def test_values_that_are_no_state_are_refused_with_a_bilingual_message() -> None:
    with pytest.raises(IllegalTransition, match=r"过账状态不能从 sending 变为 planned.*cannot move"):
        transition(Posting(state="sending"), S.PLANNED)
    with pytest.raises(IllegalTransition, match=r"（重放）.*allowed: "):
        check_move(S.PLANNED, "replayed", why="重放")


def test_the_groups_of_states_keep_their_values_and_order() -> None:
    # stored in the database and shown in filters and metrics: the values never change
    assert STATES == (
        "awaiting_approval",
        "planned",
        "sent",
        "uncertain",
        "saved",
        "posted",
        "failed",
        "dead",
        "held",
        "skipped",
    )
    assert set(UNKNOWN) == {"sent", "uncertain"}
    assert set(OPEN) == {"planned", "awaiting_approval", "sent", "uncertain", "saved"}


@pytest.mark.parametrize(
    ("submit", "audit", "step", "expected"),
    [
        (False, False, "save", S.POSTED),
        (True, False, "save", S.SAVED),
        (True, False, "submit", S.POSTED),
        (True, True, "submit", S.SAVED),
        (True, True, "audit", S.POSTED),
        (False, True, "save", S.SAVED),
    ],
)
def test_state_after_a_step(submit: bool, audit: bool, step: str, expected: PostingState) -> None:
    rules = default_rule_set().model_copy(update={"submit": submit, "audit": audit})
    posting = Posting(state=S.SENT, step=step)
    assert final_step(rules) == ("audit" if audit else "submit" if submit else "save")
    assert state_after(posting, rules) is expected
    assert state_after(Posting(step=None), None) is S.POSTED  # no rule set: Save is all


# --- a real run -------------------------------------------------------------------------------------


@pytest.fixture
def moves(monkeypatch: pytest.MonkeyPatch) -> set[Move]:
    """Every move `transition()` is asked to make while the test runs (a refused one raises)."""
    made: set[Move] = set()
    checked = states.check_move

    def recording(current: str | None, to: str, *, why: str = "") -> str:
        reason = checked(current, to, why=why)
        made.add((str(current), str(to)))
        return reason

    monkeypatch.setattr(states, "check_move", recording)
    return made


def in_table(made: set[Move]) -> bool:
    return all(S(to) in TRANSITIONS[S(current)] for current, to in made)


@pytest.mark.slow  # whole pipeline runs against both sandboxes
def test_the_moves_of_real_runs_are_in_the_table(store: Store, tmp_path: Path, moves: set[Move]) -> None:
    # approval gate → Save → Submit → a refused Audit, compensated → replay → posted
    for systems in systems_for(tmp_path / "a", SandboxSettings(voucher_creator_may_audit=False)):
        rules = rules_with(approval=True, submit=True, audit=True, options={"on_step_failure": "delete"})
        systems.sync(store, rules)
        assert service.approve(store, who="会计") > 0
        report = systems.sync(store, rules)
        assert report.send.failed == report.send.compensated > 0
        systems.kingdee.sandbox.settings = SandboxSettings(voucher_creator_may_audit=True)
        with store.transaction() as session:
            failed = [p.id for p in session.scalars(select(Posting).where(Posting.state == S.FAILED))]
        for posting_id in failed:
            service.replay(store, posting_id=posting_id)
        again = systems.sync(store, rules)
        assert again.send.posted == len(failed)
    assert {
        (S.AWAITING_APPROVAL, S.PLANNED),
        (S.PLANNED, S.SENT),
        (S.SENT, S.SAVED),
        (S.SAVED, S.FAILED),
        (S.FAILED, S.UNCERTAIN),
        (S.SAVED, S.POSTED),
    } <= moves
    assert in_table(moves)


@pytest.mark.slow
def test_closed_periods_and_skips_move_by_the_table(store: Store, tmp_path: Path, moves: set[Move]) -> None:
    for systems in systems_for(tmp_path):
        systems.kingdee.sandbox.close_period(2026, 10)
        held = systems.sync(store, rules_with(period_policy=PeriodPolicy.HOLD))
        assert held.send.held > 0
        with store.transaction() as session:
            first = session.scalars(select(Posting).order_by(Posting.id).limit(1)).one()
        service.skip(store, posting_id=first.id, reason="重复录入", who="会计")
        service.skip(store, posting_id=first.id, reason="确认重复", who="会计")  # a new reason
        assert service.replay(store, posting_id=first.id) in STATES
        moved = systems.sync(store, rules_with(period_policy=PeriodPolicy.NEXT_OPEN))
        assert moved.send.moved_period > 0
    assert {(S.SENT, S.HELD), (S.HELD, S.SKIPPED), (S.SKIPPED, S.SKIPPED), (S.SENT, S.PLANNED)} <= moves
    assert in_table(moves)


@pytest.mark.slow
@pytest.mark.parametrize("audited", [False, True])
def test_corrections_retire_originals_by_the_table(
    store: Store, tmp_path: Path, moves: set[Move], audited: bool
) -> None:
    site = Site(tmp_path)
    try:
        rules = default_rule_set().model_copy(update={"submit": audited, "audit": audited})
        site.sync(store, rules)
        site.pm.runtime.clock.set(site.dataset.timeline_end)  # corrections and deletions happen
        second = site.sync(store, rules)
        assert second.check.clean
    finally:
        site.stop()
    retired = {to for _, to in moves} & TERMINAL
    # an audited voucher is reversed; an unaudited one rewritten or deleted (reversed if it regroups)
    assert retired == {S.REVERSED} if audited else retired & {S.SUPERSEDED, S.DELETED}
    assert in_table(moves)


def test_a_retired_posting_cannot_be_skipped(store: Store) -> None:
    with store.transaction() as session:
        posting = Posting(
            posting_key="k" * 20,
            connection="kd",
            rule_set="r",
            form_id="GL_VOUCHER",
            group_key="g",
            business_date=dt.date(2026, 1, 1),
            state=S.REVERSED,
            debit_total=0,
            credit_total=0,
            payload="{}",
        )
        session.add(posting)
        session.flush()
        posting_id = posting.id
    with pytest.raises(YecaiError, match="已被更正"):
        service.skip(store, posting_id=posting_id, reason="x", who="y")

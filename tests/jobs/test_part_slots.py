"""A part's calls in flight: its share of the limit among the other parts while its job still plans
(the job sends nothing then), its own share once the planning is over — and never wide again."""

from __future__ import annotations

from typing import Any

import pytest

from yecai.jobs import parts
from yecai.sync import readback
from yecai.sync.results import SendResult


def _sender(more: Any, *, senders: int = 4, wide: int | None = 6) -> parts._PartSender:
    return parts._PartSender(
        None,
        None,
        kingdee_connection="kd",
        rule_sets={},
        batch_size=50,
        max_attempts=3,
        options={},
        max_refusals=3,
        backoff=0.0,
        settle_seconds=None,
        moves=0,
        senders=senders,
        progress=None,
        result=SendResult(),
        read=readback.ReadBack(),
        taken=[],
        more=more,
        wide=wide,
    )


def test_wide_while_the_job_plans_then_its_own_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "PLANNING_POLL", 0.0)
    answers = iter([True, True, False, True])
    sender = _sender(lambda: next(answers))
    assert sender.pool_size == 6  # threads enough for the wide share
    assert [sender.slots() for _ in range(4)] == [6, 6, 4, 4]  # over once, over for good


def test_the_planning_is_asked_at_most_every_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "PLANNING_POLL", 3600.0)
    asked: list[None] = []

    def more() -> bool:
        asked.append(None)
        return True

    sender = _sender(more)
    assert [sender.slots() for _ in range(5)] == [6] * 5
    assert len(asked) == 1


@pytest.mark.parametrize(("more", "wide"), [(None, 6), (lambda: True, None), (lambda: True, 4)])
def test_no_planning_no_wider_share(more: Any, wide: int | None) -> None:
    sender = _sender(more, wide=wide)
    assert sender.slots() == 4
    assert sender.pool_size == 4

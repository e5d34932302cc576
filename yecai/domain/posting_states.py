"""Posting states as data: the enum, the table of allowed moves, and the check of one move.

A posting (one write to Kingdee) moves through these states; the values are stored in the
database and shown in the console, CLI and metrics, so they never change. Which move is allowed
is a table (from-state → {to-state: why}), not a rule scattered over `if`s; the sync pipeline
moves a posting only through `yecai.sync.states.transition`, which checks it here first. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class PostingState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # planned behind the approval gate
    PLANNED = "planned"  # stored with its key, waiting to be sent
    SENT = "sent"  # carried by a write: its outcome may be unknown
    UNCERTAIN = "uncertain"  # outcome unknown: looked up by key before anything is resent
    SAVED = "saved"  # in Kingdee; Submit/Audit still due
    POSTED = "posted"  # in Kingdee with every step its rule set asks for
    FAILED = "failed"  # fix data or configuration, then replay
    DEAD = "dead"  # retries exhausted: a dead letter, replayable
    HELD = "held"  # closed period, held by the period policy
    SKIPPED = "skipped"  # set aside by a person, with a reason
    REVERSED = "reversed"  # retired: a red-ink reversal (红字冲销) is in Kingdee
    SUPERSEDED = "superseded"  # retired: rewritten in place by an update posting
    DELETED = "deleted"  # retired: its unaudited voucher was deleted from Kingdee


S = PostingState

# Where a posting starts: behind the approval gate when the rule set asks for one, else planned.
INITIAL: frozenset[PostingState] = frozenset({S.AWAITING_APPROVAL, S.PLANNED})

# The three retired states are reached only by corrections and lead nowhere: the trail stays.
TERMINAL: frozenset[PostingState] = frozenset({S.REVERSED, S.SUPERSEDED, S.DELETED})

# The states lists, filters and metrics show, in the order a posting goes through them (the
# retired ones appear where present; a filter or a zero series for them is not offered).
STATES: tuple[PostingState, ...] = tuple(s for s in PostingState if s not in TERMINAL)

# A write whose outcome is unknown: looked up in Kingdee by key before anything is resent.
UNKNOWN: tuple[PostingState, ...] = (S.SENT, S.UNCERTAIN)

# Not yet settled: still on the way to Kingdee (the console's backlog).
OPEN: tuple[PostingState, ...] = (S.PLANNED, S.AWAITING_APPROVAL, S.SENT, S.UNCERTAIN, S.SAVED)

# After a restore the backup's "not sent" may be stale: a posting found by key is confirmed.
_FOUND_AFTER_RESTORE = "恢复备份后按键在金蝶中找到 / found by key in Kingdee after a restore"

_REPLAY = {
    S.PLANNED: "重放：从未保存 / replayed: never saved",
    S.POSTED: _FOUND_AFTER_RESTORE,
    S.UNCERTAIN: "重放：可能已在金蝶，先按键查询 / replayed: may be in Kingdee, looked up by key first",
    S.SAVED: "重放：已在金蝶，继续提交审核 / replayed: in Kingdee, Submit/Audit go on",
    S.SKIPPED: "人工跳过（附原因） / skipped by a person, with a reason",
}

# fmt: off
TRANSITIONS: Mapping[PostingState, Mapping[PostingState, str]] = {
    S.AWAITING_APPROVAL: {
        S.PLANNED: "审批通过 / approved at the gate",
        S.SKIPPED: "人工跳过（附原因） / skipped by a person, with a reason",
        S.SAVED: _FOUND_AFTER_RESTORE,
        S.POSTED: _FOUND_AFTER_RESTORE,
    },
    S.PLANNED: {
        S.SENT: "放入批量保存 / taken into a BatchSave",
        S.PLANNED: "删除调用未获应答或被拒，下次重试 / a deletion's call failed before an answer: next run",
        S.SAVED: _FOUND_AFTER_RESTORE,
        S.POSTED: "删除完成（或已不存在），或恢复备份后按键找到 / deletion done (or already gone), "
                  "or found by key after a restore",
        S.FAILED: "删除被拒或找不到原凭证 / deletion refused, or the voucher to delete is unknown",
        S.DEAD: "尝试次数用尽 / attempts exhausted",
        S.SKIPPED: "人工跳过（附原因） / skipped by a person, with a reason",
    },
    S.SENT: {
        S.UNCERTAIN: "写入结果未知 / the write's outcome is unknown",
        S.PLANNED: "未到达金蝶或被拒后重试、改入下一期间、按键确认不存在 / "
                   "not in Kingdee: refused before anything ran, retried, re-dated, or proven absent",
        S.SAVED: "已保存，仍需提交/审核 / saved; Submit/Audit still due",
        S.POSTED: "已保存且无需更多步骤 / saved with every step done",
        S.HELD: "期间已结账，按策略保留 / closed period, held by policy",
        S.DEAD: "可重试的拒绝，次数用尽 / a retryable refusal with attempts exhausted",
        S.FAILED: "金蝶拒绝：修正数据或配置 / refused by Kingdee: fix data or configuration",
    },
    S.UNCERTAIN: {
        S.UNCERTAIN: "仍在等待期内，稍后再查 / still inside the settle time: asked again later",
        S.PLANNED: "按键确认不在金蝶，可再次发送 / proven absent from Kingdee: safe to send again",
        S.SAVED: "按键在金蝶中找到，仍需提交/审核 / found by key; Submit/Audit still due",
        S.POSTED: "按键在金蝶中找到或删除完成 / found by key, or the deletion done",
        S.FAILED: "删除被拒或找不到原凭证 / deletion refused, or the voucher to delete is unknown",
    },
    S.SAVED: {
        S.POSTED: "提交/审核完成 / Submit/Audit done",
        S.FAILED: "提交/审核被拒（按策略补偿） / Submit/Audit refused (compensated by policy)",
        S.REVERSED: "已红字冲销 / reversed (红字冲销)",
        S.SUPERSEDED: "已被改写 / rewritten by an update",
        S.DELETED: "未审核凭证已删除 / unaudited voucher deleted",
    },
    S.POSTED: {
        S.REVERSED: "已红字冲销 / reversed (红字冲销)",
        S.SUPERSEDED: "已被改写 / rewritten by an update",
        S.DELETED: "未审核凭证已删除 / unaudited voucher deleted",
    },
    S.FAILED: _REPLAY,
    S.DEAD: _REPLAY,
    S.HELD: _REPLAY,
    S.SKIPPED: {
        **_REPLAY,
        S.SKIPPED: "再次跳过，原因更新 / skipped again: the reason is replaced",
    },
    S.REVERSED: {},
    S.SUPERSEDED: {},
    S.DELETED: {},
}
# fmt: on


class IllegalTransition(ValueError):
    """A move the transitions table does not allow (a bug in yecai, never bad input)."""

    def __init__(self, current: str | None, to: str, why: str = "") -> None:
        allowed = ", ".join(sorted(allowed_from(current))) or "—"
        during = f"（{why}）" if why else ""
        during_en = f" ({why})" if why else ""
        super().__init__(
            f"过账状态不能从 {current} 变为 {to}{during}；允许：{allowed} / "
            f"a posting cannot move from {current} to {to}{during_en}; allowed: {allowed}"
        )
        self.current = current
        self.to = to


def allowed_from(current: str | None) -> Mapping[PostingState, str]:
    """The moves allowed from a state (none from a value that is no state)."""
    try:
        return TRANSITIONS[PostingState(current)]
    except ValueError:
        return {}


def check_move(current: str | None, to: str, *, why: str = "") -> str:
    """The table's reason for moving from `current` to `to`; raises IllegalTransition if refused."""
    try:
        target = PostingState(to)
    except ValueError:
        raise IllegalTransition(current, to, why) from None
    reason = allowed_from(current).get(target)
    if reason is None:
        raise IllegalTransition(current, to, why)
    return reason


def initial(*, approval: bool) -> PostingState:
    """Where a new posting starts: behind the approval gate if its rule set asks for one."""
    return S.AWAITING_APPROVAL if approval else S.PLANNED

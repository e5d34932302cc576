"""What a send round did: the counts `sending` and `lifecycle` both add to, and their sum.

Kept apart from both so the sender (which calls the lifecycle) and the lifecycle (which counts
into the same result) import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SendResult:
    sent: int = 0  # postings included in a BatchSave
    posted: int = 0  # confirmed in Kingdee by this run
    found_after_unknown: int = 0  # uncertain writes that turned out to have landed
    reset_after_unknown: int = 0  # uncertain writes that had not landed (sent again)
    found_after_restore: int = 0  # held as not sent by a restored backup, found in Kingdee by key
    retried: int = 0
    failed: int = 0
    held: int = 0  # closed period, period policy hold
    moved_period: int = 0  # closed period, moved to the next open one by policy
    waiting: int = 0  # outcome unknown, inside the settle time: asked again by a later run
    interrupted: bool = False  # the run stopped early (unknown outcomes kept coming); resume later
    submitted: int = 0
    audited: int = 0
    compensated: int = 0  # saved documents deleted again after a later step failed
    calls: int = 0
    errors: list[str] = field(default_factory=list)


def merge_sends(sends: list[SendResult]) -> SendResult:
    """Several send rounds' results added up."""
    total = SendResult()
    for send in sends:
        for name in SendResult.__dataclass_fields__:
            value, current = getattr(send, name), getattr(total, name)
            setattr(total, name, (current or value) if isinstance(value, bool) else current + value)
    return total

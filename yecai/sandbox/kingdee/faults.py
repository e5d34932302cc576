"""Realism and faults of sandbox.kingdee: what a real K/3 Cloud site and its network do to callers.

Latency per call and per record, HTML error pages (HTTP 5xx), calls that hang past the caller's
timeout and still commit afterwards, MsgCode 14 throttling, commits whose answer is lost on the
way back, forced session loss every N calls, and a concurrency limit per data centre (excess calls
queue, as Kingdee's WebAPI does). Everything is decided by a seeded random generator so a test
run is repeatable, and every knob can change at runtime through the admin endpoint.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# Services whose calls count as writes for the "commit then drop" fault; reads are never dropped
# after commit because nothing was committed (they are still subject to the other faults).
WRITE_SERVICES = frozenset(
    s.lower()
    for s in (
        "Save",
        "BatchSave",
        "Draft",
        "Submit",
        "Audit",
        "UnAudit",
        "Delete",
        "ExcuteOperation",
        "Allocate",
        "CancelAllocate",
        "Push",
    )
)


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """What to inject; rates are probabilities per call in [0, 1]."""

    # A call's modelled answer time, counted from its admission and including the emulator's own
    # work (slept off against it, not added on top): latency_ms + per_record_ms × records.
    latency_ms: float = 0.0  # every call
    per_record_ms: float = 0.0  # per data package saved or row returned
    fail_rate: float = 0.0  # HTTP 500 HTML error page instead of handling the call
    timeout_rate: float = 0.0  # hang `hang_seconds`, then handle the call anyway (late commit)
    hang_seconds: float = 30.0
    hang_writes_only: bool = False  # hang only writes: lookups answer at once (the worst case)
    drop_after_commit_rate: float = 0.0  # writes: handle (commit), then lose the answer
    throttle_rate: float = 0.0  # MsgCode 14 调用限制 instead of handling the call
    session_loss_every: int = 0  # every N-th call first drops every session (0 = never)
    max_concurrency: int = 0  # calls handled at once per data centre; more wait (0 = no limit)
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("fail_rate", "timeout_rate", "drop_after_commit_rate", "throttle_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        for name in ("latency_ms", "per_record_ms", "hang_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.session_loss_every < 0 or self.max_concurrency < 0:
            raise ValueError("session_loss_every and max_concurrency cannot be negative")

    def updated(self, changes: dict[str, Any]) -> FaultSettings:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    """The faults drawn for one call, in the order they strike."""

    number: int  # 1-based call number since start
    lose_sessions: bool = False
    fail: bool = False
    throttle: bool = False
    hang: bool = False
    drop_after_commit: bool = False


@dataclass(slots=True)
class FaultCounts:
    calls: int = 0
    failed: int = 0
    throttled: int = 0
    hung: int = 0
    dropped_after_commit: int = 0
    sessions_lost: int = 0
    peak_concurrency: int = 0  # most calls handled at once so far
    records: int = 0  # data packages saved or rows returned by the calls handled (per-record cost)


class FaultInjector:
    """Draws faults per call and enforces the concurrency limit; safe across threads and tasks."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or FaultSettings()
        self._random = random.Random(self._settings.seed)
        self.counts = FaultCounts()
        self._active = 0
        self._slot_changed: asyncio.Condition | None = None

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        with self._lock:
            new = self._settings.updated(changes)
            if "seed" in changes:
                self._random = random.Random(new.seed)
            self._settings = new
        return new

    def decide(self, service: str) -> Decision:
        """Draw this call's faults. Each rate uses its own draw so changing one keeps the others."""
        with self._lock:
            s = self._settings
            self.counts.calls += 1
            number = self.counts.calls
            draws = [self._random.random() for _ in range(4)]
            is_write = service.rsplit(".", 1)[-1].lower() in WRITE_SERVICES
            lose = s.session_loss_every > 0 and number % s.session_loss_every == 0
            decision = Decision(
                number=number,
                lose_sessions=lose,
                fail=draws[0] < s.fail_rate,
                throttle=draws[1] < s.throttle_rate,
                hang=draws[2] < s.timeout_rate and (not s.hang_writes_only or is_write),
                drop_after_commit=is_write and draws[3] < s.drop_after_commit_rate,
            )
            counts = self.counts
            counts.sessions_lost += lose
            if decision.fail:
                counts.failed += 1
            elif decision.throttle:
                counts.throttled += 1
            else:
                counts.hung += decision.hang
                counts.dropped_after_commit += decision.drop_after_commit
            return decision

    def count_records(self, records: int) -> None:
        """Add the records a handled call was charged for (what a benchmark's floor is made of)."""
        with self._lock:
            self.counts.records += records

    # --- concurrency limit ------------------------------------------------------------------------

    def _condition(self) -> asyncio.Condition:
        if self._slot_changed is None:
            self._slot_changed = asyncio.Condition()
        return self._slot_changed

    async def acquire(self) -> None:
        """Wait for a free slot (the WebAPI queues excess calls rather than refusing them)."""
        condition = self._condition()
        async with condition:
            while self._settings.max_concurrency and self._active >= self._settings.max_concurrency:
                await condition.wait()
            self._active += 1
            self.counts.peak_concurrency = max(self.counts.peak_concurrency, self._active)

    async def release(self) -> None:
        condition = self._condition()
        async with condition:
            self._active -= 1
            condition.notify_all()

    async def limit_changed(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    @property
    def active(self) -> int:
        return self._active

"""Network control (网控): which bills are locked by someone else right now.

On a real K/3 Cloud a bill opened for editing in the web client, or being processed by another
operation, is locked; a WebAPI operation on it fails with MsgCode 13. Locks here live in memory
(a restart releases them, as an app-pool recycle does) and expire on the sandbox clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from yecai.sandbox.kingdee.store import RecordId


@dataclass(frozen=True, slots=True)
class Lock:
    holder: str  # who holds it, as the conflict message names them
    operation: str  # what they are doing (修改, 审核, …)
    until: datetime


class NetworkControl:
    """Locks by (form id, internal id); thread-safe."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._locks: dict[tuple[str, RecordId], Lock] = {}
        self._mutex = threading.Lock()

    def acquire(self, form_id: str, record_id: RecordId, lock: Lock) -> None:
        with self._mutex:
            self._locks[(form_id.upper(), record_id)] = lock

    def release(self, form_id: str, record_id: RecordId) -> bool:
        with self._mutex:
            return self._locks.pop((form_id.upper(), record_id), None) is not None

    def held(self, form_id: str, record_id: RecordId) -> Lock | None:
        """The live lock on a record, if any (expired ones are dropped on the way)."""
        key = (form_id.upper(), record_id)
        with self._mutex:
            lock = self._locks.get(key)
            if lock is not None and lock.until <= self._clock():
                del self._locks[key]
                return None
            return lock

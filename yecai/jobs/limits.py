"""Concurrency limit per Kingdee data centre: at most `max_concurrency` calls at once, everywhere.

`run_sync(limiter=…)` holds a slot around every HTTP call to the job's data centre. Distributed,
slots live in Redis (a fair semaphore shared by every thread of every worker on every host; a
killed holder's slot expires); embedded, one process runs every job and an in-process fair
semaphore is exact. The limiter also checks the lease fence, so a superseded worker stops calling.
"""

from __future__ import annotations

import collections
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import redis

from yecai.errors import Action, Context, Fault, YecaiError

Limiter = Callable[[], AbstractContextManager[object]]

# A fair (first come, first served) semaphore. KEYS: holders (token → since), queue (token → ticket),
# seen (token → last poll), ticket counter. A waiter takes a slot when its place in the queue is
# within the free slots, so a caller that releases and at once asks again queues behind those
# already waiting. Redis's own clock decides expiry (hosts with skewed clocks still agree): a
# holder older than ARGV[3] ms (a killed process) and a waiter silent for ARGV[4] ms are dropped.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holders, queue, seen, ticket = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local limit, token, hold, stale = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', holders, '-inf', now - hold)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', now - stale)) do
  redis.call('ZREM', queue, gone)
  redis.call('ZREM', seen, gone)
end
if not redis.call('ZSCORE', queue, token) then
  redis.call('ZADD', queue, redis.call('INCR', ticket), token)
end
redis.call('ZADD', seen, now, token)
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, hold * 2) end
if redis.call('ZRANK', queue, token) < limit - redis.call('ZCARD', holders) then
  redis.call('ZREM', queue, token)
  redis.call('ZREM', seen, token)
  redis.call('ZADD', holders, now, token)
  return 1
end
return 0
"""


class LimitTimeout(YecaiError):
    """No slot came free in time: the data centre is saturated; the job is retried later."""

    def __init__(self, connection: str, limit: int, waited: float) -> None:
        super().__init__(
            f"等待金蝶数据中心 {connection} 的并发名额超时（上限 {limit}，已等 {waited:.0f} 秒），稍后重试",
            f"timed out waiting for a call slot on Kingdee data centre {connection} "
            f"(limit {limit}, waited {waited:.0f} s); will retry",
            Action.RETRY,
            Fault.TRANSIENT,
            Context(connection=connection),
        )


class Slots(Protocol):
    def acquire(self, limit: int, timeout: float, owner: str | None = None) -> str | None: ...

    def release(self, token: str) -> None: ...


class ThreadSlots:
    """In-process slots, first come first served: exact when every job runs in this process
    (embedded mode). A plain semaphore lets a thread that releases and asks again barge ahead of
    the waiters, so one busy job could starve the others; here a freed slot goes to the oldest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._free = limit
        self._waiting: collections.deque[threading.Event] = collections.deque()

    def acquire(self, limit: int, timeout: float, owner: str | None = None) -> str | None:
        # `owner` is for slots shared across processes; in one process they all go with it.
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return "slot"
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return "slot"
        with self._lock:
            if turn.is_set():  # handed over just as the wait ended
                return "slot"
            self._waiting.remove(turn)
            return None

    def release(self, token: str) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the slot passes straight to the oldest waiter
            else:
                self._free += 1


class RedisSlots:
    """Slots shared by every process that talks to the same Redis, first come first served."""

    def __init__(
        self, client: redis.Redis, key: str, hold_seconds: float, stale_seconds: float = 10.0
    ) -> None:
        self._client = client
        self._keys = [f"{key}:holders", f"{key}:queue", f"{key}:seen", f"{key}:ticket"]
        self._hold_ms = max(1000, int(hold_seconds * 1000))
        self._stale_ms = max(1000, int(stale_seconds * 1000))
        self._script: Any = client.register_script(_ACQUIRE)

    def acquire(self, limit: int, timeout: float, owner: str | None = None) -> str | None:
        # A slot names its owner (the job's lease holder), so a takeover can free a dead
        # worker's slots at once instead of waiting for them to expire.
        token = f"{owner}|{uuid.uuid4().hex}" if owner else uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            if self._script(keys=self._keys, args=[limit, token, self._hold_ms, self._stale_ms]) == 1:
                return token
            if time.monotonic() >= deadline:
                self._client.zrem(self._keys[1], token)
                self._client.zrem(self._keys[2], token)
                return None
            # jittered polling, short enough that a freed slot does not idle long
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 1.5, 0.02)

    def release(self, token: str) -> None:
        self._client.zrem(self._keys[0], token)

    def holders(self) -> int:
        return int(self._client.zcard(self._keys[0]))

    def release_owner(self, owner: str) -> int:
        """Free every slot `owner` holds (a worker known dead); how many were freed."""
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in owner) + "|*"
        tokens = [token for token, _score in self._client.zscan_iter(self._keys[0], match=pattern)]
        return int(self._client.zrem(self._keys[0], *tokens)) if tokens else 0

    def keys(self) -> list[str]:
        return list(self._keys)


class Limits:
    """The limiters of one process: Redis-backed when a Redis URL is given, in-process otherwise."""

    def __init__(
        self, redis_url: str | None = None, *, prefix: str = "yecai", wait_seconds: float = 600.0
    ) -> None:
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        self._prefix = prefix
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self._local: dict[tuple[str, int], ThreadSlots] = {}

    @property
    def distributed(self) -> bool:
        return self._redis is not None

    def slots(self, connection: str, limit: int, *, hold_seconds: float = 300.0) -> Slots:
        if self._redis is not None:
            return RedisSlots(self._redis, f"{self._prefix}:limit:{connection}", hold_seconds)
        # Keyed by the limit too: an edited workspace takes effect for new calls at once.
        with self._lock:
            found = self._local.get((connection, limit))
            if found is None:
                found = self._local[(connection, limit)] = ThreadSlots(limit)
            return found

    def limiter(
        self,
        connection: str,
        limit: int,
        *,
        hold_seconds: float = 300.0,
        fence: Callable[[], None] | None = None,
        owner: str | None = None,
    ) -> Limiter:
        """A zero-argument callable giving a context manager that holds one slot (for run_sync).

        `owner` (the job's lease holder) marks the slots taken, for `release_owner`: a job sends
        with up to `limit` calls in flight, so a killed worker may hold every slot of the data
        centre until they expire — its takeover frees them at once instead.
        """
        slots = self.slots(connection, limit, hold_seconds=hold_seconds)
        wait = self._wait

        @contextmanager
        def held() -> Iterator[None]:
            if fence:
                fence()
            started = time.monotonic()
            token = slots.acquire(limit, wait, owner)
            if token is None:
                raise LimitTimeout(connection, limit, time.monotonic() - started)
            try:
                if fence:
                    fence()  # the wait may have been long: still ours?
                yield
            finally:
                slots.release(token)

        return held

    def release_owner(self, connection: str, owner: str, *, hold_seconds: float = 300.0) -> int:
        """Free the slots a dead worker (`owner`, its lease holder) holds on `connection`."""
        if self._redis is None:
            return 0  # in-process slots went with the process
        slots = RedisSlots(self._redis, f"{self._prefix}:limit:{connection}", hold_seconds)
        return slots.release_owner(owner)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()

"""The gate in front of sign-in: rate limits per client address and per name, and few hashes at once.

Rate limits use the `limits` library (moving window) on its in-memory storage when yecai runs
embedded, or on Redis when it is scaled out, so every instance counts the same attempts. The
argon2 verification is CPU-heavy (0.1–0.3 s); a small semaphore lets only a few run at a time, so
a flood of sign-ins queues briefly or is refused with 429 instead of starving the event loop,
the thread pool and the database pool. Known and unknown names are counted exactly alike.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from yecai.errors import ConfigurationError


class SignInBusy(Exception):
    """Every verification slot stayed taken for the whole wait: answer 429, try again shortly."""


def rate(text: str) -> RateLimitItem:
    """A rate such as "20/minute" or "100 per hour", or a clear error."""
    try:
        return parse(text)
    except ValueError:
        raise ConfigurationError(
            f"登录限速 {text!r} 无效，应形如 20/minute",
            f"invalid sign-in rate {text!r}; write it like 20/minute",
        ) from None


class SignInGuard:
    """Per-address and per-name rate limits plus a bounded number of concurrent verifications."""

    def __init__(
        self,
        *,
        per_address: str,
        per_account: str,
        storage_url: str = "memory://",
        concurrent: int = 2,
        wait_seconds: float = 5.0,
    ) -> None:
        self.per_address = rate(per_address)
        self.per_account = rate(per_account)
        self.storage: Storage = storage_from_string(storage_url)
        # memory storage answers in microseconds; Redis is a network call best kept off the event loop
        self.local = storage_url.startswith("memory")
        self.limiter = MovingWindowRateLimiter(self.storage)
        # a thread semaphore, polled from async code: it works whatever event loop the caller runs
        # on (tests start several), and a waiting sign-in holds no thread while it waits
        self._slots = threading.BoundedSemaphore(concurrent)
        self.wait_seconds = wait_seconds

    def admit(self, address: str, username: str) -> int | None:
        """Count one attempt; None if it may go on, else the seconds to wait (Retry-After)."""
        checks = (
            (self.per_address, ("signin-address", address)),
            (self.per_account, ("signin-account", username[:64])),
        )
        for item, keys in checks:
            if not self.limiter.hit(item, *keys):
                reset = self.limiter.get_window_stats(item, *keys).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None

    @asynccontextmanager
    async def verifying(self) -> AsyncIterator[None]:
        """Hold one verification slot; raises SignInBusy when none frees up within the wait."""
        deadline = time.monotonic() + self.wait_seconds
        while not self._slots.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise SignInBusy
            await anyio.sleep(0.02)
        try:
            yield
        finally:
            self._slots.release()

    def reset(self) -> None:
        """Forget every count (tests, and an operator's clean start)."""
        self.storage.reset()

"""The simulated clock of a sandbox.pm server: what "now" is, and how it moves.

It starts where it is told (default: the end of the timeline, everything has happened), only
moves forward — by the admin endpoint or, given a speed, by a background ticker — and reports
each interval it covers to its listeners: that is how changes become webhook events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from yecai.sandbox.pm.errors import ApiError, bilingual

Listener = Callable[[datetime, datetime], object]


class SimClock:
    """A forward-only simulated clock; thread-safe."""

    def __init__(self, start: datetime, speed: float = 0.0, tick_seconds: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware datetime")
        if speed < 0:
            raise ValueError(f"clock speed must not be negative, got {speed}")
        self._now = start
        self.speed = speed
        self.tick_seconds = tick_seconds
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def now(self) -> datetime:
        return self._now

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set(self, moment: datetime) -> tuple[datetime, list[object]]:
        """Move to `moment` (not earlier than now); returns the old now and what listeners said."""
        if moment.tzinfo is None:
            raise ValueError("the simulated clock needs an aware datetime")
        with self._lock:
            previous = self._now
            if moment < previous:
                raise ApiError(
                    40901,
                    bilingual(
                        f"模拟时钟只能前进：当前 {previous.isoformat()}，请求 {moment.isoformat()}",
                        f"the simulated clock only moves forward: now {previous.isoformat()}, asked {moment.isoformat()}",
                    ),
                )
            self._now = moment
            answers = (
                [listener(previous, moment) for listener in self._listeners] if moment > previous else []
            )
        return previous, answers

    def advance(self, delta: timedelta) -> tuple[datetime, list[object]]:
        return self.set(self._now + delta)

    def start(self) -> None:
        """Run the ticker when the clock has a speed; a no-op otherwise."""
        if self.speed <= 0 or self._ticker is not None:
            return
        step = timedelta(seconds=self.speed * self.tick_seconds)

        def tick() -> None:
            while not self._stop.wait(self.tick_seconds):
                self.advance(step)

        self._ticker = threading.Thread(target=tick, name="pm-clock", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(5)
            self._ticker = None

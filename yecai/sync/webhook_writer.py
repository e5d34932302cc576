"""One webhook writer per process: events from concurrent requests committed together.

A commit is the expensive part of storing an event (a synced WAL write on SQLite, a round trip
and a flush on PostgreSQL), so requests hand their checked deliveries to this writer, which
closes a batch 5 ms after its first event or at 200 events, whichever comes first, and stores it
in one transaction on a thread of its own (`store_deliveries`). Every request is answered only
after the commit of its batch: the 2xx still means "durably stored" (invariant 1). While one
batch commits the next one fills, so under load batches grow without anyone waiting longer.
`max_events=1` stores each event in a transaction of its own (the unbatched way, for comparison).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from yecai.sources.webhooks import WebhookReceipt
from yecai.store.db import Store
from yecai.sync.webhooks import Delivery, store_deliveries

MAX_EVENTS = 200
MAX_WAIT_SECONDS = 0.005


@dataclass(slots=True)
class _Waiting:
    delivery: Delivery
    answer: asyncio.Future[WebhookReceipt]
    at: float  # when it arrived (the loop's clock)


@dataclass(slots=True)
class _LoopState:
    """What the writer keeps per event loop (a test may serve the same app from several)."""

    loop: asyncio.AbstractEventLoop
    pending: list[_Waiting] = field(default_factory=list)
    full: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    committing: list[_Waiting] = field(default_factory=list)


class WebhookWriter:
    """Batches deliveries into transactions; `await writer.store(delivery)` answers after commit."""

    def __init__(
        self, store: Store, *, max_events: int = MAX_EVENTS, max_wait_seconds: float = MAX_WAIT_SECONDS
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self._store = store
        self.max_events = max_events
        self.max_wait = max(0.0, max_wait_seconds)
        self._executor: ThreadPoolExecutor | None = None
        self._states: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._lock = threading.Lock()
        self.batches = 0  # committed batches (how well batching works shows in events / batches)
        self.events = 0

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            with self._lock:
                for old in [each for each in self._states if each.is_closed()]:
                    del self._states[old]
                state = self._states[loop] = _LoopState(loop)
        return state

    async def store(self, delivery: Delivery) -> WebhookReceipt:
        """The delivery's receipt once its batch is committed; the batch's error for this delivery
        (raised here) when it could not be stored."""
        state = self._state()
        answer: asyncio.Future[WebhookReceipt] = state.loop.create_future()
        state.pending.append(_Waiting(delivery, answer, state.loop.time()))
        if len(state.pending) >= self.max_events:
            state.full.set()
        if state.task is None or state.task.done():
            # the writer runs while there is work and ends when there is none: no task is left
            # behind in a loop that closes (a test client's, a server's at shutdown)
            state.task = state.loop.create_task(self._run(state), name="webhook-writer")
        return await answer

    async def _run(self, state: _LoopState) -> None:
        loop = state.loop
        while state.pending:
            # wait for more until the first event has waited max_wait, unless the batch is full
            while len(state.pending) < self.max_events:
                remaining = state.pending[0].at + self.max_wait - loop.time()
                if remaining <= 0:
                    break
                state.full.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await state.full.wait()
                except TimeoutError:
                    break
            batch = state.pending[: self.max_events]
            del state.pending[: self.max_events]
            state.full.clear()
            state.committing = batch
            try:
                answers = await loop.run_in_executor(
                    self._writer(), store_deliveries, self._store, [w.delivery for w in batch]
                )
            except Exception as exc:
                answers = [exc] * len(batch)
            except asyncio.CancelledError:
                for waiting in [*batch, *state.pending]:
                    waiting.answer.cancel()
                raise
            finally:
                state.committing = []
            self.batches += 1
            self.events += len(batch)
            for waiting, answer in zip(batch, answers, strict=True):
                if waiting.answer.done():  # the request went away; its event is stored anyway
                    continue
                if isinstance(answer, Exception):
                    waiting.answer.set_exception(answer)
                else:
                    waiting.answer.set_result(answer)

    async def drain(self) -> None:
        """Wait until what is pending in this loop is committed and answered (at shutdown)."""
        state = self._states.get(asyncio.get_running_loop())
        if state is not None:
            waiting = [w.answer for w in (*state.committing, *state.pending)]
            await asyncio.gather(*waiting, return_exceptions=True)

    def _writer(self) -> ThreadPoolExecutor:
        # one thread: one writer per process, so batches never contend with each other
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-writer")
            return self._executor

    def close(self) -> None:
        """Stop the writer's thread (a later event starts a new one)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

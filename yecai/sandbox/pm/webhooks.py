"""Outgoing webhooks of sandbox.pm: signed, retried with backoff, at least once, logged.

Each change the clock passes becomes {event_id, event_type, occurred_at, entity, data}, POSTed to
matching subscribers with X-PM-Timestamp and X-PM-Signature: sha256=<hex HMAC-SHA256(secret,
timestamp + "." + raw body)>. Failures are retried; a configurable share is sent twice on purpose.
"""

from __future__ import annotations

import fnmatch
import hashlib
import heapq
import hmac
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from yecai.jsonutil import dumps
from yecai.sandbox.pm.models import CHINA_TZ
from yecai.sandbox.pm.timeline import Tombstone, Version

USER_AGENT = "yecai-sandbox-pm-webhooks/1"
_LOG_LIMIT = 200_000


def event_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-PM-Signature header value: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(slots=True)
class Event:
    """One change: a record version that took effect when the clock passed its time."""

    entity: str
    kind: str  # created | updated | deleted
    version: Version
    _body: bytes | None = None

    @property
    def event_type(self) -> str:
        return f"{self.entity}.{self.kind}"

    @property
    def occurred_at(self) -> datetime:
        return self.version.at

    @property
    def event_id(self) -> str:
        record = self.version.record
        text = f"{self.entity}|{record.key}|{self.occurred_at.isoformat()}|{self.kind}"
        return "evt_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def body(self) -> bytes:
        if self._body is None:
            record = self.version.record
            data = record.as_item() if isinstance(record, Tombstone) else record
            payload = {
                "event_id": self.event_id,
                "event_type": self.event_type,
                "occurred_at": self.occurred_at,
                "entity": self.entity,
                "data": data,
            }
            self._body = dumps(payload).encode("utf-8")
        return self._body


@dataclass(slots=True)
class Subscription:
    id: str
    url: str
    secret: str
    event_types: tuple[str, ...] = ("*",)  # fnmatch patterns: "cost_record.*", "invoice.created"

    def wants(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.event_types)

    def public(self) -> dict[str, Any]:
        """What the admin endpoint shows: the secret only by its last characters."""
        return {
            "id": self.id,
            "url": self.url,
            "secret_hint": "…" + self.secret[-4:] if len(self.secret) > 4 else "…",
            "event_types": list(self.event_types),
        }


@dataclass(order=True, slots=True)
class _Job:
    due: float
    order: int
    subscription: Subscription = field(compare=False)
    event: Event = field(compare=False)
    attempt: int = field(compare=False, default=1)
    duplicate: bool = field(compare=False, default=False)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    duplicate_rate: float = 0.0  # share of delivered events sent a second time
    max_attempts: int = 6
    backoff_seconds: float = 0.5  # first retry after this, doubling each time …
    backoff_cap_seconds: float = 60.0  # … up to this
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.duplicate_rate <= 1:
            raise ValueError(f"duplicate_rate must be between 0 and 1, got {self.duplicate_rate}")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class WebhookDispatcher:
    """Delivers events to subscribers from one background thread, in due-time order."""

    def __init__(self, seed: int = 0, settings: WebhookSettings | None = None) -> None:
        self.settings = settings or WebhookSettings()
        self._seed = seed
        self._subscriptions: dict[str, Subscription] = {}
        self._queue: list[_Job] = []
        self._order = itertools.count()
        self._deliveries = itertools.count(1)
        self._log: deque[dict[str, Any]] = deque(maxlen=_LOG_LIMIT)
        self._cond = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=self.settings.timeout_seconds, headers={"User-Agent": USER_AGENT})

    # subscriptions ----------------------------------------------------------------------------

    def subscribe(
        self, url: str, secret: str, event_types: Iterable[str] = ("*",), id: str | None = None
    ) -> Subscription:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s), got {url!r}")
        if not secret:
            raise ValueError("webhook secret must not be empty: receivers verify the signature with it")
        with self._cond:
            number = len(self._subscriptions) + 1
            sub_id = id or f"sub_{number:03d}"
            while id is None and sub_id in self._subscriptions:
                number += 1
                sub_id = f"sub_{number:03d}"
            subscription = Subscription(sub_id, url, secret, tuple(event_types) or ("*",))
            self._subscriptions[sub_id] = subscription
        return subscription

    def unsubscribe(self, sub_id: str) -> bool:
        with self._cond:
            return self._subscriptions.pop(sub_id, None) is not None

    def subscriptions(self) -> list[Subscription]:
        with self._cond:
            return list(self._subscriptions.values())

    # events -----------------------------------------------------------------------------------

    def publish(self, events: Iterable[Event]) -> int:
        """Queue every event for every subscriber that wants it; returns the deliveries queued."""
        queued = 0
        with self._cond:
            subscriptions = list(self._subscriptions.values())
            if not subscriptions:
                return 0
            now = time.monotonic()
            for event in events:
                for subscription in subscriptions:
                    if subscription.wants(event.event_type):
                        heapq.heappush(self._queue, _Job(now, next(self._order), subscription, event))
                        queued += 1
            self._cond.notify_all()
        return queued

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._busy

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued or being sent (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def log(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._log)

    # the worker -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pm-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._client.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = None if not self._queue else max(0.0, self._queue[0].due - time.monotonic())
                    self._cond.wait(wait)
                if self._stopping:
                    return
                job = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._deliver(job)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _deliver(self, job: _Job) -> None:
        body = job.event.body()
        delivery_id = f"dlv_{next(self._deliveries):08d}"
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-PM-Event-Id": job.event.event_id,
            "X-PM-Event-Type": job.event.event_type,
            "X-PM-Delivery-Id": delivery_id,
            "X-PM-Attempt": str(job.attempt),
            "X-PM-Timestamp": timestamp,
            "X-PM-Signature": event_signature(job.subscription.secret, timestamp, body),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = self._client.post(job.subscription.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivered = error is None
        retry = not delivered and job.attempt < self.settings.max_attempts
        entry = {
            "delivery_id": delivery_id,
            "subscription_id": job.subscription.id,
            "event_id": job.event.event_id,
            "event_type": job.event.event_type,
            "occurred_at": job.event.occurred_at,
            "attempt": job.attempt,
            "duplicate": job.duplicate,
            "status": "delivered" if delivered else "retrying" if retry else "failed",
            "http_status": status,
            "error": error,
            "sent_at": datetime.fromtimestamp(int(timestamp), CHINA_TZ),
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        with self._cond:
            self._log.append(entry)
            if retry:
                delay = min(
                    self.settings.backoff_cap_seconds, self.settings.backoff_seconds * 2 ** (job.attempt - 1)
                )
                heapq.heappush(
                    self._queue,
                    _Job(
                        time.monotonic() + delay,
                        next(self._order),
                        job.subscription,
                        job.event,
                        job.attempt + 1,
                        job.duplicate,
                    ),
                )
            elif delivered and not job.duplicate and self._send_twice(job):
                # at-least-once, on purpose: the same event again, shortly after
                heapq.heappush(
                    self._queue,
                    _Job(time.monotonic() + 0.01, next(self._order), job.subscription, job.event, 1, True),
                )

    def _send_twice(self, job: _Job) -> bool:
        rate = self.settings.duplicate_rate
        if rate <= 0:
            return False
        # deterministic per (seed, subscription, event): the same run duplicates the same events
        rng = random.Random(
            f"yecai.sandbox.pm/{self._seed}/duplicate/{job.subscription.id}/{job.event.event_id}"
        )
        return rng.random() < rate

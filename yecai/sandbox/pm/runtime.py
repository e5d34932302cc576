"""What one running sandbox.pm server holds: its data set, clock, listings, auth and webhooks.

The app's routes read listings at `clock.now()`; a clock move turns the versions that took effect
in between into events for the webhook dispatcher. `PmRuntime` starts and stops the background
parts (clock ticker, webhook worker) with the HTTP server.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yecai.sandbox.pm.auth import AuthConfig, Authenticator
from yecai.sandbox.pm.clock import SimClock
from yecai.sandbox.pm.models import ENTITIES, Dataset
from yecai.sandbox.pm.paging import Listing
from yecai.sandbox.pm.timeline import Version
from yecai.sandbox.pm.webhooks import Event, WebhookDispatcher, WebhookSettings


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """Everything about a server that is not the data: auth, clock and webhooks."""

    auth: AuthConfig = field(default_factory=AuthConfig)
    now: datetime | None = None  # where the clock starts; None: the end of the timeline
    clock_speed: float = 0.0  # simulated seconds per real second; 0: only the admin endpoint moves it
    clock_tick_seconds: float = 1.0
    webhooks: tuple[tuple[str, str], ...] = ()  # (url, secret) subscribed from the start
    webhook: WebhookSettings = field(default_factory=WebhookSettings)


class PmRuntime:
    """The live state behind one app."""

    def __init__(self, dataset: Dataset, options: ServerOptions | None = None) -> None:
        self.dataset = dataset
        self.options = options or ServerOptions()
        self.auth = Authenticator(self.options.auth)
        self.listings: dict[str, Listing] = {e: Listing(dataset.histories.get(e, ())) for e in ENTITIES}
        self._by_project: dict[tuple[str, str], Listing] = {}
        self._by_key: dict[str, dict[str, list[Version]]] = {}
        self._first_versions: dict[str, set[int]] = {}
        for entity, listing in self.listings.items():
            seen: set[str] = set()
            firsts: set[int] = set()
            for version in listing.versions:
                if version.record.key not in seen:
                    seen.add(version.record.key)
                    firsts.add(id(version))
            self._first_versions[entity] = firsts
        self.clock = SimClock(
            self.options.now or dataset.timeline_end,
            self.options.clock_speed,
            self.options.clock_tick_seconds,
        )
        self.webhooks = WebhookDispatcher(dataset.seed, self.options.webhook)
        for url, secret in self.options.webhooks:
            self.webhooks.subscribe(url, secret)
        self.clock.listen(self._on_clock)

    def now(self) -> datetime:
        return self.clock.now()

    def listing(self, entity: str, project_code: str | None = None) -> Listing:
        """The listing of a stream, or of one project's part of it (built on first use)."""
        if project_code is None:
            return self.listings[entity]
        key = (entity, project_code)
        listing = self._by_project.get(key)
        if listing is None:
            versions = [
                v
                for v in self.listings[entity].versions
                if getattr(v.record, "project_code", None) == project_code
            ]
            listing = self._by_project[key] = Listing(versions)
        return listing

    def record(self, entity: str, key: str) -> Any:
        """The live version of one record at the clock's now, or None (not yet created, or deleted)."""
        index = self._by_key.get(entity)
        if index is None:
            index = {}
            for version in self.listings[entity].versions:
                index.setdefault(version.record.key, []).append(version)
            self._by_key[entity] = index
        now = self.now()
        for version in index.get(key, ()):
            if version.current_at(now):
                return None if version.deleted else version.record
        return None

    def events_between(self, after: datetime, until: datetime) -> list[Event]:
        """Every change that took effect in (after, until], in time order."""
        events: list[Event] = []
        for entity, listing in self.listings.items():
            firsts = self._first_versions[entity]
            for version in listing.changed_between(after, until):
                kind = "deleted" if version.deleted else "created" if id(version) in firsts else "updated"
                events.append(Event(entity, kind, version))
        order = {entity: index for index, entity in enumerate(ENTITIES)}
        events.sort(key=lambda e: (e.occurred_at, order[e.entity], e.version.record.key))
        return events

    def _on_clock(self, previous: datetime, now: datetime) -> dict[str, int]:
        events = self.events_between(previous, now)
        self.webhooks.publish(events)
        counts = Counter(event.kind for event in events)
        return {
            "created": counts["created"],
            "updated": counts["updated"],
            "deleted": counts["deleted"],
            "total": len(events),
        }

    def start(self) -> None:
        self.webhooks.start()
        self.clock.start()

    def stop(self) -> None:
        self.clock.stop()
        self.webhooks.stop()

"""Record histories: every record of sandbox.pm is a sequence of versions on a timeline.

A record appears when created, may be edited later (a new version, `updated_at` moves on) and
may be deleted (a `Tombstone` version). `History` collects one entity's versions as the generator
runs; a server shows, at its simulated "now", the version of each key current then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Tombstone:
    """The version that says "deleted": what incremental clients see instead of the record."""

    entity: str
    key_field: str
    id: str
    project_code: str | None
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.id

    def as_item(self) -> dict[str, Any]:
        """The JSON row: the record's own key field, `id`, `deleted: true` and the deletion time."""
        return {
            self.key_field: self.id,
            "id": self.id,
            "project_code": self.project_code,
            "deleted": True,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True)
class Version:
    """One state of one record, current from `record.updated_at` until `until` (None: still current)."""

    record: Any
    until: datetime | None = None

    @property
    def at(self) -> datetime:
        return self.record.updated_at  # type: ignore[no-any-return]

    @property
    def deleted(self) -> bool:
        return isinstance(self.record, Tombstone)

    def current_at(self, now: datetime) -> bool:
        return self.record.updated_at <= now and (self.until is None or now < self.until)


class History:
    """The versions of one entity, built in any order, handed out in (updated_at, key) order."""

    def __init__(self, entity: str, key_field: str) -> None:
        self.entity = entity
        self.key_field = key_field
        self._versions: list[Version] = []
        self._latest: dict[str, Version] = {}

    def create(self, record: Any) -> Any:
        if record.key in self._latest:
            raise ValueError(f"{self.entity} {record.key} created twice")
        version = Version(record)
        self._versions.append(version)
        self._latest[record.key] = version
        return record

    def latest(self, key: str) -> Any:
        """The newest version of `key` (a record, or a Tombstone once deleted)."""
        return self._latest[key].record

    def update(self, key: str, at: datetime, **changes: Any) -> Any:
        """A new version of `key` at `at` with `changes`; `at` must be after the current version."""
        current = self._latest[key]
        if current.deleted:
            raise ValueError(f"{self.entity} {key} edited after its deletion")
        if at <= current.at:
            raise ValueError(f"{self.entity} {key}: edit at {at} is not after {current.at}")
        record = replace(current.record, updated_at=at, **changes)
        current.until = at
        version = Version(record)
        self._versions.append(version)
        self._latest[key] = version
        return record

    def delete(self, key: str, at: datetime) -> Tombstone:
        current = self._latest[key]
        if current.deleted or at <= current.at:
            raise ValueError(f"{self.entity} {key}: cannot delete at {at}")
        tombstone = Tombstone(
            self.entity, self.key_field, key, getattr(current.record, "project_code", None), at
        )
        current.until = at
        version = Version(tombstone)
        self._versions.append(version)
        self._latest[key] = version
        return tombstone

    def drop_after(self, end: datetime) -> None:
        """Forget versions after `end` (events that have not happened yet in this data set)."""
        kept = [v for v in self._versions if v.at <= end]
        if len(kept) == len(self._versions):
            return
        for version in kept:
            if version.until is not None and version.until > end:
                version.until = None
        self._versions = kept
        self._latest = {}
        for version in sorted(kept, key=lambda v: v.at):
            self._latest[version.record.key] = version

    def versions(self) -> tuple[Version, ...]:
        return tuple(sorted(self._versions, key=lambda v: (v.at, v.record.key)))


def current(versions: Iterable[Version], now: datetime | None = None) -> list[Any]:
    """The live records (no tombstones) current at `now` (None: the newest of each), in key order."""
    rows = [
        v.record
        for v in versions
        if not v.deleted and (v.until is None if now is None else v.current_at(now))
    ]
    rows.sort(key=lambda record: record.key)
    return rows

"""Archive old raw records and read archives back: what `yecai archive` and the trace call.

Thin over `yecai.ops.archive`. It adds what only the workspace knows: which streams other streams
are partitioned by (their latest records stay in the database, since a pull reads partition
values from them), and where archive files live (`YECAI_ARCHIVE_DIR`, default `archive/` in the
work directory), so that a record's pointer (file name, line) can be opened for an audit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yecai import jsonutil
from yecai.errors import YecaiError
from yecai.ops import archive as ops
from yecai.ops.archive import ArchiveError, ArchiveResult, VerifyResult, parse_age
from yecai.secrets import SecretBox
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.workspace import SourceConnection, Workspace

log = logging.getLogger("yecai.archive")

__all__ = [
    "ArchiveError",
    "ArchiveResult",
    "VerifyResult",
    "archive",
    "parse_age",
    "partition_parents",
    "read",
    "read_pointer",
    "verify",
]


def partition_parents(
    space: Workspace | None, secrets: SecretBox | None
) -> dict[str, Collection[str] | None]:
    """Source connection → the streams other streams are partitioned by; None where the connector
    could not be opened (then every latest revision of that connection is kept, to be safe)."""
    found: dict[str, Collection[str] | None] = {}
    if space is None:
        return found
    for name, connection in space.connections.items():
        if not isinstance(connection, SourceConnection):
            continue
        try:
            connector = space.source(name, secrets)
            found[name] = {b.partition.parent for b in connector.streams.values() if b.partition is not None}
        except (YecaiError, OSError, ValueError) as exc:
            log.warning(
                "无法打开连接 %s 的连接器，保留其每个键的最新记录 / cannot open connector of %s, "
                "keeping the latest record of each of its keys: %s",
                name,
                name,
                exc,
            )
            found[name] = None
    return found


def archive(
    store: Store,
    settings: Settings,
    *,
    older_than: dt.timedelta,
    space: Workspace | None = None,
    secrets: SecretBox | None = None,
    connection: str | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> ArchiveResult:
    """Archive the payloads of raw records received more than `older_than` ago (yecai.ops.archive)."""
    return ops.archive_records(
        store,
        settings.archive_directory(),
        older_than=older_than,
        keep_latest=partition_parents(space, secrets),
        connection=connection,
        dry_run=dry_run,
        now=now,
    )


def verify(path: Path) -> VerifyResult:
    return ops.verify_archive(path)


def read(
    path: Path, *, key: str | None = None, record_id: int | None = None, line: int | None = None
) -> Iterator[dict[str, Any]]:
    return ops.read_archive(path, key=key, record_id=record_id, line=line)


@dataclass(frozen=True, slots=True)
class ArchivedPayload:
    """Where an archived record's payload is, and the payload itself when the file was readable."""

    file: str
    line: int
    archived_at: dt.datetime | None
    path: Path
    payload: dict[str, Any] | None  # None: the file is not at `path` (moved off the host?)


def read_pointer(
    settings: Settings, file: str, line: int, archived_at: dt.datetime | None = None
) -> ArchivedPayload:
    """The payload at `file`:`line` in the archive directory, if the file is there and holds it."""
    path = settings.archive_directory() / file
    payload = None
    if path.is_file():
        for entry in ops.read_archive(path, line=line):
            value = jsonutil.loads(entry["payload"])
            payload = value if isinstance(value, dict) else {"value": value}
    return ArchivedPayload(file, line, archived_at, path, payload)

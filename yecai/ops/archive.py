"""Archive the raw payloads of old staged records to compressed, checksummed files, and read them back.

A record row is never deleted: documents, webhook events, file-import issues and the trace from a
voucher line back to its source refer to it. What goes is its raw `payload`, the bulk of the table:
it is written to `<name>.jsonl.gz` (one JSON object per line: the record's metadata, its payload
text exactly as stored, the payload's sha256 and the ids of the documents built from it), with
`<name>.manifest.json` beside it (the file's sha256, counts per connection/stream, the id range).
Only after the file is written, fsynced, re-read and verified does the row's payload become a stub
(`{}`, or the file row's `origin` sheet and row), with `archive_file` and `archive_line` pointing at
the line that holds it, so the trace still says where the source is.

Never archived: records not yet validated (`staged`), and the latest revision of each key of a
stream other streams are partitioned by (its payload gives the partition values a pull reads).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, exists, not_, or_, select, update
from sqlalchemy.orm import Session, aliased

from yecai import jsonutil
from yecai.errors import YecaiError
from yecai.store.db import Store
from yecai.store.tables import Document, Record

FORMAT = "yecai-archive/1"
SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".manifest.json"
BATCH = 1000
# what the stub left in the database keeps of a payload: where a file row came from (sheet, row),
# so import reports and the trace still locate it without opening the archive
STUB_KEYS = ("origin",)
_DURATION = re.compile(r"^\s*(\d+)\s*([dwy]?)\s*$")
_DAYS = {"": 1, "d": 1, "w": 7, "y": 365}


class ArchiveError(YecaiError):
    """An archive file that does not verify, or an archive that cannot be made."""


def parse_age(text: str) -> dt.timedelta:
    """ "400d", "60w", "2y" or a bare number of days → a duration (years count 365 days)."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) <= 0:
        raise ArchiveError(
            f"无法识别的期限 {text!r}：请写成 400d、60w 或 2y",
            f"unrecognised age {text!r}: write it as 400d, 60w or 2y",
        )
    return dt.timedelta(days=int(found.group(1)) * _DAYS[found.group(2)])


def manifest_of(path: Path) -> Path:
    """`x.jsonl.gz` → `x.manifest.json`, beside it."""
    name = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
    return path.with_name(name + MANIFEST_SUFFIX)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fsync_dir(directory: Path) -> None:
    # a rename is durable only once the directory holding it is
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value).isoformat()


def _stub(payload: str) -> str:
    try:
        value = jsonutil.loads(payload)
    except ValueError:
        return "{}"
    kept = {k: value[k] for k in STUB_KEYS if isinstance(value, dict) and k in value}
    return jsonutil.dumps(kept)


@dataclass(slots=True)
class ArchiveResult:
    """What one `yecai archive` did: the file (None when nothing was old enough), its counts."""

    cutoff: dt.datetime
    file: Path | None = None
    manifest: Path | None = None
    records: int = 0
    by_stream: dict[str, int] = field(default_factory=dict)
    payload_bytes: int = 0  # raw payload text removed from the database
    file_bytes: int = 0
    kept_latest: dict[str, list[str]] = field(default_factory=dict)  # connection → streams protected
    dry_run: bool = False
    # lines of the file whose record another archive run, at the same time, had already archived:
    # they are copies (the database points at the other file), nothing is lost
    already_archived: int = 0


@dataclass(slots=True)
class VerifyResult:
    file: Path
    records: int = 0
    by_stream: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (中文, English)

    @property
    def ok(self) -> bool:
        return not self.problems


def _candidates(
    cutoff: dt.datetime, keep_latest: Mapping[str, Collection[str] | None], connection: str | None
) -> Any:
    """The WHERE clause of what may be archived (see the module docstring)."""
    newer = aliased(Record)
    superseded = exists().where(
        newer.connection == Record.connection,
        newer.stream == Record.stream,
        newer.source_key == Record.source_key,
        newer.revision > Record.revision,
    )
    protected = []
    for name, streams in keep_latest.items():
        if streams is None:  # the connection's streams could not be read: keep every latest revision
            protected.append(Record.connection == name)
        elif streams:
            protected.append(and_(Record.connection == name, Record.stream.in_(sorted(streams))))
    clauses = [
        Record.received_at < cutoff,
        Record.archive_file.is_(None),
        Record.status != "staged",
    ]
    if protected:
        clauses.append(or_(superseded, not_(or_(*protected))))
    if connection is not None:
        clauses.append(Record.connection == connection)
    return and_(*clauses)


def _line(record: Any, line: int, documents: list[int]) -> dict[str, Any]:
    return {
        "line": line,
        "record_id": record.id,
        "connection": record.connection,
        "stream": record.stream,
        "source_key": record.source_key,
        "revision": record.revision,
        "content_hash": record.content_hash,
        "version": record.version,
        "status": record.status,
        "issues": record.issues,
        "cursor_value": record.cursor_value,
        "run_id": record.run_id,
        "received_at": _iso(record.received_at),
        "documents": documents,
        "payload_sha256": _sha256_text(record.payload),
        "payload": record.payload,  # the text exactly as stored: decimals and key order untouched
    }


def _documents_of(session: Session, ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for record_id, document_id in session.execute(
        select(Document.record_id, Document.id).where(Document.record_id.in_(ids)).order_by(Document.id)
    ):
        out.setdefault(record_id, []).append(document_id)
    return out


def archive_records(
    store: Store,
    directory: Path,
    *,
    older_than: dt.timedelta,
    keep_latest: Mapping[str, Collection[str] | None] | None = None,
    connection: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
) -> ArchiveResult:
    """Archive the payloads of records received before now − `older_than` (module docstring).

    `keep_latest`: connection → streams whose latest revision per key stays in the database (the
    partition parents), or None for "all of its streams". Returns what was archived; with
    `dry_run` counts only, nothing written or changed.
    """
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - older_than
    keep = dict(keep_latest or {})
    result = ArchiveResult(
        cutoff=cutoff,
        kept_latest={c: sorted(s) if s is not None else ["*"] for c, s in keep.items()},
        dry_run=dry_run,
    )
    where = _candidates(cutoff, keep, connection)
    if dry_run:
        for record in _selected(store, where, batch):
            key = f"{record.connection}/{record.stream}"
            result.by_stream[key] = result.by_stream.get(key, 0) + 1
            result.records += 1
            result.payload_bytes += len(record.payload.encode("utf-8"))
        return result

    directory.mkdir(parents=True, exist_ok=True)
    name = f"records-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    final = directory / f"{name}{SUFFIX}"
    partial = directory / f"{name}{SUFFIX}.partial"
    written: list[tuple[int, str, str]] = []  # (record id, payload sha256, stub) in line order
    by_stream: Counter[str] = Counter()
    first_id = last_id = None
    try:
        with partial.open("wb") as raw:
            # mtime 0 and no file name inside: the same records give the same bytes
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped:
                text = io.TextIOWrapper(zipped, encoding="utf-8", newline="\n")
                for record, documents in _selected_with_documents(store, where, batch):
                    entry = _line(record, len(written) + 1, documents)
                    text.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
                    written.append((record.id, entry["payload_sha256"], _stub(record.payload)))
                    by_stream[f"{record.connection}/{record.stream}"] += 1
                    result.payload_bytes += len(record.payload.encode("utf-8"))
                    first_id = record.id if first_id is None else first_id
                    last_id = record.id
                text.flush()
                text.detach()
            raw.flush()
            os.fsync(raw.fileno())
        if not written:
            partial.unlink()
            return result
        _check_written(partial, written)
        os.replace(partial, final)
        _fsync_dir(directory)
        manifest = {
            "format": FORMAT,
            "file": final.name,
            "sha256": _sha256_file(final),
            "bytes": final.stat().st_size,
            "records": len(written),
            "by_stream": dict(sorted(by_stream.items())),
            "first_record_id": first_id,
            "last_record_id": last_id,
            "created_at": _iso(now),
            "received_before": _iso(cutoff),
            "older_than_days": older_than.days,
        }
        _write_json(manifest_of(final), manifest)
        # the file is whole, durable and verified: only now does the payload leave the database
        verified = verify_archive(final)
        if not verified.ok:
            raise ArchiveError(
                "归档文件写入后校验失败，数据库未改动：" + "；".join(zh for zh, _ in verified.problems),
                "the archive file failed verification after writing; the database is unchanged: "
                + "; ".join(en for _, en in verified.problems),
            )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    moved = _point_records(store, final.name, written, now, batch)
    result.file, result.manifest = final, manifest_of(final)
    result.records = moved
    result.already_archived = len(written) - moved
    result.by_stream = dict(sorted(by_stream.items()))
    result.file_bytes = final.stat().st_size
    return result


def _selected(store: Store, where: Any, batch: int) -> Iterator[Any]:
    for rows, _documents in _pages(store, where, batch, with_documents=False):
        yield from rows


def _selected_with_documents(store: Store, where: Any, batch: int) -> Iterator[tuple[Any, list[int]]]:
    for rows, documents in _pages(store, where, batch, with_documents=True):
        for row in rows:
            yield row, documents.get(row.id, [])


def _pages(store: Store, where: Any, batch: int, *, with_documents: bool) -> Iterator[tuple[list[Any], dict]]:
    last = 0
    columns = [c for c in Record.__table__.columns]
    while True:
        with store.transaction() as session:
            rows = list(
                session.execute(
                    select(*columns).where(where, Record.id > last).order_by(Record.id).limit(batch)
                )
            )
            if not rows:
                return
            documents = _documents_of(session, [r.id for r in rows]) if with_documents else {}
        last = rows[-1].id
        yield rows, documents


def _check_written(path: Path, written: list[tuple[int, str, str]]) -> None:
    """Re-read the fsynced file: every line there, in order, with the payload it was meant to hold."""
    count = 0
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for count, text in enumerate(handle, start=1):
            entry = json.loads(text)
            record_id, digest, _stub_text = written[count - 1]
            if entry["record_id"] != record_id or _sha256_text(entry["payload"]) != digest:
                raise ArchiveError(
                    f"归档文件第 {count} 行与数据库不一致（记录 {record_id}），数据库未改动",
                    f"line {count} of the archive file differs from the database (record {record_id}); "
                    "the database is unchanged",
                )
    if count != len(written):
        raise ArchiveError(
            f"归档文件有 {count} 行，应为 {len(written)} 行，数据库未改动",
            f"the archive file has {count} lines instead of {len(written)}; the database is unchanged",
        )


def _write_json(path: Path, value: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    _fsync_dir(path.parent)


def _point_records(
    store: Store, file_name: str, written: list[tuple[int, str, str]], now: dt.datetime, batch: int
) -> int:
    """Replace each archived payload by its stub and the pointer to its line; returns rows changed."""
    statement = (
        update(Record)
        .where(Record.id == bindparam("record_id"), Record.archive_file.is_(None))
        .values(
            payload=bindparam("stub"),
            archive_file=file_name,
            archive_line=bindparam("line"),
            archived_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    moved = 0
    for start in range(0, len(written), batch):
        params = [
            {"record_id": record_id, "stub": stub, "line": start + n + 1}
            for n, (record_id, _digest, stub) in enumerate(written[start : start + batch])
        ]
        with store.transaction() as session:
            moved += session.connection().execute(statement, params).rowcount
    return moved


def verify_archive(path: Path) -> VerifyResult:
    """Check an archive file against its manifest: sha256, line count, each payload's sha256, counts."""
    result = VerifyResult(path)
    manifest_path = manifest_of(path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        result.problems.append(
            (
                f"清单 {manifest_path.name} 无法读取：{exc}",
                f"cannot read the manifest {manifest_path.name}: {exc}",
            )
        )
        return result
    if manifest.get("format") != FORMAT:
        result.problems.append(
            (f"未知格式 {manifest.get('format')!r}", f"unknown format {manifest.get('format')!r}")
        )
    digest = _sha256_file(path)
    if digest != manifest.get("sha256"):
        result.problems.append(
            (
                f"文件 sha256 不符：{digest}，清单记载 {manifest.get('sha256')}",
                f"file sha256 {digest} differs from the manifest's {manifest.get('sha256')}",
            )
        )
    seen: set[int] = set()
    counts: Counter[str] = Counter()
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                entry = json.loads(text)
                if entry.get("line") != number:
                    result.problems.append(
                        (
                            f"第 {number} 行的行号为 {entry.get('line')}",
                            f"line {number} says it is line {entry.get('line')}",
                        )
                    )
                if _sha256_text(entry["payload"]) != entry["payload_sha256"]:
                    result.problems.append(
                        (
                            f"第 {number} 行（记录 {entry['record_id']}）内容校验失败",
                            f"line {number} (record {entry['record_id']}): payload checksum mismatch",
                        )
                    )
                if entry["record_id"] in seen:
                    result.problems.append(
                        (f"记录 {entry['record_id']} 重复", f"record {entry['record_id']} appears twice")
                    )
                seen.add(entry["record_id"])
                counts[f"{entry['connection']}/{entry['stream']}"] += 1
                result.records = number
    except (OSError, EOFError, ValueError, KeyError, zlib.error) as exc:
        result.problems.append((f"文件无法完整读取：{exc}", f"the file cannot be read whole: {exc}"))
    result.by_stream = dict(sorted(counts.items()))
    if result.records != manifest.get("records"):
        result.problems.append(
            (
                f"记录数 {result.records}，清单记载 {manifest.get('records')}",
                f"{result.records} records, the manifest says {manifest.get('records')}",
            )
        )
    if result.by_stream != manifest.get("by_stream"):
        result.problems.append(
            ("各数据流的记录数与清单不符", "the counts per stream differ from the manifest")
        )
    return result


def read_archive(
    path: Path, *, key: str | None = None, record_id: int | None = None, line: int | None = None
) -> Iterator[dict[str, Any]]:
    """The archived records of a file, all or those with the source key / record id / line given."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if line is not None and number != line:
                continue
            entry = json.loads(text)
            if key is not None and entry["source_key"] != key:
                continue
            if record_id is not None and entry["record_id"] != record_id:
                continue
            yield entry
            if line is not None:
                return

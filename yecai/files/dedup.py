"""Duplicate rules of the file way in: which rows of a chunk are new, repeated or conflicting.

A keyed row is a duplicate when its key's *latest* stored version has the same content (a value
that changed back to an older one is new: 100 → 200 → 100 imports the last 100); the same key with
other content in this very file is a conflict (the person must decide which row is right); a row
whose latest version was stored invalid and is valid now is revived. A keyless row is a duplicate while earlier imports hold
more rows of its content than this file has repeated so far. The new rows go to the store's one
staging function; every outcome is counted and every problem becomes a row of the import report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from itertools import chain
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.files.columns import KindSpec
from yecai.files.rows import PreparedRow, RowIssue, document_json
from yecai.store import staging
from yecai.store.file_tables import FileImportIssue
from yecai.store.staging import NewDocument, NewRecord, StoredVersion
from yecai.store.tables import Record


@dataclass(slots=True)
class ImportCounts:
    """Data rows of a file by outcome (title, blank and footer rows are not data rows)."""

    rows: int = 0  # data rows read
    imported: int = 0  # new rows stored and validated into documents
    rejected: int = 0  # rows with problems (listed in the report); good rows beside them proceed
    duplicate: int = 0  # rows already imported (same key and content, or same content)
    warnings: int = 0  # doubts about imported rows (e.g. a bank card failing Luhn)
    skipped: int = 0  # footer (合计/备注) and repeated header rows

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def issue_row(import_id: int | None, severity: str, issue: RowIssue, record_id: int | None) -> dict[str, Any]:
    """A row of `file_import_issues`: what the import report lists."""
    return {
        "import_id": import_id,
        "severity": severity,
        "sheet": issue.sheet[:120],
        "row_number": issue.row,
        "column": issue.column[:200],
        "field": issue.field[:80],
        "value": issue.value,
        "zh": issue.zh,
        "en": issue.en,
        "record_id": record_id,
    }


def _record_issue(issue: RowIssue) -> dict[str, str]:
    return {
        "field": issue.field,
        "value": issue.value,
        "zh": issue.zh,
        "en": issue.en,
        "column": issue.column,
    }


def _repeat(row: PreparedRow, number: int) -> RowIssue:
    return RowIssue(
        row.sheet,
        row.row,
        "-",
        "-",
        row.key,
        f"与第 {number} 行完全相同（键 {row.key}），按重复处理",
        f"identical to row {number} (key {row.key}); counted as a duplicate",
    )


def _conflict(row: PreparedRow, number: int, spec: KindSpec) -> RowIssue:
    # a kind keyed only by its natural key (期初余额) has no key column to name
    what = (
        "、".join(spec.spec(n).header for n in spec.natural_key)
        if row.key.startswith("nk:")
        else spec.spec(spec.key_field).header
    )
    return RowIssue(
        row.sheet,
        row.row,
        what,
        spec.key_field,
        row.key,
        f"{what} {row.key} 在本文件第 {number} 行已出现且内容不同；请确认保留哪一行",
        f"{row.key} ({spec.key_field}) already appears on row {number} of this file with different content; "
        "decide which row is right",
    )


@dataclass(frozen=True, slots=True)
class RowStager:
    """Stages the chunks of one import: decides each row's outcome and stores the new ones."""

    connection: str
    spec: KindSpec
    import_id: int | None
    run_id: int | None

    @property
    def stream(self) -> str:
        return self.spec.kind

    def store_rows(
        self,
        session: Session,
        rows: list[PreparedRow],
        counts: ImportCounts,
        consumed: Counter[tuple[str, str]],
    ) -> None:
        """Count, reject or stage every row of the chunk in the caller's transaction."""
        existing = staging.stored_versions(
            session,
            connection=self.connection,
            stream=self.stream,
            keys=sorted({r.key for r in rows if r.keyed}),
        )
        earlier = self._earlier_rows(session, sorted({r.content_hash for r in rows if not r.keyed}))
        in_chunk: dict[str, tuple[str, int]] = {}  # key → (content hash, row) in this chunk
        new: list[PreparedRow] = []
        revived: list[tuple[PreparedRow, int]] = []
        issues: list[dict[str, Any]] = []

        def reject(row: PreparedRow, record_id: int | None) -> None:
            counts.rejected += 1
            issues.extend(issue_row(self.import_id, "error", i, record_id) for i in row.errors)

        for row in rows:
            counts.rows += 1
            if not row.keyed:
                status = "valid" if row.valid else "invalid"
                slot = (row.content_hash, status)
                if earlier[slot] > consumed[slot]:
                    consumed[slot] += 1
                    if row.valid:
                        counts.duplicate += 1
                    else:
                        reject(row, None)
                    continue
                new.append(row)
                continue
            seen = in_chunk.get(row.key)
            if seen is None:
                seen = self._seen_in_file(session, existing.get(row.key, []))
            if seen is not None:
                digest, number = seen
                if digest == row.content_hash:
                    counts.duplicate += 1
                    issues.append(issue_row(self.import_id, "warning", _repeat(row, number), None))
                    counts.warnings += 1
                else:
                    row.errors.append(_conflict(row, number, self.spec))
                    row.document = None
                    reject(row, None)
                continue
            in_chunk[row.key] = (row.content_hash, row.row)
            history = existing.get(row.key, [])
            # only the latest version counts: an older one with this content was changed since
            match = history[-1] if history and history[-1].content_hash == row.content_hash else None
            if match is None:
                new.append(row)
            elif not row.valid:
                reject(row, match.id)
            elif match.status == "valid":
                counts.duplicate += 1
            else:
                # stored as invalid by an earlier import, valid now (rules or constants changed)
                revived.append((row, match.id))
        history = {row.key: existing.get(row.key, []) for row in rows if row.keyed}
        self._insert(session, new, revived, counts, issues, history)

    def _earlier_rows(self, session: Session, hashes: list[str]) -> Counter[tuple[str, str]]:
        """Keyless rows of other imports by (content hash, status): what a re-export may repeat."""
        found: Counter[tuple[str, str]] = Counter()
        for part in staging.chunks(hashes):
            for digest, status, count in session.execute(
                select(Record.content_hash, Record.status, func.count())
                .where(
                    Record.connection == self.connection,
                    Record.stream == self.stream,
                    Record.content_hash.in_(part),
                    Record.source_key.like("row:%"),
                    or_(Record.run_id.is_(None), Record.run_id != self.run_id),
                )
                .group_by(Record.content_hash, Record.status)
            ):
                found[(digest, status)] += count
        return found

    def _seen_in_file(self, session: Session, found: list[StoredVersion]) -> tuple[str, int] | None:
        """The same key already stored from an earlier chunk of this very file: its hash and row."""
        for item in found:
            if item.run_id == self.run_id and self.run_id is not None:
                payload = jsonutil.loads(session.get(Record, item.id).payload)  # type: ignore[union-attr]
                return item.content_hash, int(payload.get("origin", {}).get("row", 0))
        return None

    def _insert(
        self,
        session: Session,
        new: list[PreparedRow],
        revived: list[tuple[PreparedRow, int]],
        counts: ImportCounts,
        issues: list[dict[str, Any]],
        history: dict[str, list[StoredVersion]],
    ) -> None:
        # a file row arrives validated: its record is stored valid or invalid, not "staged"
        ids = staging.stage_records(
            session,
            connection=self.connection,
            stream=self.stream,
            records=[
                NewRecord(
                    source_key=row.key,
                    content_hash=row.content_hash,
                    payload=row.payload,
                    status="valid" if row.valid else "invalid",
                    issues=None if row.valid else [_record_issue(i) for i in row.errors],
                )
                for row in new
            ],
            run_id=self.run_id,
            history=history,  # revisions follow from the versions the rows were judged against
        )
        documents: list[NewDocument] = []
        for row, record_id in chain(zip(new, ids, strict=True), revived):
            if not row.valid:
                issues.extend(issue_row(self.import_id, "error", i, record_id) for i in row.errors)
                counts.rejected += 1
                continue
            counts.imported += 1
            counts.warnings += len(row.warnings)
            issues.extend(issue_row(self.import_id, "warning", i, record_id) for i in row.warnings)
            documents.append(
                NewDocument(
                    record_id=record_id,
                    source_key=row.key,
                    data=document_json(row.document),
                    document=row.document,
                )
            )
        for _, record_id in revived:
            session.execute(update(Record).where(Record.id == record_id).values(status="valid", issues=None))
        staging.store_documents(
            session, connection=self.connection, kind=self.spec.model.kind, documents=documents
        )
        if issues:
            session.execute(insert(FileImportIssue.__table__), issues)

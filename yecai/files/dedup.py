"""Duplicate rules of the file way in: which rows of a chunk are new, repeated, near or conflicting.

A record is identified by its **business key**: the source reference (the document key column,
单据编号 …) when the row has one, and project, date, category and amount. Words for people (摘要,
remarks, links — `KindSpec.presentational`, and every column that feeds no field) never make a
record new:

- a keyed row is a duplicate when its key's *latest* stored version has the same content (a value
  that changed back to an older one is new: 100 → 200 → 100 imports the last 100), and also when
  the two differ only in presentational fields (listed for a person to confirm); any other change is
  a new version of the document;
- the same key with other content in this very file is a conflict (the person decides which row
  is right), unless only presentational fields differ (a duplicate, listed);
- a keyless row is matched with multiplicity against earlier imports' keyless documents: first one
  with the same content (a duplicate), then one with the same business key (a duplicate, listed
  with the fields that differ), then one of the same project, date and category whose amount
  differs only by rounding (**held**: not imported, listed for a person to confirm);
- a row whose latest version was stored invalid and is valid now is revived.

Every duplicate and held row becomes a "duplicate" line of the import report naming the earlier
record and document it repeats; the new rows go to the store's one staging function.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.files.columns import KindSpec
from yecai.files.rows import PreparedRow, RowIssue
from yecai.store import staging
from yecai.store.file_tables import FileImportIssue
from yecai.store.staging import NewDocument, NewRecord, StoredVersion
from yecai.store.tables import Document, Record

# how a row repeats an earlier one (file_import_issues.field of a "duplicate" line)
IDENTICAL = "identical"  # the same content
BUSINESS_KEY = "business_key"  # keyless: the same business key, other fields differ
PRESENTATIONAL = "presentational"  # keyed: the same key and substance, only words for people differ
ROUNDING = "rounding"  # keyless: the same project, date and category, amounts apart by rounding: held
IN_FILE = "in_file"  # the same key earlier in this very file
MATCH_LABELS: dict[str, tuple[str, str]] = {
    IDENTICAL: ("完全相同", "identical"),
    BUSINESS_KEY: ("业务键相同，其他列不同（请确认）", "same business key, other columns differ (confirm)"),
    PRESENTATIONAL: ("只有摘要等说明不同（请确认）", "only descriptive columns differ (confirm)"),
    ROUNDING: ("金额仅差舍入：未导入，待确认", "amounts differ by rounding: held, not imported"),
    IN_FILE: ("本文件内重复", "repeated in this file"),
}
CENT = Decimal("0.01")


@dataclass(slots=True)
class ImportCounts:
    """Data rows of a file by outcome (title, blank and footer rows are not data rows)."""

    rows: int = 0  # data rows read
    imported: int = 0  # new rows stored and validated into documents
    rejected: int = 0  # rows with problems (listed in the report); good rows beside them proceed
    duplicate: int = 0  # rows already imported (same business key), listed on the Duplicates sheet
    warnings: int = 0  # doubts about rows (a bank card failing Luhn, a formula without its result …)
    skipped: int = 0  # footer (合计/备注) and repeated header rows
    held: int = 0  # near-duplicates (amounts apart by rounding) not imported, for a person to confirm

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


def near_amounts(a: Decimal, b: Decimal) -> bool:
    """Two different amounts that one rounding apart: within a cent, or equal once the more precise
    is rounded (half up) to whole yuan or to 角 — what an export showing fewer decimals does."""
    if a == b:
        return False
    if abs(a - b) <= CENT:
        return True
    for step in (Decimal(1), Decimal("0.1")):
        if a.quantize(step, ROUND_HALF_UP) == b or b.quantize(step, ROUND_HALF_UP) == a:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Earlier:
    """A keyless document of an earlier import that a keyless row may repeat."""

    document_id: int
    record_id: int
    run_id: int | None
    version: str  # the record's content hash
    amount: Decimal | None


@dataclass(slots=True)
class _Chunk:
    """What one chunk decided, row by row (index into the chunk)."""

    new: set[int] = field(default_factory=set)
    revived: list[tuple[int, int]] = field(default_factory=list)  # (row index, record id)
    issues: list[dict[str, Any]] = field(default_factory=list)


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
        """Count, reject, hold or stage every row of the chunk in the caller's transaction.

        `consumed` carries across the chunks of one import what earlier rows were already matched
        (keyless content hashes of invalid rows, and documents by id), so that a repeat is matched
        once.
        """
        counts.rows += len(rows)
        existing = staging.stored_versions(
            session,
            connection=self.connection,
            stream=self.stream,
            keys=sorted({r.key for r in rows if r.keyed}),
        )
        invalid = sorted({r.content_hash for r in rows if not r.keyed and not r.valid})
        earlier_invalid = self._earlier_rows(session, invalid)
        # key → (hash, row number, the row if valid): its data is parsed only if a later row needs it
        in_chunk: dict[str, tuple[str, int, PreparedRow | dict[str, Any] | None]] = {}
        chunk = _Chunk()
        compare: list[tuple[int, StoredVersion]] = []  # keyed rows unlike their latest version
        keyless: list[int] = []

        def reject(row: PreparedRow, record_id: int | None) -> None:
            counts.rejected += 1
            chunk.issues.extend(issue_row(self.import_id, "error", i, record_id) for i in row.errors)

        for index, row in enumerate(rows):
            if not row.keyed:
                if row.valid:
                    keyless.append(index)
                    continue
                slot = (row.content_hash, "invalid")
                if earlier_invalid[slot] > consumed[slot]:
                    consumed[slot] += 1  # rejected before, unchanged: listed again, stored once
                    reject(row, None)
                else:
                    chunk.new.add(index)
                continue
            seen = in_chunk.get(row.key)
            if seen is None and (stored_before := existing.get(row.key)):
                seen = self._seen_in_file(session, stored_before)
            if seen is not None:
                digest, number, earlier = seen
                data = earlier.data if isinstance(earlier, PreparedRow) else earlier
                if digest == row.content_hash:
                    counts.duplicate += 1
                    counts.warnings += 1
                    chunk.issues.append(issue_row(self.import_id, "warning", _repeat(row, number), None))
                    self._listed(chunk, counts, row, IN_FILE, earlier_row=number)
                elif row.valid and data is not None and not self._differs(row.data, data, True):
                    # only words for people differ: the same record, listed for a person to confirm
                    counts.duplicate += 1
                    self._listed(
                        chunk, counts, row, IN_FILE, earlier_row=number, differs=self._differs(row.data, data)
                    )
                else:
                    row.errors.append(_conflict(row, number, self.spec))
                    row.document = None
                    reject(row, None)
                continue
            in_chunk[row.key] = (row.content_hash, row.row, row if row.valid else None)
            history = existing.get(row.key, ())
            latest = history[-1] if history else None
            # only the latest version counts: an older one with this content was changed since
            if latest is None:
                chunk.new.add(index)
            elif latest.content_hash == row.content_hash:
                if not row.valid:
                    reject(row, latest.id)
                elif latest.status == "valid":
                    counts.duplicate += 1
                    self._listed(chunk, counts, row, IDENTICAL, record_id=latest.id, run_id=latest.run_id)
                else:
                    # stored as invalid by an earlier import, valid now (rules or constants changed)
                    chunk.revived.append((index, latest.id))
            elif row.valid and latest.status == "valid":
                compare.append((index, latest))
            else:
                chunk.new.add(index)
        if compare:
            self._compare_keyed(session, rows, compare, chunk, counts)
        if keyless:
            self._match_keyless(session, rows, keyless, chunk, counts, consumed)
        stored = chunk.new | {index for index, _ in chunk.revived}
        for index, row in enumerate(rows):
            if index not in stored and row.notices:
                # the file's doubts are listed whatever became of the row
                counts.warnings += len(row.notices)
                chunk.issues.extend(issue_row(self.import_id, "warning", i, None) for i in row.notices)
        history = {row.key: existing.get(row.key, ()) for row in rows if row.keyed}
        self._insert(session, rows, chunk, counts, history)

    # -- keyed rows ---------------------------------------------------------------------------

    def _compare_keyed(
        self,
        session: Session,
        rows: list[PreparedRow],
        compare: list[tuple[int, StoredVersion]],
        chunk: _Chunk,
        counts: ImportCounts,
    ) -> None:
        """A keyed row unlike its latest version: a new version, unless only words differ."""
        documents = self._documents_of(session, [latest.id for _, latest in compare])
        for index, latest in compare:
            row = rows[index]
            found = documents.get(latest.id)
            if found is None or self._differs(row.data, found[1], True):
                chunk.new.add(index)
                continue
            counts.duplicate += 1
            self._listed(
                chunk,
                counts,
                row,
                PRESENTATIONAL,
                record_id=latest.id,
                run_id=latest.run_id,
                document_id=found[0],
                differs=self._differs(row.data, found[1]),
            )

    def _documents_of(self, session: Session, record_ids: list[int]) -> dict[int, tuple[int, dict[str, Any]]]:
        """The latest document of each record: record id → (document id, data)."""
        out: dict[int, tuple[int, dict[str, Any]]] = {}
        for part in staging.chunks(sorted(set(record_ids))):  # type: ignore[arg-type]
            for document_id, record_id, data in session.execute(
                select(Document.id, Document.record_id, Document.data)
                .where(Document.record_id.in_(part))
                .order_by(Document.id)
            ):
                out[record_id] = (document_id, jsonutil.loads(data))
        return out

    def _seen_in_file(
        self, session: Session, found: list[StoredVersion]
    ) -> tuple[str, int, dict[str, Any] | None] | None:
        """The same key already stored from an earlier chunk of this very file: hash, row, data."""
        for item in found:
            if item.run_id == self.run_id and self.run_id is not None:
                payload = jsonutil.loads(session.get(Record, item.id).payload)  # type: ignore[union-attr]
                document = self._documents_of(session, [item.id]).get(item.id)
                return (
                    item.content_hash,
                    int(payload.get("origin", {}).get("row", 0)),
                    document[1] if document else None,
                )
        return None

    # -- keyless rows -------------------------------------------------------------------------

    def _match_keyless(
        self,
        session: Session,
        rows: list[PreparedRow],
        indexes: list[int],
        chunk: _Chunk,
        counts: ImportCounts,
        consumed: Counter[tuple[str, str]],
    ) -> None:
        """Valid keyless rows against earlier imports' keyless documents, with multiplicity.

        Three passes, so that a row's identical twin is never taken by a merely similar row before
        it: the same content, then the same business key, then an amount apart by rounding.
        """
        groups: dict[tuple[Any, ...], list[Earlier]] = {}
        for item, group in self._earlier_documents(session, [rows[i] for i in indexes]):
            groups.setdefault(group, []).append(item)

        def free(item: Earlier) -> bool:
            return consumed[("document", str(item.document_id))] == 0

        def take(item: Earlier) -> Earlier:
            consumed[("document", str(item.document_id))] += 1
            return item

        matched: dict[int, tuple[str, Earlier]] = {}
        tests = (
            (
                IDENTICAL,
                lambda row, item: item.version == row.content_hash and item.amount == row.business[3],
            ),
            (BUSINESS_KEY, lambda row, item: item.amount == row.business[3]),
            (
                ROUNDING,
                lambda row, item: (
                    item.amount is not None
                    and row.business[3] is not None
                    and near_amounts(item.amount, row.business[3])
                ),
            ),
        )
        for kind, test in tests:
            for index in indexes:
                if index in matched:
                    continue
                row = rows[index]
                group = groups.get(row.business[:3], [])
                found = next((item for item in group if free(item) and test(row, item)), None)
                if found is not None:
                    matched[index] = (kind, take(found))
        data = self._documents_of(
            session, [item.record_id for kind, item in matched.values() if kind != IDENTICAL]
        )
        for index in indexes:
            row = rows[index]
            if index not in matched:
                chunk.new.add(index)
                continue
            kind, item = matched[index]
            differs = self._differs(row.data, data[item.record_id][1]) if kind != IDENTICAL else []
            if kind == ROUNDING:
                counts.held += 1
            else:
                counts.duplicate += 1
            self._listed(
                chunk,
                counts,
                row,
                kind,
                record_id=item.record_id,
                run_id=item.run_id,
                document_id=item.document_id,
                differs=differs,
            )

    def _earlier_documents(
        self, session: Session, rows: list[PreparedRow]
    ) -> list[tuple[Earlier, tuple[Any, ...]]]:
        """Earlier imports' live keyless documents of these rows' projects and dates, oldest first."""
        projects = sorted({str(r.business[0]) for r in rows if r.business[0] is not None})
        dates = sorted({r.business[1] for r in rows if r.business[1] is not None})
        found: list[tuple[Earlier, tuple[Any, ...]]] = []
        for project_part in staging.chunks(projects):
            for date_part in staging.chunks(dates):  # type: ignore[arg-type]
                query = (
                    select(
                        Document.id,
                        Document.record_id,
                        Record.run_id,
                        Document.version,
                        Document.project_code,
                        Document.business_date,
                        Document.category,
                        Document.amount,
                    )
                    .join(Record, Record.id == Document.record_id)
                    .where(
                        Document.connection == self.connection,
                        Document.kind == self.spec.model.kind,
                        Document.deleted.is_(False),
                        Document.source_key.like("row:%"),
                        Document.project_code.in_(project_part),
                        Document.business_date.in_(date_part),
                        or_(Record.run_id.is_(None), Record.run_id != self.run_id),
                    )
                    .order_by(Document.id)
                )
                for doc_id, record_id, run_id, version, project, date, category, amount in session.execute(
                    query
                ):
                    found.append(
                        (Earlier(doc_id, record_id, run_id, version, amount), (project, date, category))
                    )
        found.sort(key=lambda pair: pair[0].document_id)
        return found

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

    # -- what differs, and the report's lines ---------------------------------------------------

    def _differs(
        self, mine: dict[str, Any], stored: dict[str, Any], substance: bool = False
    ) -> list[dict[str, Any]]:
        """The fields whose values differ (only those that are not words for people, if `substance`)."""
        skip = set(self.spec.presentational) if substance else set()
        out: list[dict[str, Any]] = []
        for name in sorted(set(mine) | set(stored)):
            if name in skip or name == "source_key":  # a keyless row's place differs by design
                continue
            if _same(mine.get(name), stored.get(name)):
                continue
            header = self.spec.spec(name).header if name in self.spec.field_names else name
            out.append({"field": name, "header": header, "stored": stored.get(name), "row": mine.get(name)})
        return out

    def _listed(
        self,
        chunk: _Chunk,
        counts: ImportCounts,
        row: PreparedRow,
        kind: str,
        *,
        record_id: int | None = None,
        run_id: int | None = None,
        document_id: int | None = None,
        earlier_row: int | None = None,
        differs: list[dict[str, Any]] | None = None,
    ) -> None:
        """One line of the Duplicates sheet, and a warning where a person has to confirm."""
        project, date, category, amount = row.business
        value = {
            "key": row.key if row.keyed else "",
            "project": project,
            "date": date.isoformat() if isinstance(date, dt.date) else None,
            "category": category,
            "amount": format(amount, "f") if amount is not None else None,
            "document": document_id,
            "run": run_id,
            "row": earlier_row,
            "differs": [
                {**item, "stored": _shown(item["stored"]), "row": _shown(item["row"])}
                for item in differs or []
            ],
        }
        label = MATCH_LABELS[kind]
        zh, en = _explain(kind, row, value)
        issue = RowIssue(row.sheet, row.row, f"{label[0]} {label[1]}", kind, jsonutil.dumps(value), zh, en)
        chunk.issues.append(issue_row(self.import_id, "duplicate", issue, record_id))
        if kind == ROUNDING or differs:
            counts.warnings += 1
            chunk.issues.append(
                issue_row(
                    self.import_id,
                    "warning",
                    RowIssue(row.sheet, row.row, "-", kind, value["amount"] or "", zh, en),
                    record_id,
                )
            )

    # -- storing ------------------------------------------------------------------------------

    def _insert(
        self,
        session: Session,
        rows: list[PreparedRow],
        chunk: _Chunk,
        counts: ImportCounts,
        history: dict[str, Sequence[StoredVersion]],
    ) -> None:
        new = [rows[index] for index in sorted(chunk.new)]
        revived = [(rows[index], record_id) for index, record_id in chunk.revived]
        issues = chunk.issues
        # a file row arrives validated: its record is stored valid or invalid, not "staged"
        versions: dict[int, str] = {}
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
            versions=versions,
        )
        documents: list[NewDocument] = []
        for row, record_id in chain(zip(new, ids, strict=True), revived):
            if row.notices:
                counts.warnings += len(row.notices)
                issues.extend(issue_row(self.import_id, "warning", i, record_id) for i in row.notices)
            if not row.valid:
                issues.extend(issue_row(self.import_id, "error", i, record_id) for i in row.errors)
                counts.rejected += 1
                continue
            counts.imported += 1
            if row.warnings:
                counts.warnings += len(row.warnings)
                issues.extend(issue_row(self.import_id, "warning", i, record_id) for i in row.warnings)
            documents.append(
                NewDocument(
                    record_id=record_id,
                    source_key=row.key,
                    data=row.json,
                    document=row.model,
                    columns=row.business,
                )
            )
        for row, record_id in revived:
            session.execute(update(Record).where(Record.id == record_id).values(status="valid", issues=None))
            if row.valid:
                # its record belongs to the earlier run: the Imported sheet finds it by this line
                revival = RowIssue(row.sheet, row.row, "-", "-", row.key, "已恢复", "revived")
                issues.append(issue_row(self.import_id, "revived", revival, record_id))
        staging.store_documents(
            session,
            connection=self.connection,
            kind=self.spec.model.kind,
            documents=documents,
            versions=versions,  # a revived record's version is read back
        )
        if issues:
            session.execute(insert(FileImportIssue.__table__), issues)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal | int) and isinstance(b, Decimal | int) and not isinstance(a, bool):
        return Decimal(a) == Decimal(b)
    return a == b


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "（空）empty"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _explain(kind: str, row: PreparedRow, value: dict[str, Any]) -> tuple[str, str]:
    """Why the row was not imported, in words: what it repeats and, where it matters, what differs."""
    earlier_zh = (
        f"本文件第 {value['row']} 行"
        if kind == IN_FILE
        else f"已导入的单据 #{value['document']}" + (f"（运行 {value['run']}）" if value["run"] else "")
    )
    earlier_en = (
        f"row {value['row']} of this file"
        if kind == IN_FILE
        else f"document #{value['document']} already imported"
        + (f" (run {value['run']})" if value["run"] else "")
    )
    differs = value["differs"]
    diff_zh = "；".join(f"{d['header']}：已有 {d['stored']}，本行 {d['row']}" for d in differs)
    diff_en = "; ".join(
        f"{d['header']} ({d['field']}): {d['stored']} before, {d['row']} here" for d in differs
    )
    if kind == ROUNDING:
        return (
            f"与{earlier_zh}项目、日期、类别相同，金额只差舍入（{diff_zh}）：疑似同一笔，未导入，请确认。"
            "若确为另一笔费用，请为这一行填写单据编号后单独导入",
            f"same project, date and category as {earlier_en}, the amounts differ only by rounding ({diff_en}): "
            "probably the same cost, so not imported — please confirm. If it is a separate cost, give the row "
            "a document number (单据编号) and import it on its own",
        )
    if kind == IDENTICAL:
        return (
            f"与{earlier_zh}完全相同，按重复处理，未再导入",
            f"identical to {earlier_en}; a duplicate, not imported again",
        )
    if not differs:
        return f"与{earlier_zh}相同，按重复处理", f"the same as {earlier_en}; a duplicate"
    what_zh = (
        "业务键（项目、日期、类别、金额、单据编号）相同" if kind != PRESENTATIONAL else "单据编号与金额等相同"
    )
    what_en = (
        "the same business key (project, date, category, amount, source reference)"
        if kind != PRESENTATIONAL
        else "the same key, amount and every other figure"
    )
    return (
        f"与{earlier_zh}{what_zh}，按重复处理，未再导入；但 {diff_zh}。请确认是同一笔",
        f"{what_en} as {earlier_en}: a duplicate, not imported again; but {diff_en}. Please confirm it is "
        "the same record",
    )

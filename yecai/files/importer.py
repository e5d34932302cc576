"""File import: an export file's rows → staged records → documents, once, under a lock.

The same tables as the REST importer (`records`, `documents`, `runs`, written by the store's one
staging function), so the rest of the pipeline treats a file like any other source. This module
orchestrates; each guard lives in its own module: the bytes' fingerprint and snapshot
(`fingerprints`), the lock per (connection, kind) (`locks`), the table in each sheet (`layout`), the
export's age (`freshness`), the checkpoint and resume after a crash (`resume`) and duplicate
detection by key and content hash (`dedup`). Rows stream through in chunks: a file of up to
`chunk_rows` data rows commits in one transaction; a larger one commits chunk by chunk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy import text as sql

from yecai.files.cells import CellError
from yecai.files.columns import KindSpec, kind_spec, read_value
from yecai.files.dedup import ImportCounts, RowStager, issue_row
from yecai.files.fingerprints import snapshot
from yecai.files.freshness import export_age_notes
from yecai.files.layout import (
    SCAN_ROWS,
    Layout,
    first_text,
    is_blank,
    is_footer,
    is_repeated_header,
    sheet_layout,
)
from yecai.files.locks import STALE_AFTER, ImportLock, acquire, heartbeat, release, takeover_note
from yecai.files.mappings import ColumnMapping, load_mapping
from yecai.files.problems import FileProblem
from yecai.files.raw import RawRow
from yecai.files.reader import Note, OpenedFile, check_path, open_file, owner_note
from yecai.files.report import first_issues, problem_report, write_report
from yecai.files.resume import (
    PreviousImport,
    abandon,
    already_note,
    check_settings,
    continue_import,
    failed_run,
    previous_import,
    previous_info,
    resumed_note,
    start_import,
)
from yecai.files.row_feed import FEED_ABOVE_BYTES, fed_items
from yecai.files.rows import FileContext, PreparedRow, RowIssue, prepare_raw, skipped_issue
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.store.file_tables import FileImport, FileImportIssue
from yecai.store.tables import Run

DEFAULT_CONNECTION = "file"
CHUNK_ROWS = 5000

Progress = Callable[[int], None]


@dataclass(slots=True)
class ImportResult:
    """What one call of `import_file` did."""

    status: str  # imported | already_imported
    kind: str
    connection: str
    file_name: str
    fingerprint: str
    file_format: str
    encoding: str | None = None
    delimiter: str | None = None
    import_id: int | None = None
    run_id: int | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    sheets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    previous: PreviousImport | None = None
    resumed_from: int = 0
    issues: list[RowIssue] = field(default_factory=list)  # the first rejected rows and warnings
    report: Path | None = None


def _constants(
    spec: KindSpec, given: dict[str, str], mapping: ColumnMapping | None
) -> tuple[dict[str, Any], dict[str, str]]:
    texts = {**(mapping.constants if mapping else {}), **{k: v for k, v in given.items() if v is not None}}
    values: dict[str, Any] = {}
    for name, text in texts.items():
        try:
            item = spec.spec(name)
        except KeyError:
            raise FileProblem(
                "constant",
                f"类型 {spec.kind} 没有字段 {name}；可用：{', '.join(spec.field_names)}",
                f"kind {spec.kind} has no field {name}; known: {', '.join(spec.field_names)}",
            ) from None
        try:
            value, _ = read_value(item, text)
        except CellError as exc:
            raise FileProblem(
                "constant",
                f"常量 {name}={text!r} 无效：{exc.zh}",
                f"constant {name}={text!r} is invalid: {exc.en}",
            ) from None
        values[name] = value
        texts[name] = str(text)
    return values, texts


def import_file(
    store: Store,
    path: Path | str,
    *,
    kind: str,
    connection: str = DEFAULT_CONNECTION,
    project: str | None = None,
    constants: dict[str, str] | None = None,
    mapping: ColumnMapping | str | None = None,
    sheet: str | None = None,
    report: Path | None = None,
    holder: str | None = None,
    wait: float = 0.0,
    stale_after: dt.timedelta = STALE_AFTER,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one export file of `kind`; see the module docstring for the guarantees.

    Raises FileProblem when nothing of the file can be read (the file is then not registered as
    imported) and LockHeld when another import of the kind is running. Bad rows never raise: they
    are counted, stored as invalid records with their issues, and listed in the report.
    """
    spec = kind_spec(kind)
    path = Path(path)
    if isinstance(mapping, str):
        mapping = load_mapping(store, mapping)
    if mapping is not None and mapping.kind != kind:
        raise FileProblem(
            "template_kind",
            f"列映射模板 {mapping.name} 属于类型 {mapping.kind}，不能用于 {kind}",
            f"column template {mapping.name} is for kind {mapping.kind}, not {kind}",
        )
    given = dict(constants or {})
    if project:
        given["project_code"] = project
    values, texts = _constants(spec, given, mapping)
    sheet = sheet or (mapping.sheet if mapping else None)
    try:
        result = _import(
            store,
            path,
            spec,
            connection,
            sheet,
            mapping,
            values,
            texts,
            holder,
            wait,
            stale_after,
            chunk_rows,
            progress,
        )
    except FileProblem as exc:
        run_id = failed_run(store, connection=connection, kind=kind, message=f"{path.name}: {exc}")
        if report is not None:
            problem_report(
                report, file_name=path.name, kind=kind, connection=connection, problem=exc, run_id=run_id
            )
        raise
    if result.import_id is not None:
        result.issues = first_issues(store, result.import_id)
        if report is not None:
            result.report = write_report(
                store, result.import_id, report, already=result.status == "already_imported"
            )
    return result


def _import(
    store: Store,
    path: Path,
    spec: KindSpec,
    connection: str,
    sheet: str | None,
    mapping: ColumnMapping | None,
    values: dict[str, Any],
    texts: dict[str, str],
    holder: str | None,
    wait: float,
    stale_after: dt.timedelta,
    chunk_rows: int,
    progress: Progress | None,
) -> ImportResult:
    with tempfile.TemporaryDirectory(prefix="yecai-import-") as folder:
        # check the path as given first, so messages name the user's file, not the snapshot
        check_path(path)
        copy = Path(folder) / path.name
        digest = snapshot(path, copy)
        opened = open_file(copy)
        try:
            note = owner_note(path)
            if note:
                opened.notes.append(note)
            lock = acquire(
                store,
                connection=connection,
                kind=spec.kind,
                file_name=path.name,
                holder=holder,
                wait=wait,
                stale_after=stale_after,
            )
            job = _Job(
                store=store,
                spec=spec,
                connection=connection,
                path=path,
                opened=opened,
                digest=digest,
                size=copy.stat().st_size,
                sheet=sheet,
                mapping=mapping,
                constants=values,
                constant_text=texts,
                lock=lock,
                chunk_rows=max(1, chunk_rows),
                progress=progress,
            )
            if (taken := takeover_note(lock)) is not None:
                job.notes.append(taken)
            try:
                with _fewer_collections():
                    return job.run()
            except FileProblem:
                raise
            except BaseException as exc:  # Ctrl-C too: the run must not stay "running" forever
                job.abandon(exc)
                raise
            finally:
                release(store, lock)
        finally:
            opened.close()


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector less often while rows stream through.

    Every row makes dozens of short-lived objects that reference counting frees; at the default
    threshold (700 allocations) the collector runs hundreds of times per chunk and, every so often,
    walks every object of the process (the ORM's and pydantic's included): 14 % of the import's
    CPU. A higher first threshold leaves the cycles it exists for to be found later. The setting is
    the process's: the first import to start raises it and the last to end puts it back, so
    imports overlapping in threads (the console's uploads) never leave it raised.
    """
    global _streaming, _threshold_before
    with _gc_lock:
        if _streaming == 0:
            _threshold_before = gc.get_threshold()
            gc.set_threshold(50_000, *_threshold_before[1:])
        _streaming += 1
    try:
        yield
    finally:
        with _gc_lock:
            _streaming -= 1
            if _streaming == 0:
                gc.set_threshold(*_threshold_before)


# Imports streaming in this process now, and the collector's thresholds before the first of them.
_gc_lock = threading.Lock()
_streaming = 0
_threshold_before: tuple[int, ...] = gc.get_threshold()


@dataclass(slots=True)
class _Job:
    """One attempt at importing one file: finds each sheet's table, then commits rows in chunks."""

    store: Store
    spec: KindSpec
    connection: str
    path: Path
    opened: OpenedFile
    digest: str
    size: int
    sheet: str | None
    mapping: ColumnMapping | None
    constants: dict[str, Any]
    constant_text: dict[str, str]
    lock: ImportLock
    chunk_rows: int
    progress: Progress | None
    notes: list[Note] = field(default_factory=list)
    counts: ImportCounts = field(default_factory=ImportCounts)
    import_id: int | None = None
    run_id: int | None = None
    resume_from: int = 0
    layouts: list[Layout] = field(default_factory=list)
    consumed: Counter[tuple[str, str]] = field(default_factory=Counter)
    resumed_note: bool = False
    skipped: list[RowIssue] = field(default_factory=list)  # footer rows waiting for the next commit
    analyzed: bool = False  # PostgreSQL's statistics refreshed after the first chunk

    def _result(self, status: str) -> ImportResult:
        opened = self.opened
        return ImportResult(
            status=status,
            kind=self.spec.kind,
            connection=self.connection,
            file_name=self.path.name,
            fingerprint=self.digest,
            file_format=opened.file_format,
            encoding=str(opened.encoding) if opened.encoding else None,
            delimiter=opened.delimiter,
            import_id=self.import_id,
            run_id=self.run_id,
            counts=self.counts,
            sheets=[layout.describe() for layout in self.layouts],
            notes=list(self.opened.notes) + self.notes,
            resumed_from=self.resume_from,
        )

    def run(self) -> ImportResult:
        sheet_filter = self.sheet or ""
        with self.store.transaction() as session:
            previous = previous_import(
                session,
                connection=self.connection,
                kind=self.spec.kind,
                digest=self.digest,
                sheet_filter=sheet_filter,
            )
            if previous is not None and previous.status == "imported":
                return self._already(previous)
            if previous is not None:
                # An import of these bytes was interrupted (crash, Ctrl-C, lost lock): resume it.
                self.import_id, self.run_id = previous.id, previous.run_id
                self.resume_from = previous.rows_done
                self.counts = ImportCounts(**{k: int(v) for k, v in (previous.counts or {}).items()})
                check_settings(previous, self._settings())
        names = self.opened.sheet_names
        if self.sheet is not None:
            if self.sheet not in names:
                raise FileProblem(
                    "sheet",
                    f"文件 {self.path.name} 中没有工作表 {self.sheet!r}；有：{'、'.join(names)}",
                    f"{self.path.name} has no sheet {self.sheet!r}; it has: {', '.join(names)}",
                )
            names = [self.sheet]
        chunk: list[PreparedRow] = []
        data_index = 0
        seen_rows = False
        first_rows: list[str] = []
        for name in names:
            sheet = self.opened.sheet(name)
            head = list(islice(sheet.rows, SCAN_ROWS))
            if all(is_blank(row) for row in head):
                if len(names) > 1:
                    self.notes.append(
                        Note(f"工作表 {name} 是空的，已跳过", f"sheet {name} is empty; skipped")
                    )
                continue
            seen_rows = True
            layout = self._layout(name, head, sheet.merged, sheet.col_offset)
            if layout is None:
                first_rows.append(first_text(head))
                if len(names) > 1:
                    self.notes.append(
                        Note(
                            f"工作表 {name} 中未找到{self.spec.title_zh}的表头，已跳过",
                            f"no {self.spec.title_en} header found in sheet {name}; skipped",
                        )
                    )
                continue
            context = self._context(layout)
            if self.import_id is None:
                self._start()
            else:
                self._touch_layout()

            def label(raw: RawRow, layout: Layout = layout) -> RawRow | RowIssue | None:
                # what a row is: not data (None), a footer or repeated header, or a data row
                if raw.number < layout.data_start or is_blank(raw):
                    return None
                if not raw.error and (is_footer(raw) or is_repeated_header(raw, layout)):
                    return skipped_issue(layout, raw)
                return raw

            def prepared(
                raw: RawRow,
                layout: Layout = layout,
                context: FileContext = context,
                label: Callable[[RawRow], RawRow | RowIssue | None] = label,
            ) -> PreparedRow | RowIssue | None:
                # `label`, then the data rows prepared: what the row reader's child may do itself
                item = label(raw)
                return prepare_raw(context, layout, item) if isinstance(item, RawRow) else item

            items: Iterator[RawRow | RowIssue | PreparedRow | None] = map(label, head)
            if self.size > FEED_ABOVE_BYTES:
                # read and prepared in a child while this process prepares and stores too (row_feed)
                items = chain(items, fed_items(sheet.rows, self.path.name, prepared))
            else:
                items = chain(items, map(label, sheet.rows))
            for item in items:
                if item is None:
                    continue
                if isinstance(item, RowIssue):
                    if data_index >= self.resume_from:
                        self.skipped.append(item)
                    continue
                data_index += 1
                if data_index <= self.resume_from:
                    continue
                if len(chunk) >= self.chunk_rows:
                    self._commit(chunk, data_index - 1, final=False)
                    chunk = []
                chunk.append(item if isinstance(item, PreparedRow) else prepare_raw(context, layout, item))
        if self.import_id is None:
            raise self._nothing(seen_rows, first_rows)
        if data_index == 0:
            # a header and nothing under it (or a table whose rows the reader could not find):
            # "imported, 0 rows" must not pass for a success unremarked
            self.notes.append(
                Note(
                    f"文件 {self.path.name} 中没有数据行（找到了表头，但表头下没有任何数据）",
                    f"{self.path.name} holds no data rows (the header was found, but nothing under it)",
                )
            )
        self._commit(chunk, data_index, final=True)
        return self._result("imported")

    # -- starting, resuming, finishing ------------------------------------------------------

    def abandon(self, exc: BaseException) -> None:
        """Mark the run interrupted (resumable from the checkpoint) or failed, best effort."""
        abandon(self.store, run_id=self.run_id, counts=self.counts.as_dict(), exc=exc)

    def _settings(self) -> dict[str, Any]:
        return {"template": self.mapping.name if self.mapping else None, "constants": self.constant_text}

    def _layout(self, name: str, head: list[RawRow], merged: list[Any], offset: int) -> Layout | None:
        layout, notes = sheet_layout(name, head, merged, offset, self.spec, self.mapping, self.constants)
        if layout is None:
            return None
        self.layouts.append(layout)
        self.notes.extend(Note(zh, en) for zh, en in notes)
        self.notes.extend(
            export_age_notes(
                self.store, connection=self.connection, kind=self.spec.kind, stamp=layout.exported_at
            )
        )
        return layout

    def _context(self, layout: Layout) -> FileContext:
        constants, texts = dict(self.constants), dict(self.constant_text)
        if layout.title_project and "project_code" not in layout.fields and "project_code" not in constants:
            constants["project_code"] = layout.title_project
            texts["project_code"] = layout.title_project
            self.notes.append(
                Note(
                    f"工作表 {layout.sheet} 没有项目编码列，使用标题中的项目编码 {layout.title_project}",
                    f"sheet {layout.sheet} has no project column; the title's project code "
                    f"{layout.title_project} was used",
                )
            )
        # the process's business-date window (YECAI_BUSINESS_DATE_*), read once per sheet
        window = Settings().business_dates()
        return FileContext(
            self.spec, self.digest, self.path.name, constants, texts, window, self.opened.file_format
        )

    def _layout_json(self) -> dict[str, Any]:
        return {"sheets": [layout.describe() for layout in self.layouts], "settings": self._settings()}

    def _start(self) -> None:
        exported = next((layout.exported_at for layout in self.layouts if layout.exported_at), None)
        if exported is not None:
            exported = exported.astimezone(dt.UTC)  # SQLite keeps no offset: store UTC like every stamp
        self.import_id, self.run_id = start_import(
            self.store,
            connection=self.connection,
            kind=self.spec.kind,
            fingerprint=self.digest,
            sheet_filter=self.sheet or "",
            file_name=self.path.name[:500],
            size=self.size,
            file_format=self.opened.file_format,
            encoding=str(self.opened.encoding) if self.opened.encoding else None,
            template=self.mapping.name if self.mapping else None,
            status="importing",
            rows_done=0,
            counts=self.counts.as_dict(),
            layout=self._layout_json(),
            notes=[[n.zh, n.en] for n in self.opened.notes + self.notes],
            exported_at=exported,
            imported_by=self.lock.holder[:200],
        )

    def _touch_layout(self) -> None:
        assert self.import_id is not None  # only called once the import has started
        first = not self.resumed_note
        self.resumed_note = True
        continue_import(
            self.store,
            import_id=self.import_id,
            run_id=self.run_id,
            layout=self._layout_json(),
            resume_from=self.resume_from,
        )
        if self.resume_from and first:
            self.notes.append(resumed_note(self.resume_from))

    def _already(self, previous: FileImport) -> ImportResult:
        self.import_id, self.run_id = previous.id, previous.run_id
        self.notes.append(already_note(previous, self.path.name))
        result = self._result("already_imported")
        result.previous = previous_info(previous)
        result.sheets = list((previous.layout or {}).get("sheets", []))
        return result

    def _nothing(self, seen_rows: bool, first_rows: list[str]) -> FileProblem:
        if not seen_rows:
            return FileProblem(
                "empty",
                f"文件 {self.path.name} 中没有数据（所有工作表都是空的）",
                f"{self.path.name} holds no data (every sheet is empty)",
                path=str(self.path),
            )
        wanted = "、".join(item.header for item in self.spec.fields if item.required)
        seen = "；".join(text for text in first_rows if text)[:200]
        return FileProblem(
            "no_header",
            f"文件 {self.path.name} 中未找到{self.spec.title_zh}的表头（至少需要两列可识别，如 {wanted}）；"
            f"文件开头是：{seen}。请检查导入类型 --kind {self.spec.kind}，或用列映射模板 --template 指定",
            f"no {self.spec.title_en} header found in {self.path.name} (at least two recognised columns such "
            f"as {wanted}); the file starts with: {seen}. Check --kind {self.spec.kind} or name a column "
            "template with --template",
            path=str(self.path),
        )

    # -- the chunk commit -----------------------------------------------------------------

    def _analyze(self) -> None:
        """PostgreSQL: statistics of the tables an import grows, once its first chunk is in.

        A store filled by this very import has none yet, and the planner then guesses: the
        duplicate checks of the following chunks (by key, content hash, project and date) must not
        be planned on an empty table's guesses. The key lookup itself goes through the unique
        index whatever the statistics (`staging.stored_versions`).
        """
        self.analyzed = True
        if self.store.engine.dialect.name != "postgresql":
            return
        with self.store.transaction() as session:
            session.execute(sql("ANALYZE records"))
            session.execute(sql("ANALYZE documents"))

    def _commit(self, rows: list[PreparedRow], rows_done: int, *, final: bool) -> None:
        with self.store.transaction() as session:
            heartbeat(session, self.lock)
            counts = ImportCounts(**self.counts.as_dict())
            consumed = Counter(self.consumed)
            RowStager(self.connection, self.spec, self.import_id, self.run_id).store_rows(
                session, rows, counts, consumed
            )
            if self.skipped:
                # listed in the report so that nobody has to trust the footer detection blindly
                counts.skipped += len(self.skipped)
                session.execute(
                    insert(FileImportIssue.__table__),
                    [issue_row(self.import_id, "skipped", issue, None) for issue in self.skipped],
                )
            values: dict[str, Any] = {"rows_done": rows_done, "counts": counts.as_dict()}
            now = dt.datetime.now(dt.UTC)
            if final:
                values |= {
                    "status": "imported",
                    "finished_at": now,
                    "notes": [[n.zh, n.en] for n in self.opened.notes + self.notes],
                    "layout": self._layout_json(),
                }
                session.execute(
                    update(Run)
                    .where(Run.id == self.run_id)
                    .values(status="succeeded", counts=counts.as_dict(), finished_at=now)
                )
            session.execute(update(FileImport).where(FileImport.id == self.import_id).values(**values))
        # only once committed: a rolled-back chunk leaves the counts as they were
        self.counts, self.consumed = counts, consumed
        self.skipped = []
        if not final and not self.analyzed:
            self._analyze()
        if self.progress and rows:
            self.progress(len(rows))

"""File import: an export file's rows → staged records → documents, once, under a lock.

The same tables as the REST importer (`records`, `documents`, `runs`), so the rest of the pipeline
treats a file like any other source. Guards: the file's SHA-256 fingerprint (the same bytes under
any name are imported once; a second attempt reports the first), a lock per (connection, kind)
(two people importing at once cannot collide), a snapshot of the bytes (a file saved while it is
read cannot mix two versions), and duplicate detection by content hash (a re-export adds only its
changed rows). Rows stream through in chunks: a file of up to `chunk_rows` data rows commits in
one transaction; a larger one commits chunk by chunk with a checkpoint and resumes after a crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.files.cells import CellError
from yecai.files.columns import KindSpec, alias_index, kind_spec, read_value
from yecai.files.layout import (
    MONEY_UNITS,
    SCAN_ROWS,
    Layout,
    find_layout,
    is_blank,
    is_footer,
    is_repeated_header,
)
from yecai.files.locks import STALE_AFTER, ImportLock, acquire, aware, heartbeat, release
from yecai.files.mappings import ColumnMapping, load_mapping
from yecai.files.problems import FileProblem, LockLost
from yecai.files.raw import RawRow
from yecai.files.reader import Note, OpenedFile, check_path, open_file, owner_note
from yecai.files.report import first_issues, write_report
from yecai.files.rows import FileContext, PreparedRow, RowIssue, document_columns, document_json, prepare_row
from yecai.store.db import Store
from yecai.store.file_tables import FileImport, FileImportIssue
from yecai.store.tables import Document, Record, Run

DEFAULT_CONNECTION = "file"
CHUNK_ROWS = 5000
STALE_EXPORT = dt.timedelta(days=7)
_QUERY_CHUNK = 500
BEIJING = dt.timezone(dt.timedelta(hours=8))  # exports are stamped in Beijing time

Progress = Callable[[int], None]


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


@dataclass(frozen=True, slots=True)
class PreviousImport:
    import_id: int
    run_id: int | None
    file_name: str
    finished_at: dt.datetime | None
    counts: dict[str, int]


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


def fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes: the file's identity, whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _snapshot(path: Path, target: Path) -> str:
    # Copy and hash in one pass: the rows imported are exactly the bytes fingerprinted, even if
    # someone saves the file again while it is being read.
    digest = hashlib.sha256()
    with path.open("rb") as source, target.open("wb") as copy:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            copy.write(chunk)
    shutil.copystat(path, target)
    return digest.hexdigest()


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


def _previous(
    session: Session, connection: str, kind: str, digest: str, sheet_filter: str
) -> FileImport | None:
    return session.scalars(
        select(FileImport).where(
            FileImport.connection == connection,
            FileImport.kind == kind,
            FileImport.fingerprint == digest,
            FileImport.sheet_filter == sheet_filter,
        )
    ).one_or_none()


def _previous_info(row: FileImport) -> PreviousImport:
    return PreviousImport(row.id, row.run_id, row.file_name, row.finished_at, dict(row.counts or {}))


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
        _failed_run(store, connection=connection, kind=kind, message=f"{path.name}: {exc}")
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
        snapshot = Path(folder) / path.name
        digest = _snapshot(path, snapshot)
        opened = open_file(snapshot)
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
                size=snapshot.stat().st_size,
                sheet=sheet,
                mapping=mapping,
                constants=values,
                constant_text=texts,
                lock=lock,
                chunk_rows=max(1, chunk_rows),
                progress=progress,
            )
            if lock.took_over is not None:
                job.notes.append(_takeover_note(lock))
            try:
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


def _failed_run(store: Store, *, connection: str, kind: str, message: str) -> None:
    """A file that could not be read is still a run: the console lists it with its reason."""
    now = dt.datetime.now(dt.UTC)
    try:
        with store.transaction() as session:
            session.add(
                Run(
                    kind="file_import",
                    connection=connection,
                    stream=kind,
                    status="failed",
                    counts={},
                    message=message[:4000],
                    started_at=now,
                    finished_at=now,
                )
            )
    except Exception:  # the store itself may be what failed; the FileProblem is what matters
        pass


def _takeover_note(lock: ImportLock) -> Note:
    old = lock.took_over
    assert old is not None
    since = old.heartbeat_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return Note(
        f"接管了 {old.holder} 的过期导入锁（导入 {old.file_name}，最后心跳 {since}）",
        f"took over the stale import lock of {old.holder} (importing {old.file_name}, last heartbeat {since})",
    )


@dataclass(slots=True)
class _Existing:
    id: int
    key: str
    content_hash: str
    status: str
    run_id: int | None


@dataclass(slots=True)
class _Job:
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

    @property
    def stream(self) -> str:
        return self.spec.kind

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
            previous = _previous(session, self.connection, self.spec.kind, self.digest, sheet_filter)
            if previous is not None and previous.status == "imported":
                return self._already(previous)
            if previous is not None:
                # An import of these bytes was interrupted (crash, Ctrl-C, lost lock): resume it.
                self.import_id, self.run_id = previous.id, previous.run_id
                self.resume_from = previous.rows_done
                self.counts = ImportCounts(**{k: int(v) for k, v in (previous.counts or {}).items()})
                self._check_settings(previous)
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
                first_rows.append(_first_text(head))
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
            for raw in chain(head, sheet.rows):
                if raw.number < layout.data_start:
                    continue
                if is_blank(raw):
                    continue
                if not raw.error and (is_footer(raw) or is_repeated_header(raw, layout)):
                    if data_index >= self.resume_from:
                        self.skipped.append(_skipped(layout, raw))
                    continue
                data_index += 1
                if data_index <= self.resume_from:
                    continue
                if len(chunk) >= self.chunk_rows:
                    self._commit(chunk, data_index - 1, final=False)
                    chunk = []
                chunk.append(_prepare(context, layout, raw))
        if self.import_id is None:
            raise self._nothing(seen_rows, first_rows)
        self._commit(chunk, data_index, final=True)
        return self._result("imported")

    # -- starting, resuming, finishing ------------------------------------------------------

    def abandon(self, exc: BaseException) -> None:
        """Mark the run interrupted (resumable from the checkpoint) or failed, best effort."""
        if self.run_id is None:
            return
        status = "interrupted" if isinstance(exc, KeyboardInterrupt | LockLost) else "failed"
        message = f"{type(exc).__name__}: {exc}"[:4000]
        try:
            with self.store.transaction() as session:
                session.execute(
                    update(Run)
                    .where(Run.id == self.run_id)
                    .values(
                        status=status,
                        message=message,
                        counts=self.counts.as_dict(),
                        finished_at=dt.datetime.now(dt.UTC),
                    )
                )
        except Exception:  # the database may be what failed; the original error is raised anyway
            pass

    def _settings(self) -> dict[str, Any]:
        return {"template": self.mapping.name if self.mapping else None, "constants": self.constant_text}

    def _check_settings(self, previous: FileImport) -> None:
        before = (previous.layout or {}).get("settings")
        if before is not None and before != self._settings():
            raise FileProblem(
                "resume_settings",
                f"该文件上次导入中断（已完成 {previous.rows_done} 行），当时的设置是 {before}；请用相同设置继续",
                f"the last import of this file was interrupted after {previous.rows_done} rows with settings "
                f"{before}; continue it with the same settings",
            )

    def _layout(self, name: str, head: list[RawRow], merged: list[Any], offset: int) -> Layout | None:
        mapping = self.mapping
        index = alias_index(self.spec, mapping.columns if mapping else None)
        layout = find_layout(
            name,
            head,
            merged,
            offset,
            self.spec,
            index,
            header_row=mapping.header_row if mapping else None,
            header_height=mapping.header_height if mapping else None,
        )
        if layout is None:
            return None
        self.layouts.append(layout)
        for zh, en in layout.notes:
            self.notes.append(Note(f"工作表 {name}：{zh}", f"sheet {name}: {en}"))
        if layout.unit in ("万元", "千元"):
            for column in layout.columns:
                if column.scale is None:
                    column.scale = MONEY_UNITS[layout.unit]
            self.notes.append(
                Note(
                    f"工作表 {name} 标明 单位：{layout.unit}，金额已换算为元",
                    f"sheet {name} states its unit as {layout.unit}; amounts were converted to yuan",
                )
            )
        missing = [
            item.header
            for item in self.spec.fields
            if item.required
            and item.name not in layout.fields
            and item.name not in self.constants
            and not (item.name == "project_code" and layout.title_project)
        ]
        if missing:
            self.notes.append(
                Note(
                    f"工作表 {name} 缺少必填列：{'、'.join(missing)}（可用 --project 或列映射模板补充）",
                    f"sheet {name} lacks required columns: {', '.join(missing)} "
                    "(supply them with --project or a column template)",
                )
            )
        self._export_age(layout)
        return layout

    def _export_age(self, layout: Layout) -> None:
        stamp = layout.exported_at
        if stamp is None:
            return
        age = dt.datetime.now(dt.UTC) - stamp
        if age > STALE_EXPORT:
            self.notes.append(
                Note(
                    f"该文件导出于 {stamp:%Y-%m-%d %H:%M}，已过去 {age.days} 天；导出之后的变更不在其中",
                    f"the file was exported on {stamp:%Y-%m-%d %H:%M}, {age.days} days ago; "
                    "changes since then are not in it",
                )
            )
        with self.store.transaction() as session:
            newer = session.scalars(
                select(FileImport)
                .where(
                    FileImport.connection == self.connection,
                    FileImport.kind == self.spec.kind,
                    FileImport.status == "imported",
                    FileImport.exported_at > stamp.astimezone(dt.UTC),
                )
                .order_by(FileImport.exported_at.desc())
                .limit(1)
            ).one_or_none()
            if newer is not None and newer.exported_at is not None:
                when = aware(newer.exported_at).astimezone(BEIJING)
                self.notes.append(
                    Note(
                        f"已导入过更新的导出 {newer.file_name}（导出于 {when:%Y-%m-%d %H:%M}，运行 "
                        f"{newer.run_id}）；本文件较旧，其中改动过的行会作为新版本导入，请确认",
                        f"a newer export, {newer.file_name} (exported {when:%Y-%m-%d %H:%M}, run "
                        f"{newer.run_id}), was already imported; rows changed since this older file will be "
                        "imported as new versions: please check",
                    )
                )

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
        return FileContext(self.spec, self.digest, self.path.name, constants, texts)

    def _layout_json(self) -> dict[str, Any]:
        return {"sheets": [layout.describe() for layout in self.layouts], "settings": self._settings()}

    def _start(self) -> None:
        exported = next((layout.exported_at for layout in self.layouts if layout.exported_at), None)
        if exported is not None:
            exported = exported.astimezone(dt.UTC)  # SQLite keeps no offset: store UTC like every stamp
        with self.store.transaction() as session:
            run = Run(
                kind="file_import",
                connection=self.connection,
                stream=self.spec.kind,
                status="running",
                counts={},
            )
            session.add(run)
            session.flush()
            record = FileImport(
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
                run_id=run.id,
                imported_by=self.lock.holder[:200],
            )
            session.add(record)
            session.flush()
            self.import_id, self.run_id = record.id, run.id

    def _touch_layout(self) -> None:
        first = not self.resumed_note
        self.resumed_note = True
        with self.store.transaction() as session:
            session.execute(
                update(FileImport).where(FileImport.id == self.import_id).values(layout=self._layout_json())
            )
            if self.resume_from and self.run_id is not None:
                session.execute(
                    update(Run).where(Run.id == self.run_id).values(status="running", finished_at=None)
                )
        if self.resume_from and first:
            self.notes.append(
                Note(
                    f"上次导入中断，从第 {self.resume_from + 1} 个数据行继续",
                    f"the last import was interrupted; resumed at data row {self.resume_from + 1}",
                )
            )

    def _already(self, previous: FileImport) -> ImportResult:
        info = _previous_info(previous)
        self.import_id, self.run_id = previous.id, previous.run_id
        when = previous.finished_at or previous.started_at
        stamp = when.replace(tzinfo=when.tzinfo or dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M")
        renamed = previous.file_name != self.path.name
        as_name_zh = f"（当时文件名 {previous.file_name}，内容完全相同）" if renamed else ""
        as_name_en = f" (then named {previous.file_name}; the bytes are identical)" if renamed else ""
        self.notes.append(
            Note(
                f"文件 {self.path.name} 已于 {stamp} 作为运行 {previous.run_id} 导入{as_name_zh}，本次未导入任何行",
                f"{self.path.name} was already imported on {stamp} as run {previous.run_id}{as_name_en}; "
                "nothing was imported this time",
            )
        )
        result = self._result("already_imported")
        result.previous = info
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

    def _commit(self, rows: list[PreparedRow], rows_done: int, *, final: bool) -> None:
        with self.store.transaction() as session:
            heartbeat(session, self.lock)
            counts = ImportCounts(**self.counts.as_dict())
            consumed = Counter(self.consumed)
            self._store_rows(session, rows, counts, consumed)
            if self.skipped:
                # listed in the report so that nobody has to trust the footer detection blindly
                counts.skipped += len(self.skipped)
                session.execute(
                    insert(FileImportIssue.__table__),
                    [_issue(self.import_id, "skipped", issue, None) for issue in self.skipped],
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
        if self.progress and rows:
            self.progress(len(rows))

    def _existing(self, session: Session, keys: list[str]) -> dict[str, list[_Existing]]:
        found: dict[str, list[_Existing]] = {}
        for start in range(0, len(keys), _QUERY_CHUNK):
            part = keys[start : start + _QUERY_CHUNK]
            for row in session.execute(
                select(Record.id, Record.source_key, Record.content_hash, Record.status, Record.run_id).where(
                    Record.connection == self.connection,
                    Record.stream == self.stream,
                    Record.source_key.in_(part),
                )
            ):
                found.setdefault(row.source_key, []).append(_Existing(*row))
        return found

    def _earlier_rows(self, session: Session, hashes: list[str]) -> Counter[tuple[str, str]]:
        """Keyless rows of other imports by (content hash, status): what a re-export may repeat."""
        found: Counter[tuple[str, str]] = Counter()
        for start in range(0, len(hashes), _QUERY_CHUNK):
            part = hashes[start : start + _QUERY_CHUNK]
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

    def _store_rows(
        self,
        session: Session,
        rows: list[PreparedRow],
        counts: ImportCounts,
        consumed: Counter[tuple[str, str]],
    ) -> None:
        existing = self._existing(session, sorted({r.key for r in rows if r.keyed}))
        earlier = self._earlier_rows(session, sorted({r.content_hash for r in rows if not r.keyed}))
        in_chunk: dict[str, tuple[str, int]] = {}  # key → (content hash, row) in this chunk
        new: list[PreparedRow] = []
        revived: list[tuple[PreparedRow, int]] = []
        issues: list[dict[str, Any]] = []

        def reject(row: PreparedRow, record_id: int | None) -> None:
            counts.rejected += 1
            issues.extend(_issue(self.import_id, "error", i, record_id) for i in row.errors)

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
                seen = self._seen_in_file(session, existing.get(row.key, []), row)
            if seen is not None:
                digest, number = seen
                if digest == row.content_hash:
                    counts.duplicate += 1
                    issues.append(_issue(self.import_id, "warning", _repeat(row, number), None))
                    counts.warnings += 1
                else:
                    row.errors.append(_conflict(row, number, self.spec))
                    row.document = None
                    reject(row, None)
                continue
            in_chunk[row.key] = (row.content_hash, row.row)
            match = next((e for e in existing.get(row.key, []) if e.content_hash == row.content_hash), None)
            if match is None:
                new.append(row)
            elif not row.valid:
                reject(row, match.id)
            elif match.status == "valid":
                counts.duplicate += 1
            else:
                # stored as invalid by an earlier import, valid now (rules or constants changed)
                revived.append((row, match.id))
        self._insert(session, new, revived, counts, issues)

    def _seen_in_file(
        self, session: Session, found: list[_Existing], row: PreparedRow
    ) -> tuple[str, int] | None:
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
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        ids: list[int] = []
        if new:
            params = [
                {
                    "connection": self.connection,
                    "stream": self.stream,
                    "source_key": row.key,
                    "content_hash": row.content_hash,
                    "payload": row.payload,
                    "cursor_value": None,
                    "status": "valid" if row.valid else "invalid",
                    "issues": None if row.valid else [_record_issue(i) for i in row.errors],
                    "run_id": self.run_id,
                    "received_at": now,
                }
                for row in new
            ]
            # Core inserts on the tables (not ORM bulk): no objects, ids back in parameter order
            table = Record.__table__
            ids = list(
                session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), params)
            )
        documents: list[dict[str, Any]] = []
        for row, record_id in chain(zip(new, ids, strict=True), revived):
            if not row.valid:
                reject_issues = [_issue(self.import_id, "error", i, record_id) for i in row.errors]
                issues.extend(reject_issues)
                counts.rejected += 1
                continue
            counts.imported += 1
            counts.warnings += len(row.warnings)
            issues.extend(_issue(self.import_id, "warning", i, record_id) for i in row.warnings)
            documents.append(
                {
                    "record_id": record_id,
                    "connection": self.connection,
                    "kind": self.spec.model.kind,
                    "source_key": row.key,
                    "version": row.content_hash,
                    "data": document_json(row.document),
                    "created_at": now,
                    **document_columns(row.document),
                }
            )
        if revived:
            for _, record_id in revived:
                session.execute(
                    update(Record).where(Record.id == record_id).values(status="valid", issues=None)
                )
        if documents:
            session.execute(insert(Document.__table__), documents)
        if issues:
            session.execute(insert(FileImportIssue.__table__), issues)


def _prepare(context: FileContext, layout: Layout, raw: RawRow) -> PreparedRow:
    if raw.error is not None:
        return _broken(context, layout, raw, raw.error)
    try:
        return prepare_row(context, layout, raw.number, raw.cells)
    except Exception as exc:  # a row must never stop the file: report it and go on
        return _broken(
            context,
            layout,
            raw,
            (
                f"无法处理此行（{type(exc).__name__}: {exc}）",
                f"the row could not be processed ({type(exc).__name__}: {exc})",
            ),
        )


def _broken(context: FileContext, layout: Layout, raw: RawRow, error: tuple[str, str]) -> PreparedRow:
    place = hashlib.sha256(f"{context.fingerprint}\n{layout.sheet}\n{raw.number}".encode()).hexdigest()
    payload = jsonutil.dumps(
        {
            "origin": {
                "file": context.file_name,
                "fingerprint": context.fingerprint,
                "sheet": layout.sheet,
                "row": raw.number,
            },
            "cells": {f"({i + 1})": str(c) for i, c in enumerate(raw.cells) if c is not None},
            "error": list(error),
        },
        canonical=True,
    )
    return PreparedRow(
        sheet=layout.sheet,
        row=raw.number,
        key=f"row:{place[:32]}",
        keyed=False,
        content_hash=hashlib.sha256(payload.encode("utf-8")).hexdigest(),
        payload=payload,
        document=None,
        errors=[RowIssue(layout.sheet, raw.number, "-", "-", "", error[0], error[1])],
    )


def _issue(import_id: int | None, severity: str, issue: RowIssue, record_id: int | None) -> dict[str, Any]:
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
    item = spec.spec(spec.key_field)
    what = (
        "、".join(spec.spec(n).header for n in spec.natural_key) if row.key.startswith("nk:") else item.header
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


def _skipped(layout: Layout, raw: RawRow) -> RowIssue:
    text = " | ".join(str(c).strip() for c in raw.cells if c is not None and str(c).strip())[:200]
    return RowIssue(
        layout.sheet,
        raw.number,
        "-",
        "-",
        text,
        "已跳过：合计、备注或重复的表头行，不是数据",
        "skipped: a total, note or repeated header row, not data",
    )


def _first_text(rows: list[RawRow]) -> str:
    for row in rows:
        texts = [str(c).strip() for c in row.cells if c is not None and str(c).strip()]
        if texts:
            return " | ".join(texts)[:120]
    return ""

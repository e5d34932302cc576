"""Open an export file and hand out its sheets as lazily iterated rows of cells.

xlsx/xlsm/xls/ods go through python-calamine; CSV/TSV/TXT line by line through `text` (bounded
lines, each decoded on its own, the csv module with bounded lookahead) after the encoding and the
delimiter are detected; the "xls" that many Chinese systems export as an HTML table is streamed
by `html_table`. The format is decided by the bytes, not the name. Every way a file
can be unreadable (missing, a directory, an Excel lock file, a wrong type, corrupt, password-
protected, empty) becomes a `FileProblem` with a message in Chinese and English.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_calamine

from yecai.files import preflight, text, xlsx_stream
from yecai.files.encoding import Detected, detect_encoding
from yecai.files.html_table import HtmlTable
from yecai.files.layout import SCAN_ROWS
from yecai.files.problems import FileProblem
from yecai.files.raw import Merge, RawRow
from yecai.files.text import detect_delimiter

EXCEL_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".ods", ".et"}
TEXT_EXTENSIONS = {".csv", ".txt", ".tsv"}
ZIP_WORKBOOKS = {".xlsx", ".xlsm", ".ods"}  # always a zip package: any other content is no workbook
BINARY_SAMPLE = 1 << 16  # bytes looked at to tell text from binary data
BINARY_SHARE = 0.02  # more control bytes than this (tab, CR, LF aside) and it is not text
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"
# What `yecai import` and POST /api/v1/imports both accept: one list, so the two never disagree.
IMPORT_EXTENSIONS: frozenset[str] = frozenset(EXCEL_EXTENSIONS | TEXT_EXTENSIONS)
EXTENSIONS = IMPORT_EXTENSIONS
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


@dataclass(slots=True)
class Note:
    """A file-level remark worth telling the user (mislabelled type, file open in Excel …)."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(slots=True)
class Sheet:
    """One sheet of an opened file: name, merged ranges and a one-shot row iterator."""

    name: str
    merged: list[Merge]
    col_offset: int  # absolute column of cells[0] (calamine starts rows at the first used column)
    rows: Iterator[RawRow]


@dataclass(slots=True)
class OpenedFile:
    path: Path
    file_format: str  # xlsx | xls | ods | csv | html
    encoding: Detected | None = None
    delimiter: str | None = None
    notes: list[Note] = field(default_factory=list)
    _workbook: Any = None  # calamine's; None for text, and for an xlsx calamine must not open
    _stream: xlsx_stream.StreamedWorkbook | None = None  # for sheets too large or too odd for calamine
    _preflight: preflight.Preflight | None = None
    _sheet_names: list[str] = field(default_factory=list)
    _text_rows: Iterator[RawRow] | None = None
    _text_merged: list[Merge] = field(default_factory=list)

    @property
    def sheet_names(self) -> list[str]:
        return list(self._sheet_names)

    def sheet(self, name: str) -> Sheet:
        if self._text_rows is not None:
            return Sheet(name, list(self._text_merged), 0, self._text_rows)
        stream = self._stream
        member = stream.member(name) if stream is not None else None
        checked = self._preflight
        if checked is not None and not checked.calamine_may_read(member):
            if member is not None or not checked.only_formulas_in_the_way(member):
                # odd, too large a grid, formulas without results to name, or calamine cannot be
                # trusted with the workbook at all
                return self._streamed(name)
            # formulas without results in a workbook the streaming reader does not understand:
            # calamine reads them as empty cells; say so once, as the cells cannot be named
            note = Note(
                "工作簿中有公式单元格没有保存计算结果，这些单元格按空值读取；请在 Excel 中打开并保存后重新导入",
                "the workbook has formula cells saved without their results; they were read as empty cells: "
                "open the file in Excel, save it and import it again",
            )
            if note not in self.notes:
                self.notes.append(note)
        assert self._workbook is not None  # a zip without a stream has passed the preflight whole
        try:
            data = self._workbook.get_sheet_by_name(name)
        except python_calamine.CalamineError as exc:
            if member is not None:
                # an xlsx that calamine cannot read: row by row, the damage becomes one bad row
                return self._streamed(name)
            raise _corrupt(self.path, exc) from None
        start = data.start
        merged = [m for m in data.merged_cell_ranges or [] if m[0][0] < xlsx_stream.MERGE_ROWS]
        return Sheet(name, merged[: xlsx_stream.MAX_MERGES], start[1] if start else 0, _calamine_rows(data))

    def _streamed(self, name: str) -> Sheet:
        stream = self._stream
        if stream is None or stream.member(name) is None:
            raise _problem(
                "corrupt",
                self.path,
                f"工作表 {name} 无法安全读取（结构异常或范围过大），且该文件不能逐行读取；请在 Excel 中另存为 xlsx 后再导入",
                f"sheet {name} cannot be read safely (odd structure or too large a grid) and the file cannot "
                "be read row by row; save it as xlsx in Excel and import it again",
            )
        member = stream.member(name)
        scan = self._preflight.sheets.get(member) if self._preflight is not None and member else None
        merged = scan.merges if scan is not None and scan.merges is not None else stream.merged(name)
        return Sheet(name, list(merged), 0, stream.rows(name))

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _calamine_rows(data: Any) -> Iterator[RawRow]:
    # python-calamine pads the rows above the first used one, so the index is the Excel row.
    for index, cells in enumerate(data.iter_rows()):
        yield RawRow(index + 1, [None if cell == "" else cell for cell in cells])


def _problem(code: str, path: Path, zh: str, en: str) -> FileProblem:
    return FileProblem(code, zh, en, path=str(path))


def _corrupt(path: Path, exc: Exception) -> FileProblem:
    return _problem(
        "corrupt",
        path,
        f"文件 {path.name} 已损坏或不是有效的 Excel 工作簿（{exc}）；请重新导出",
        f"{path.name} is damaged or not a valid Excel workbook ({exc}); export it again",
    )


def check_path(path: Path) -> None:
    """Refuse what cannot be an export file before reading a byte of it."""
    name = path.name
    if not path.exists():
        hint = ""
        if path.parent.exists():
            similar = sorted(p.name for p in path.parent.glob(f"*{path.suffix}"))[:5]
            hint = "、".join(similar)
        raise _problem(
            "missing",
            path,
            f"找不到文件 {path}" + (f"；同目录下有：{hint}" if hint else "，请检查路径和文件名"),
            f"file {path} does not exist"
            + (f"; that folder has: {hint}" if hint else "; check the path and name"),
        )
    if path.is_dir():
        raise _problem(
            "directory",
            path,
            f"{path} 是文件夹，不是文件；请指定其中的一个导出文件",
            f"{path} is a folder, not a file; name one export file inside it",
        )
    if name.startswith("~$"):
        raise _problem(
            "owner_file",
            path,
            f"{name} 是 Excel 打开文件时生成的临时锁文件，不是数据；请导入 {name[2:]} 本身",
            f"{name} is the lock file Excel creates while a workbook is open, not data; import the workbook itself",
        )
    if path.suffix.lower() not in EXTENSIONS:
        raise _problem(
            "extension",
            path,
            f"不支持的文件类型 {path.suffix or '（无扩展名）'}：{name}；支持 xlsx、xls、ods、csv、txt",
            f"unsupported file type {path.suffix or '(no extension)'}: {name}; use xlsx, xls, ods, csv or txt",
        )
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise _problem(
            "unreadable",
            path,
            f"无法读取文件 {name}：{exc.strerror}（可能没有权限或被占用）",
            f"cannot read {name}: {exc.strerror} (no permission, or the file is in use)",
        ) from None
    if size == 0:
        raise _problem("empty_file", path, f"文件 {name} 是空的（0 字节）", f"{name} is empty (0 bytes)")


def owner_note(path: Path) -> Note | None:
    """Excel's `~$name` next to the file means someone has it open, maybe editing right now."""
    for candidate in (path.with_name("~$" + path.name), path.with_name("~$" + path.name[2:])):
        if candidate.exists() and candidate != path:
            who = ""
            try:
                raw = candidate.read_bytes()
                length = raw[0]
                who = raw[1 : 1 + length].decode("gb18030", errors="replace").strip()
            except (OSError, IndexError):
                pass
            by = f"（{who}）" if who else ""
            return Note(
                f"文件 {path.name} 正被他人在 Excel 中打开{by}，可能还在编辑；导入的是此刻保存的内容",
                f"{path.name} is open in Excel{f' by {who}' if who else ''} and may still be being edited; "
                "the content saved right now is what is imported",
            )
    return None


def sniff_format(path: Path) -> str:
    """xlsx (a zip), ole (xls, or an encrypted workbook), html, or text — from the first bytes."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")) or b"<table" in text[:1024]:
        return "html"
    return "text"


def _reads_as_text(path: Path) -> bool:
    """Whether the file is text (a renamed CSV or TSV) rather than binary data that some codec accepts."""
    try:
        detected = detect_encoding(path)
    except FileProblem:
        return False
    if detected.codec.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
        return True  # Excel's "Unicode text": NUL bytes are half of its ASCII
    with path.open("rb") as handle:
        head = handle.read(BINARY_SAMPLE)
    # text holds hardly any control bytes but tab and line breaks; random or binary data about 11 %
    controls = sum(head.count(bytes([b])) for b in CONTROL_BYTES)
    return controls <= len(head) * BINARY_SHARE


def _not_a_workbook(path: Path, *, text: bool) -> FileProblem:
    suffix = path.suffix.lower()
    what = {".ods": "ODS 电子表格文件", ".et": "WPS 表格文件"}.get(suffix, "Excel 文件")
    what_en = "ODS spreadsheet" if suffix == ".ods" else ("WPS spreadsheet" if suffix == ".et" else "Excel")
    if text:
        inside = "内容是纯文本，不是工作簿；如果它是 CSV，请把扩展名改为 .csv 后再导入"
        inside_en = "it holds plain text, not a workbook; if it is a CSV, rename it to .csv and import it"
    else:
        inside = "内容既不是工作簿，也不是文本（文件已损坏、未下载完整，或根本不是表格文件）；请用 Excel 或 WPS 打开确认，或从系统重新导出"
        inside_en = (
            "it holds neither a workbook nor text (the file is damaged, was not downloaded completely, or "
            "is no spreadsheet at all); open it in Excel or WPS to check, or export it again"
        )
    return _problem(
        "corrupt",
        path,
        f"文件 {path.name} 不是有效的 {what}（或已损坏）：{inside}",
        f"{path.name} is not a valid {what_en} file (or it is damaged): {inside_en}",
    )


def _encrypted(path: Path) -> bool:
    # A password-protected xlsx is an OLE container holding an "EncryptedPackage" stream.
    with path.open("rb") as handle:
        tail = b""
        while chunk := handle.read(1 << 20):
            if ENCRYPTED in tail + chunk:
                return True
            tail = chunk[-len(ENCRYPTED) :]
    return False


def _password(path: Path) -> FileProblem:
    return _problem(
        "password",
        path,
        f"工作簿 {path.name} 设有打开密码，无法读取；请在 Excel 中取消密码（文件 → 信息 → 保护工作簿）后另存再导入",
        f"{path.name} is password-protected and cannot be read; remove the password in Excel "
        "(File → Info → Protect Workbook), save, and import again",
    )


def open_file(path: Path) -> OpenedFile:
    """Open an export for reading; raises FileProblem when nothing of it can be read."""
    check_path(path)
    kind = sniff_format(path)
    suffix = path.suffix.lower()
    opened: OpenedFile
    if kind in ("zip", "ole"):
        if kind == "ole" and _encrypted(path):
            raise _password(path)
        opened = _open_workbook(path, kind)
    elif kind == "html":
        opened = _open_html(path)
    elif suffix in ZIP_WORKBOOKS:
        # an xlsx/ods is a zip, always: text under that name is no workbook (a renamed CSV at best),
        # and "cannot tell the encoding" would send the user after the wrong problem
        raise _not_a_workbook(path, text=_reads_as_text(path))
    elif suffix in EXCEL_EXTENSIONS:
        # many systems export tab-separated text named .xls: read it; but bytes that are not text
        # either are a broken or foreign file, not a CSV with an odd encoding
        if not _reads_as_text(path):
            raise _not_a_workbook(path, text=False)
        opened = _open_text(path)
    else:
        opened = _open_text(path)
    if suffix in EXCEL_EXTENSIONS and opened.file_format in ("csv", "html"):
        opened.notes.append(
            Note(
                f"文件扩展名为 {suffix}，但内容是{'网页表格' if kind == 'html' else '文本'}，已按实际内容读取",
                f"the file is named {suffix} but holds {'an HTML table' if kind == 'html' else 'text'}; "
                "it was read as what it is",
            )
        )
    elif suffix in TEXT_EXTENSIONS and kind in ("zip", "ole"):
        opened.notes.append(
            Note(
                f"文件扩展名为 {suffix}，但内容是 Excel 工作簿，已按工作簿读取",
                f"the file is named {suffix} but is an Excel workbook; it was read as one",
            )
        )
    note = owner_note(path)
    if note:
        opened.notes.append(note)
    return opened


def _open_workbook(path: Path, kind: str) -> OpenedFile:
    """A workbook, bounded first by `preflight`: calamine reads what it safely can, the streaming
    reader every xlsx sheet too large or too odd for it (`OpenedFile.sheet` decides per sheet)."""
    suffix = path.suffix.lower()
    # bounded before calamine sees a byte: what it would abort on is refused or read row by row
    checked = preflight.inspect(path, kind)
    stream = None
    if kind == "zip":  # an xlsx named .xls or .et too (an ods is simply not streamable)
        try:
            stream = xlsx_stream.StreamedWorkbook(str(path), checked.limits)
        except (xlsx_stream.NotStreamable, zipfile.BadZipFile, OSError):
            stream = None  # calamine reads it; only memory use differs
    if not checked.calamine:
        if stream is None:
            raise _problem(
                "corrupt",
                path,
                f"文件 {path.name} 的共享字符串表声明的条数远超实际，且无法逐行读取；请在 Excel 中另存后再导入",
                f"{path.name} declares far more shared strings than it holds and cannot be read row by row; "
                "save it again in Excel and import it",
            )
        names = list(stream.visible) or list(stream.sheets)
        return OpenedFile(path, "xlsx", _stream=stream, _sheet_names=names, _preflight=checked)
    try:
        if (kind == "zip" and suffix in (".xlsx", ".xlsm", ".ods")) or (kind == "ole" and suffix == ".xls"):
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        else:
            # Name and content disagree: let calamine decide by the content.
            with path.open("rb") as handle:
                workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(handle.read()))
    except python_calamine.PasswordError:
        if stream is not None:
            stream.close()
        raise _password(path) from None
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        if stream is not None:
            stream.close()
        raise _corrupt(path, exc) from None
    file_format = "xls" if kind == "ole" else ("ods" if suffix == ".ods" else "xlsx")
    names = [
        meta.name
        for meta in workbook.sheets_metadata
        if meta.visible == python_calamine.SheetVisibleEnum.Visible
        and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
    ] or list(workbook.sheet_names)
    return OpenedFile(
        path, file_format, _workbook=workbook, _stream=stream, _sheet_names=names, _preflight=checked
    )


def _open_text(path: Path) -> OpenedFile:
    detected = detect_encoding(path)
    name = text.codec_name(detected.label)
    sample, bad = text.sample_lines(text.decoded_lines(path, detected.codec, name))
    if not bad and not any(line.strip() for line in sample):
        raise _problem("empty", path, f"文件 {path.name} 没有任何内容", f"{path.name} has no content")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else detect_delimiter(sample)
    return OpenedFile(
        path,
        "csv",
        encoding=detected,
        delimiter=delimiter,
        _sheet_names=[path.stem],
        _text_rows=text.csv_rows(text.decoded_lines(path, detected.codec, name), delimiter, path.name),
    )


def _open_html(path: Path) -> OpenedFile:
    detected = detect_encoding(path)
    table = HtmlTable(path, detected.codec, text.codec_name(detected.label))
    # Layout reads the merged ranges of the rows it scans when the sheet is handed out: read those
    # rows now; the rest stream as the importer asks for them.
    table.prefetch(SCAN_ROWS + 1)
    if not table.started:
        if table.broken is not None:
            raise _corrupt(path, ValueError(table.broken.error[1] if table.broken.error else ""))
        raise _problem("empty", path, f"文件 {path.name} 中没有表格", f"{path.name} holds no table to import")
    return OpenedFile(
        path,
        "html",
        encoding=detected,
        _sheet_names=[path.stem],
        _text_rows=table.rows(),
        _text_merged=table.merged,
    )

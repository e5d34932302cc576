"""Bound a workbook before any parser sees it: zip bombs, grids too large for calamine, crafted parts.

python-calamine aborts the whole process (a Rust allocation failure cannot be caught) on a few KB
of workbook that declares a huge grid, and it trusts a zip member's declared size. So before a
workbook is handed to calamine (or to the streaming reader) it is inspected here, cheaply:

- a zip (xlsx, xlsm, ods): the central directory's entry count, the total of the declared sizes,
  then every member inflated for real by our own reader (never trusting the header: a member that
  inflates past what it declares is refused, and so is one that inflates more than `ratio`-fold or
  pushes the total past the bound); every XML part calamine or we parse is watched for a DTD and for
  a single token too long for expat (`bounds.XmlGuard`); each worksheet gets one fast pass
  (`sheet_scan`); the shared strings are counted and their declared count checked (calamine
  reserves room for it); an ods's content.xml is measured with its repeats (`ods_scan`).
- an OLE compound file (xls): every sheet's DIMENSIONS record (`xls_scan`).

What must never reach a parser is refused whole with a `FileProblem` (too_large, bomb, unsafe_xml,
corrupt). The rest becomes a verdict per worksheet: calamine (the fast path) only for a clean sheet
whose grid from A1 is at most `cells` and whose XML is at most the streaming threshold; the
streaming reader, which never allocates a grid and turns each oddity into one bad row, for every
other. All bounds come from `bounds.Limits` (YECAI_IMPORT_MAX_* environment variables).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import ParseError

from yecai.files import xlsx_stream
from yecai.files.bounds import Limits, XmlGuard, XmlStuck
from yecai.files.ods_scan import OdsScanner
from yecai.files.problems import FileProblem
from yecai.files.sheet_scan import SheetScan, SheetScanner
from yecai.files.xls_scan import BIFF_COLUMNS, BIFF_ROWS, XlsDamaged, sheet_dimensions

RATIO_FLOOR = 1 << 20  # members smaller than this inflate as they like: a bomb needs size
BLOCK = 4 << 20  # inflated bytes handed to the scanners at a time
READ = 64 << 10  # compressed bytes read at a time (a 64 KB deflate piece inflates to ≤ 66 MB)
_ROOT = re.compile(rb"<(?![?!])(?:([\w.-]+):)?([\w.-]+)")
_UNIQUE = re.compile(rb'\suniqueCount="([0-9]{1,20})"')
_PARTS = {"workbook", "styleSheet", "Relationships", "Types", "document-styles", "document-meta"}


@dataclass(slots=True)
class Preflight:
    """The verdict on one workbook: which worksheets calamine may read."""

    container: str  # zip | ole
    limits: Limits
    sheets: dict[str, SheetScan] = field(default_factory=dict)  # worksheet zip member → its scan
    calamine: bool = True  # False: a workbook-wide part would make calamine over-allocate

    def fast(self, scan: SheetScan, *, formulas: bool = True) -> bool:
        """Calamine may read this sheet: clean, its grid bounded, its XML under the threshold, and
        (unless `formulas` is False) no formula cell without its saved result."""
        return (
            scan.clean
            and scan.size <= xlsx_stream.STREAM_BYTES
            and scan.area <= self.limits.cells
            and not (formulas and scan.uncached)
        )

    def only_formulas_in_the_way(self, member: str | None) -> bool:
        """Calamine may read the sheet (every sheet, for None) but for formulas without results."""
        if self.container != "zip" or not self.calamine:
            return False
        scans = list(self.sheets.values()) if member is None else [self.sheets.get(member)]
        return all(scan is not None and self.fast(scan, formulas=False) for scan in scans)

    def calamine_may_read(self, member: str | None) -> bool:
        """For a zip: may calamine read the sheet in `member` (None: every worksheet, when unknown)?"""
        if self.container != "zip":
            return True
        if not self.calamine:
            return False
        if member is None:
            return all(self.fast(scan) for scan in self.sheets.values())
        scan = self.sheets.get(member)
        return scan is not None and self.fast(scan)


def inspect(path: Path, kind: str, limits: Limits | None = None) -> Preflight:
    """Inspect a workbook (`kind` zip or ole, as sniffed); raises FileProblem for what is refused."""
    limits = limits or Limits.from_env()
    if kind == "zip":
        return _Zip(path, limits).run()
    _check_xls(path, limits)
    return Preflight("ole", limits)


def _problem(code: str, path: Path, zh: str, en: str) -> FileProblem:
    return FileProblem(code, f"文件 {path.name}：{zh}", f"{path.name}: {en}", path=str(path))


def _corrupt(path: Path, why: str, why_en: str | None = None) -> FileProblem:
    return FileProblem(
        "corrupt",
        f"文件 {path.name} 已损坏或不是有效的 Excel 工作簿（{why}）；请重新导出",
        f"{path.name} is damaged or not a valid Excel workbook ({why if why_en is None else why_en}); "
        "export it again",
        path=str(path),
    )


# -- xls ----------------------------------------------------------------------------------------


def _check_xls(path: Path, limits: Limits) -> None:
    try:
        found = sheet_dimensions(path)
    except XlsDamaged as exc:
        raise _corrupt(path, str(exc)) from None
    except OSError as exc:
        raise _corrupt(path, exc.strerror or str(exc)) from None
    for number, dims in enumerate(found, start=1):
        if not dims.within_format or dims.area > limits.cells:
            raise _corrupt(
                path,
                f"第 {number} 个工作表声明 {dims.last_row:,} 行 × {dims.last_col:,} 列，超出 xls 格式的 "
                f"{BIFF_ROWS:,} 行 × {BIFF_COLUMNS} 列 / sheet {number} declares {dims.last_row:,} rows × "
                f"{dims.last_col:,} columns, beyond the {BIFF_ROWS:,} rows × {BIFF_COLUMNS} columns of the xls format",
            )


# -- zip ----------------------------------------------------------------------------------------


class _Broken(Exception):
    """A member's compressed data cannot be inflated whole (truncated, bad deflate data, bad CRC)."""


def _central_entries(path: Path) -> int | None:
    """The entry count of the end-of-central-directory record (zip64 too), before zipfile reads it all."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65_557))
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return None  # zipfile says what is wrong
        count = struct.unpack_from("<H", tail, at + 10)[0]
        locator = at - 20
        if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
            handle.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
            record = handle.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                count = struct.unpack_from("<Q", record, 32)[0]
        return count


def _inflate(raw: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's bytes as really inflated, in blocks of about BLOCK; raises _Broken."""
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _Broken("no local file header")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    raw.seek(info.header_offset + 30 + name_length + extra_length)
    left = info.compress_size
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    crc, held, waiting = 0, 0, []
    try:
        while left > 0:
            piece = raw.read(min(READ, left))
            if not piece:
                raise _Broken("the compressed data ends early")
            left -= len(piece)
            out = inflater.decompress(piece, BLOCK) if inflater else piece
            while True:
                if out:
                    crc = zlib.crc32(out, crc)
                    waiting.append(out)
                    held += len(out)
                    if held >= BLOCK:
                        yield b"".join(waiting)
                        waiting, held = [], 0
                if inflater is None or not inflater.unconsumed_tail:
                    break
                out = inflater.decompress(inflater.unconsumed_tail, BLOCK)
        if inflater is not None and info.compress_size:
            out = inflater.flush()
            if out:
                crc = zlib.crc32(out, crc)
                waiting.append(out)
            if not inflater.eof:
                raise _Broken("the deflate stream does not end")
    except zlib.error as exc:
        raise _Broken(f"deflate data: {exc}") from None
    if waiting:
        yield b"".join(waiting)
    if crc != info.CRC:
        raise _Broken("CRC mismatch")


class _Zip:
    """One pass over every member of a zip workbook; see the module docstring."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.result = Preflight("zip", limits)
        self.total = 0

    def run(self) -> Preflight:
        limits, path = self.limits, self.path
        count = _central_entries(path)
        if count is not None and count > limits.members:
            raise self._members(count)
        try:
            package = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            # the zip's directory sits at its end: a download or copy cut short loses it first
            raise _corrupt(
                path,
                "文件不完整：zip 目录缺失或损坏，可能是下载或复制没有完成",
                "the file is incomplete: its zip directory is missing or damaged, perhaps a download or "
                "copy that did not finish",
            ) from None
        except (zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise _corrupt(path, str(exc)) from None
        with package, path.open("rb") as raw:
            infos = [info for info in package.infolist() if not info.is_dir()]
            if len(infos) > limits.members:
                raise self._members(len(infos))
            declared = sum(info.file_size for info in infos)
            if declared > limits.uncompressed_bytes:
                raise self._too_large()
            for info in infos:
                self._member(raw, info)
        return self.result

    def _members(self, count: int) -> FileProblem:
        limit = self.limits.members
        return _problem(
            "too_large",
            self.path,
            f"含有 {count:,} 个压缩成员，超过上限 {limit:,}（YECAI_IMPORT_MAX_MEMBERS），不是正常的工作簿",
            f"holds {count:,} zip members, more than the limit of {limit:,} (YECAI_IMPORT_MAX_MEMBERS); "
            "not a normal workbook",
        )

    def _too_large(self) -> FileProblem:
        limit = self.limits.uncompressed_mb
        return _problem(
            "too_large",
            self.path,
            f"解压后超过 {limit} MB 的上限（YECAI_IMPORT_MAX_UNCOMPRESSED_MB）；请拆分后分别导入",
            f"inflates to more than the limit of {limit} MB (YECAI_IMPORT_MAX_UNCOMPRESSED_MB); "
            "split it and import the parts",
        )

    def _member(self, raw: BinaryIO, info: zipfile.ZipInfo) -> None:
        path, limits, name = self.path, self.limits, info.filename
        if info.flag_bits & 0x1:
            raise _corrupt(path, f"{name} 经 zip 加密 / {name} is zip-encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _corrupt(
                path,
                f"{name} 使用了不支持的压缩方式 {info.compress_type} / {name} uses compression method {info.compress_type}",
            )
        part = _Part(self, info)
        size = 0
        try:
            for block in _inflate(raw, info):
                size += len(block)
                self.total += len(block)
                if size > info.file_size:
                    raise _problem(
                        "bomb",
                        path,
                        f"{name} 实际解压后超过其声明的 {info.file_size:,} 字节，疑似压缩炸弹，已拒绝",
                        f"{name} inflates to more than the {info.file_size:,} bytes its header declares "
                        "(a zip bomb); refused",
                    )
                if self.total > limits.uncompressed_bytes:
                    raise self._too_large()
                if size > RATIO_FLOOR and size > limits.ratio * max(info.compress_size, 1):
                    raise _problem(
                        "bomb",
                        path,
                        f"{name} 的压缩比超过 {limits.ratio}:1（YECAI_IMPORT_MAX_RATIO），疑似压缩炸弹，已拒绝",
                        f"{name} inflates more than {limits.ratio}-fold (YECAI_IMPORT_MAX_RATIO), "
                        "a zip bomb; refused",
                    )
                part.feed(block)
            if size != info.file_size:
                raise _Broken(f"{size:,} of {info.file_size:,} bytes")
        except _Broken as exc:
            part.broken(str(exc))
            return
        part.close()


class _Part:
    """The checks of one member by what it holds (its root element), fed as it inflates."""

    def __init__(self, owner: _Zip, info: zipfile.ZipInfo) -> None:
        self.owner = owner
        self.name = info.filename
        self.declared = info.file_size
        self.role: str | None = None  # sheet | strings | content | part | None (not parsed by anyone)
        self.guard = XmlGuard()
        self.watching = True
        self.size = 0
        self.sheet: SheetScanner | None = None
        self.ods: OdsScanner | None = None
        self.strings = 0
        self.unique: int | None = None
        self.prefix = b""
        self.merges: xlsx_stream.MergeFinder | None = None

    def _sniff(self, block: bytes) -> None:
        root = _ROOT.search(block[:65536])
        local = root[2].decode("ascii", "replace") if root else ""
        self.prefix = (root[1] + b":") if root and root[1] else b""
        if local == "worksheet":
            self.role = "sheet"
            self.sheet = SheetScanner(self.name, detailed=self.declared <= xlsx_stream.STREAM_BYTES)
            self.merges = xlsx_stream.MergeFinder()  # the streaming reader's, found in this same pass
        elif local == "sst":
            self.role = "strings"
            head = block[root.start() : block.find(b">", root.start()) + 1] if root else b""
            if (unique := _UNIQUE.search(head)) is not None:
                self.unique = int(unique[1])
        elif local == "document-content":
            self.role = "content"
            self.ods = OdsScanner()
        elif local in _PARTS or self.name.endswith(".rels"):
            self.role = "part"

    def feed(self, block: bytes) -> None:
        owner, limits = self.owner, self.owner.limits
        if self.size == 0:
            self._sniff(block)
        self.size += len(block)
        if self.role is None:
            return
        if self.watching and self.guard.feed(block):
            self.watching = False
            if self.role == "sheet" and self.guard.problem == "token" and self.sheet is not None:
                # the streaming reader stops at that token with one bad row; the rows before it land
                self.sheet.scan.odd.append(self.guard.describe(self.name))
                self.sheet.scan.detailed = False
            else:
                zh, en = self.guard.describe(self.name)
                raise _problem("unsafe_xml", owner.path, zh, en)
        if self.sheet is not None:
            self.sheet.feed(block)
            if self.merges is not None:
                self.merges.feed(block)
        elif self.ods is not None:
            try:
                self.ods.feed(block)
            except (ParseError, XmlStuck) as exc:
                raise _corrupt(owner.path, f"content.xml: {exc.args[-1]}") from None
        elif self.role == "strings":
            self.strings += block.count(b"<" + self.prefix + b"si>") + block.count(
                b"<" + self.prefix + b"si "
            )
            if self.strings > limits.shared_strings or self.size > limits.shared_strings_mb << 20:
                raise self._too_many_strings()
        elif self.role == "part" and self.size > limits.part_mb << 20:
            raise _problem(
                "too_large",
                owner.path,
                f"{self.name} 超过 {limits.part_mb} MB（YECAI_IMPORT_MAX_PART_MB），不是正常的工作簿",
                f"{self.name} is larger than {limits.part_mb} MB (YECAI_IMPORT_MAX_PART_MB); not a normal workbook",
            )

    def _too_many_strings(self) -> FileProblem:
        limits = self.owner.limits
        return _problem(
            "too_large",
            self.owner.path,
            f"共享字符串表超过 {limits.shared_strings:,} 条或 {limits.shared_strings_mb} MB 的上限"
            "（YECAI_IMPORT_MAX_SHARED_STRINGS / _MB）；请拆分后分别导入",
            f"the shared strings table holds more than {limits.shared_strings:,} entries or "
            f"{limits.shared_strings_mb} MB (YECAI_IMPORT_MAX_SHARED_STRINGS / _MB); split the workbook",
        )

    def broken(self, why: str) -> None:
        """The member cannot be inflated whole: a damaged sheet is read up to the damage, else refused."""
        if self.sheet is not None:
            scan = self.sheet.close()
            scan.merges = self.merges.close() if self.merges is not None else None
            scan.odd.append((f"{self.name} 已损坏（{why}）", f"{self.name} is damaged ({why})"))
            self.owner.result.sheets[self.name] = scan
            return
        if self.role is None:
            return  # nothing reads it (pictures, docProps …), or it broke before saying what it is
        raise _corrupt(self.owner.path, f"{self.name}: {why}")

    def close(self) -> None:
        owner, limits = self.owner, self.owner.limits
        if self.sheet is not None:
            scan = owner.result.sheets[self.name] = self.sheet.close()
            scan.merges = self.merges.close() if self.merges is not None else None
        elif self.ods is not None:
            try:
                tables = self.ods.close()
            except ParseError as exc:
                raise _corrupt(owner.path, f"content.xml: {exc}") from None
            for table in tables:
                if table.area > limits.cells:
                    raise _problem(
                        "too_large",
                        owner.path,
                        f"工作表 {table.name} 展开后有 {table.area:,} 个单元格（{table.rows:,} 行 × "
                        f"{table.columns:,} 列），超过上限 {limits.cells:,}（YECAI_IMPORT_MAX_CELLS）；"
                        "ods 无法逐行读取，请另存为 xlsx 或拆分后再导入",
                        f"table {table.name} expands to {table.area:,} cells ({table.rows:,} rows × "
                        f"{table.columns:,} columns), more than the limit of {limits.cells:,} "
                        "(YECAI_IMPORT_MAX_CELLS); an ods cannot be read row by row: save it as xlsx or split it",
                    )
        elif self.role == "strings" and self.unique is not None and self.unique > limits.shared_strings:
            # calamine reserves room for the declared count before reading a string: 4 billion
            # abort the process. The streaming reader counts the strings it really finds.
            owner.result.calamine = False

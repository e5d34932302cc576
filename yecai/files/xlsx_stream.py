"""Stream the rows of an xlsx sheet straight from the zip, in bounded memory, whatever the sheet holds.

python-calamine reads a whole sheet into memory before the first row comes out (about 1.2 GB for
a million 13-column rows, and an abort for one cell at XFD1048576). This reader is used for sheets
whose XML is larger than `STREAM_BYTES` and for every sheet the preflight found odd: the sheet XML
is parsed incrementally (expat fed 1 MB at a time, each row dropped once handed out), cells come
out typed like calamine's (shared and inline strings, numbers as floats, date-formatted numbers as
dates, booleans, errors as text), and merged ranges are found by one quick pass over the raw XML.

It never raises for what a sheet holds. A row whose number is malformed, beyond 1,048,576, repeated
or going backwards, or that holds a cell with a malformed `r=`/`s=`/`t=`, a reference beyond
column XFD or in another row, two cells in one place or a shared string that does not exist, is
handed out as one bad row (`RawRow(number, [], error=(中文, English))`) naming it; a repeated row
never replaces the first. A date serial beyond 9999-12-31 (in either date system) comes out as the
number, for validation to refuse with a message. XML that breaks mid-sheet (truncated, mismatched,
a single token over 1 MB that expat would re-scan on every feed) ends the sheet: every row before
it, then one bad row saying where. Shared strings and styles that cannot be read are a
`FileProblem` for the whole file, raised before the first row.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import IO
from xml.etree.ElementTree import Element, ParseError, XMLPullParser
from xml.parsers import expat

from yecai.files.bounds import (
    EXCEL_COLUMNS,
    EXCEL_ROWS,
    FEED_BYTES,
    FEED_MAX,
    Limits,
    XmlGuard,
    XmlStuck,
    column_index,
    column_letters,
    drain,
    pull_events,
)
from yecai.files.cells import Cell
from yecai.files.problems import FileProblem
from yecai.files.raw import Merge, RawRow
from yecai.files.xlsx_fast import ROW, SHEET_DATA, FastRows, Slow, declared_prefixes, row_number

STREAM_BYTES = 64 * 1024 * 1024  # uncompressed sheet XML; about 100,000 rows of a typical ledger
MERGE_ROWS = 1000  # merged ranges starting further down never matter (headers are near the top)
MAX_MERGES = 10_000
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROW, _C, _V, _F, _IS, _T, _R, _SI, _DATA = (
    f"{MAIN}{t}" for t in ("row", "c", "v", "f", "is", "t", "r", "si", "sheetData")
)
# built-in number formats that are dates or times (including the CJK ones Chinese Excel uses)
DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)}
CELL_TYPES = frozenset({"n", "s", "str", "inlineStr", "b", "e", "d"})
_REF = re.compile(r"([A-Za-z]{1,12})([0-9]{1,12})")  # any length: beyond XFD is said so, not "garbage"
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})([0-9]{1,7})(?::([A-Z]{1,3})([0-9]{1,7}))?"')
_MERGE_WORD = b"mergeCell"
_MERGE_TAG = 256  # a <mergeCell> tag is far shorter: a carry longer than this holds none
_COLUMNS: dict[str, int] = {}  # column letters → index: the same few letters on every row
_STYLES: set[str] = set()  # s= values seen to be style numbers
_READ_ERRORS = (ParseError, zipfile.BadZipFile, zlib.error, EOFError, OSError)
FAST_LANE = True  # tests turn it off to compare the lane with expat alone
MAX_PREFIX = 1 << 20  # <sheetData> further in than this: no fast lane (expat reads the sheet alone)
MAX_CARRY = 4 << 20  # a row longer than this: the fast lane closes (expat reads the rest alone)
_DTD_OR_PI = re.compile(rb"<!DOCTYPE|<!ENTITY")
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding=["']([^"']*)["']""")


class NotStreamable(Exception):
    """The workbook is not a plain transitional xlsx this reader understands: use calamine."""


class _CellProblem(Exception):
    """A cell that makes its row a bad row; the texts continue "第 N 行…" / "row N: …"."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def _without_result(cell: Element, kind: str) -> bool:
    """A formula cell whose result was never saved: no <v>, or an empty one that is no empty text.

    Excel saves a formula that yields "" as t="str" with an empty <v>: a result, empty. openpyxl
    and exports written with it save the formula alone: the value is unknown, not empty.
    """
    if cell.find(_F) is None:
        return False
    value = cell.find(_V)
    return value is None or (not value.text and kind != "str")


def _column(letters: str) -> int:
    return column_index(letters)


def is_date_format(code: str) -> bool:
    """A custom number format that shows a date or time (y, m, d, h, s outside quotes and colours)."""
    text = re.sub(r'"[^"]*"|\\.|_.|\*.', "", code)
    text = re.sub(r"\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]", "", text, flags=re.IGNORECASE)
    return bool(re.search(r"[ymdhs]", text, re.IGNORECASE)) and "general" not in text.lower()


def _digits(text: str | None) -> bool:
    return text is not None and text.isascii() and text.isdigit()


def _beyond_grid(text: str | None) -> bool:
    """A row number made of digits but past Excel's last row (checked by length first: Python
    refuses to convert a string of more than 4,300 digits, and nothing that long is a row)."""
    return _digits(text) and (len(text.lstrip("0")) > 7 or int(text) > EXCEL_ROWS)  # type: ignore[union-attr]


def _remember_style(style: str) -> bool:
    """Whether `style` is a style number; the answer is kept for the next cells (a few values)."""
    if not _digits(style):
        return False
    if len(_STYLES) < 100_000:
        _STYLES.add(style)
    return True


class StreamedWorkbook:
    """The sheets of an xlsx file, read lazily."""

    def __init__(self, path: str, limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or Limits.from_env()
        self._zip = zipfile.ZipFile(path)
        try:
            self._load()
        except (KeyError, ValueError, SyntaxError, *_READ_ERRORS) as exc:  # XmlStuck is a ValueError
            self._zip.close()
            raise NotStreamable(str(exc)) from None
        self._strings: list[str] | None = None

    def _load(self) -> None:
        names = set(self._zip.namelist())
        root = _parse(self._zip.open("xl/workbook.xml"))
        if not root.tag.startswith(MAIN):
            raise NotStreamable("not a transitional SpreadsheetML workbook")
        props = root.find(f"{MAIN}workbookPr")
        self.epoch = (
            dt.datetime(1904, 1, 1)
            if props is not None and props.get("date1904") in ("1", "true")
            else dt.datetime(1899, 12, 30)
        )
        rels = _parse(self._zip.open("xl/_rels/workbook.xml.rels"))
        targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{PACKAGE_RELS}Relationship")}
        self.sheets: dict[str, str] = {}
        self.visible: list[str] = []
        for sheet in root.iter(f"{MAIN}sheet"):
            target = targets.get(sheet.get(f"{RELS}id"), "")
            member = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            if member not in names:
                continue  # a chart sheet or a dialog: nothing to import
            name = sheet.get("name", "")
            self.sheets[name] = member
            if sheet.get("state", "visible") == "visible":
                self.visible.append(name)
        self.date_styles = self._date_styles() if "xl/styles.xml" in names else set()
        self.has_strings = "xl/sharedStrings.xml" in names

    def _date_styles(self) -> set[int]:
        root = _parse(self._zip.open("xl/styles.xml"))
        custom = {int(f.get("numFmtId", "0")): f.get("formatCode", "") for f in root.iter(f"{MAIN}numFmt")}
        styles: set[int] = set()
        xfs = root.find(f"{MAIN}cellXfs")
        for index, xf in enumerate(xfs if xfs is not None else []):
            number = int(xf.get("numFmtId", "0"))
            if number in DATE_FORMAT_IDS or (number in custom and is_date_format(custom[number])):
                styles.add(index)
        return styles

    def size(self, name: str) -> int:
        return self._zip.getinfo(self.sheets[name]).file_size

    def member(self, name: str) -> str | None:
        """The zip member holding sheet `name` (None for a name the workbook does not list)."""
        return self.sheets.get(name)

    # -- shared strings ---------------------------------------------------------------------------

    def load_strings(self) -> list[str]:
        """The shared strings, read once; raises FileProblem when they cannot be read or are too many."""
        if self._strings is None:
            self._strings = self._read_strings() if self.has_strings else []
        return self._strings

    def _read_strings(self) -> list[str]:
        member, limits = "xl/sharedStrings.xml", self.limits
        strings: list[str] = []
        # zipfile never inflates a member past its declared size (the CRC check fails first)
        if self._zip.getinfo(member).file_size > limits.shared_strings_mb << 20:
            raise self._too_many_strings()
        try:
            with self._zip.open(member) as handle:
                parser = XMLPullParser(events=("end",))
                for _, element in chain.from_iterable(pull_events(handle, parser, XmlGuard())):
                    if element.tag != _SI:
                        continue
                    strings.append(_text(element))
                    element.clear()
                    if len(strings) > limits.shared_strings:
                        raise self._too_many_strings()
        except (*_READ_ERRORS, XmlStuck) as exc:
            raise FileProblem(
                "corrupt",
                f"文件 {self.path.name} 已损坏：共享字符串表 {member} 无法读取（{_why(exc)[0]}）；请重新导出",
                f"{self.path.name} is damaged: the shared strings table {member} cannot be read "
                f"({_why(exc)[1]}); export it again",
                path=str(self.path),
            ) from None
        return strings

    def _too_many_strings(self) -> FileProblem:
        limits = self.limits
        return FileProblem(
            "too_large",
            f"文件 {self.path.name}：共享字符串表超过 {limits.shared_strings:,} 条或 {limits.shared_strings_mb} MB "
            "的上限（YECAI_IMPORT_MAX_SHARED_STRINGS / _MB）；请拆分后分别导入",
            f"{self.path.name}: the shared strings table holds more than {limits.shared_strings:,} entries "
            f"or {limits.shared_strings_mb} MB (YECAI_IMPORT_MAX_SHARED_STRINGS / _MB); split the workbook",
            path=str(self.path),
        )

    # -- merged ranges ----------------------------------------------------------------------------

    def merged(self, name: str) -> list[Merge]:
        """Merged ranges (0-based) that start in the first MERGE_ROWS rows; one linear raw pass.

        The importer takes them from the preflight's pass over the same bytes where it made one
        (`MergeFinder`); this pass is for the sheets it did not.
        """
        finder = MergeFinder()
        try:
            with self._zip.open(self.sheets[name]) as handle:
                while chunk := handle.read(1 << 20):
                    finder.feed(chunk)
        except _READ_ERRORS:
            pass  # a damaged sheet: the ranges found so far (the rows report the damage)
        return finder.close()

    # -- rows -------------------------------------------------------------------------------------

    def rows(self, name: str) -> Iterator[RawRow]:
        """Every row from row 1, blank rows included (as calamine does), cells from column A.

        Raises FileProblem (before the first row) when the shared strings cannot be read; never
        for what the sheet itself holds.
        """
        strings = self.load_strings()
        return self._rows(name, strings)

    def _rows(self, name: str, strings: list[str]) -> Iterator[RawRow]:
        walk = _Walk(self, strings)
        try:
            with self._zip.open(self.sheets[name]) as handle:
                yield from self._lanes(handle, walk)
        except (*_READ_ERRORS, XmlStuck) as exc:
            if isinstance(exc, ParseError) and walk.laned:
                exc = self._located(name, exc)
            yield from walk.flush()
            yield _damaged(name, walk.last, exc)
            return
        yield from walk.flush()

    def _lanes(self, handle: IO[bytes], walk: _Walk) -> Iterator[RawRow]:
        """The rows: plain ones by the fast lane (`xlsx_fast`) while it is open, the rest by expat.

        Every byte is read once, checked by the guard once, and either taken by the lane (whole
        rows between rows) or fed to expat in order: what expat sees is the sheet without the
        rows the lane took, which means the same to it.
        """
        parser = XMLPullParser(events=("start", "end"))
        guard = XmlGuard()
        buffer, pos, done = b"", 0, False
        size = FEED_BYTES

        def more() -> bool:
            # the next chunk, checked as pull_events checks it; sized as pull_events sizes it
            nonlocal buffer, pos, done
            chunk = handle.read(size)
            if not chunk:
                done = True
                return False
            if guard.feed(chunk):
                raise XmlStuck(*guard.describe("XML"))
            buffer = buffer[pos:] + chunk
            pos = 0
            return True

        # the prefix up to <sheetData>: expat reads it, and the lane opens only where it then
        # stands inside <sheetData> of the main namespace, between rows
        lane: FastRows | None = None
        while (cut := buffer.find(SHEET_DATA)) < 0 and len(buffer) <= MAX_PREFIX and more():
            pass
        if FAST_LANE and cut >= 0 and _utf8(buffer[:cut]) and not _DTD_OR_PI.search(buffer, 0, cut):
            cut += len(SHEET_DATA)
            events = yield from _fed(parser, buffer[:cut], walk)
            depth = sum(1 if event == "start" else -1 for event, _ in events)
            if depth == 2 and events[-1][0] == "start" and events[-1][1].tag == _DATA:
                lane = FastRows(walk.strings, self.date_styles, self._date, declared_prefixes(buffer[:cut]))
                walk.laned = True
            pos = cut
        while lane is not None:
            match = ROW.match(buffer, pos)
            if match is not None:
                number = row_number(match[1], walk.last)
                if number is not None and (not match[2] or lane.attributes_ok(match[2])):
                    try:
                        cells = lane.cells(match[3]) if match[3] else []
                    except (Slow, UnicodeDecodeError):
                        pass
                    else:
                        pos = match.end()
                        size = FEED_BYTES
                        if number == walk.last + 1 and not walk.beyond:
                            walk.last = number  # the usual next row: no blank rows, no run to report
                            yield RawRow(number, cells)
                        else:
                            yield from walk.take(RawRow(number, cells))
                        continue
            # not a row the lane takes: expat reads it, up to the end of the next row
            end = buffer.find(b"</row>", pos)
            if end < 0:
                if done or len(buffer) - pos > MAX_CARRY:
                    break  # the rest to expat
                if not more():
                    break
                # a long row arriving in pieces: larger reads, as pull_events makes them
                size = min(size * 2, FEED_MAX)
                continue
            piece = buffer[pos : end + 6]
            if b"<!" in piece or b"<?" in piece or b"</sheetData" in piece:
                break  # comments, CDATA, the end of the rows: expat reads on alone
            pos = end + 6
            events = yield from _fed(parser, piece, walk)
            if not _rows_only(events):
                break  # the piece left an element open, closed one it did not open, or was no row
            size = FEED_BYTES
        # expat alone: what the lane left of the buffer, then the rest of the sheet
        rest = _Rest(buffer[pos:], handle, guard)
        buffer = b""
        for events in pull_events(rest, parser):
            yield from walk.events(events)

    def _located(self, name: str, error: ParseError) -> ParseError:
        """The error where it is in the sheet's own bytes, not in what expat saw without the lane's
        rows: a bare expat pass (no tree, C only) finds the same error at its real line and column."""
        parser = expat.ParserCreate(namespace_separator="}")
        try:
            with self._zip.open(self.sheets[name]) as handle:
                while chunk := handle.read(1 << 20):
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
        except expat.ExpatError as found:
            if found.code == getattr(error, "code", None):
                located = ParseError(str(found))
                located.code, located.position = found.code, (found.lineno, found.offset)
                return located
        except _READ_ERRORS:
            pass
        return error

    def _row(self, element: Element, strings: list[str], last: int) -> tuple[RawRow, bool]:
        """The row as read, or one bad row naming what is wrong; and whether it takes its number.

        A row whose number is malformed or beyond the grid is counted as the row after the last
        one but takes no number (the next row may still be that one); a repeated or backward row
        keeps its own number and takes nothing, so the row read first stays.
        """
        text = element.get("r")
        if text is None:
            number = self._implied(element, last)
        elif not _digits(text) or len(text) > 20 or not 0 < int(text) <= EXCEL_ROWS:
            shown, counted = text[:20], last + 1
            return RawRow(
                counted,
                [],
                (
                    f'第 {last} 行之后的一行（记为第 {counted} 行）的行号 r="{shown}" 无效'
                    f"（应为 1 至 {EXCEL_ROWS} 的整数：不是数字或超出 Excel 的行数）；整行未导入",
                    f"the row after row {last} (counted as row {counted}) has an invalid row number "
                    f'r="{shown}" (a whole number from 1 to {EXCEL_ROWS:,} expected: not a number, or '
                    "beyond Excel's rows); the row was not imported",
                ),
            ), False
        else:
            number = int(text)
        if number == last:
            return RawRow(
                number,
                [],
                (
                    f'第 {number} 行重复出现（又一个 r="{number}"）；已拒绝这一行，保留先出现的第 {number} 行',
                    f'row {number} appears twice (r="{number}" again); this duplicate is refused and the '
                    f"first row {number} kept",
                ),
            ), False
        if number < last:
            return RawRow(
                number,
                [],
                (
                    f"第 {number} 行出现在第 {last} 行之后（行号倒退或重复）；已拒绝，不会覆盖先前读到的行",
                    f"row {number} comes after row {last} (the row number goes backwards or repeats); "
                    "refused, no row read earlier is replaced",
                ),
            ), False
        try:
            cells, uncached = self._cells(element, number, strings)
            return RawRow(number, cells, uncached=uncached), True
        except _CellProblem as exc:
            return RawRow(
                number,
                [],
                (f"第 {number} 行{exc.zh}；整行未导入", f"row {number}: {exc.en}; the row was not imported"),
            ), True

    @staticmethod
    def _implied(element: Element, last: int) -> int:
        # no r= on the row (it is optional): its first cell's reference says where it is, as in
        # calamine; else it follows the last one
        for cell in element:
            if cell.tag == _C:
                match = _REF.fullmatch(cell.get("r") or "")
                if match and last < int(match[2]) <= EXCEL_ROWS:
                    return int(match[2])
                break
        return last + 1

    def _cells(
        self, row: Element, number: int, strings: list[str]
    ) -> tuple[list[Cell], tuple[tuple[int, str], ...]]:
        """The row's cells from column A, and which of them are formulas saved without a result;
        raises _CellProblem for the first cell that is wrong."""
        out: list[Cell] = []
        uncached: list[tuple[int, str]] = []
        own = str(number)
        for cell in row:
            if cell.tag != _C:
                continue
            ref = cell.get("r")
            if ref is None:
                index = len(out)
                shown = column_letters(index) + str(number)  # where a reader puts it
            elif (
                ref.endswith(own)
                and 0 <= (index := _COLUMNS.get(ref[: len(ref) - len(own)], -1)) < EXCEL_COLUMNS
            ):
                # the usual cell: letters met before (so letters the pattern took) and this row's
                # number, as written: what the pattern would find, without it
                shown = ref
            else:
                match = _REF.fullmatch(ref)
                if match is None:
                    raise _CellProblem(
                        f'的单元格 r="{ref[:20]}" 不是单元格引用',
                        f'the cell r="{ref[:20]}" is not a cell reference',
                    )
                letters = match[1]
                index = _COLUMNS.get(letters)
                if index is None:
                    index = (
                        _COLUMNS.setdefault(letters, _column(letters))
                        if len(_COLUMNS) < 20_000
                        else _column(letters)
                    )
                if index >= EXCEL_COLUMNS:
                    raise _CellProblem(
                        f'的单元格 r="{ref}" 超出 Excel 的最后一列 XFD',
                        f'the cell r="{ref}" is beyond Excel\'s last column XFD',
                    )
                if match[2] != own and int(match[2]) != number:
                    if int(match[2]) > EXCEL_ROWS:
                        raise _CellProblem(
                            f'的单元格 r="{ref}" 超出 Excel 的 {EXCEL_ROWS} 行',
                            f'the cell r="{ref}" is beyond Excel\'s {EXCEL_ROWS:,} rows',
                        )
                    raise _CellProblem(
                        f'的单元格 r="{ref}" 不在本行', f'the cell r="{ref}" is not in this row'
                    )
                shown = ref
            style = cell.get("s")
            if style is not None and style not in _STYLES and not _remember_style(style):
                raise _CellProblem(
                    f'的单元格 {shown} 的 s="{style[:20]}" 不是样式编号',
                    f'cell {shown} has s="{style[:20]}", not a style number',
                )
            kind = cell.get("t", "n")
            if kind not in CELL_TYPES:
                raise _CellProblem(
                    f'的单元格 {shown} 的 t="{kind[:20]}" 不是单元格类型',
                    f'cell {shown} has t="{kind[:20]}", not a cell type',
                )
            if _without_result(cell, kind):
                value: Cell = None  # unknown, not "" nor 0: the importer says which cell
                uncached.append((index, (cell.findtext(_F) or "")[:200]))
            else:
                value = self._value(cell, kind, strings, shown)
            if index < len(out):
                if out[index] is not None:
                    raise _CellProblem(
                        f"的单元格 {shown} 与本行另一个单元格位置相同",
                        f"cell {shown} is at the place of another cell",
                    )
                out[index] = value
                continue
            while len(out) < index:
                out.append(None)
            out.append(value)
        return out, tuple(uncached)

    def _value(self, cell: Element, kind: str, strings: list[str], shown: str) -> Cell:
        if kind == "inlineStr":
            inline = cell.find(_IS)
            return (_text(inline) or None) if inline is not None else None
        raw = cell.findtext(_V)
        if raw is None:
            return None
        if kind == "s":
            index = raw.strip()
            if not _digits(index) or int(index) >= len(strings):
                raise _CellProblem(
                    f"的单元格 {shown} 引用的共享字符串 {raw[:20]} 不存在（共 {len(strings)} 条）",
                    f"cell {shown} refers to shared string {raw[:20]}, which does not exist (there are "
                    f"{len(strings)})",
                )
            return strings[int(index)] or None
        if kind in ("str", "e"):
            return raw or None
        if kind == "b":
            return raw == "1"
        if kind == "d":
            try:
                return dt.datetime.fromisoformat(raw)
            except ValueError:
                return raw
        try:
            number = float(raw)
        except ValueError:
            return raw
        style = cell.get("s")
        if style is not None and int(style) in self.date_styles:
            return self._date(number)
        return number

    def _date(self, serial: float) -> Cell:
        # beyond 9999-12-31 (or not a number at all): the number, for validation to refuse
        if not -1 < serial < 2958466:
            return serial
        days = int(serial)
        # to the nearest second, as Excel shows it (a double holds 08:30 as 08:29:59.999999)
        seconds = round((serial - days) * 86400)
        if seconds == 86400:
            days, seconds = days + 1, 0
        if days == 0 and serial >= 0:
            return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
        try:
            stamp = self.epoch + dt.timedelta(days=days, seconds=seconds)
        except OverflowError:  # the 1904 date system ends four years later than the number
            return serial
        return stamp.date() if seconds == 0 else stamp

    def close(self) -> None:
        self._zip.close()


def _why(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, XmlStuck) and len(exc.args) == 2:
        return exc.args[0], exc.args[1]
    text = f"{type(exc).__name__}: {exc}"
    return text, text


def _past_the_grid(last: int, count: int, first: str) -> RawRow:
    """One bad row for a run of rows numbered past Excel's last row."""
    rows_zh = f"{count:,} 行" if count > 1 else "一行"
    rows_en = f"{count:,} rows" if count > 1 else "a row"
    return RawRow(
        last + 1,
        [],
        (
            f"第 {last} 行之后有{rows_zh}（记为第 {last + 1} 行）的行号超出 Excel 的 {EXCEL_ROWS:,} 行上限"
            f'（如 r="{first}"）；这些行未导入',
            f"after row {last}, {rows_en} (counted as row {last + 1}) numbered past Excel's "
            f'{EXCEL_ROWS:,} rows (e.g. r="{first}"); not imported',
        ),
    )


def _damaged(name: str, last: int, exc: BaseException) -> RawRow:
    why_zh, why_en = _why(exc)
    return RawRow(
        last + 1,
        [],
        (
            f"工作表 {name} 在第 {last} 行之后损坏，第 {last + 1} 行起的内容无法读取（{why_zh}）；"
            "之前的行已导入，请重新导出该文件",
            f"sheet {name} is damaged after row {last}; nothing from row {last + 1} on can be read "
            f"({why_en}); the rows before it were imported; export the file again",
        ),
    )


def _parse(handle: IO[bytes]) -> Element:
    # small parts (workbook, relationships, styles): parsed whole (the preflight bounds their size),
    # fed like the sheets so that no token makes it quadratic
    root: Element | None = None
    with handle:
        for event, element in chain.from_iterable(pull_events(handle, XMLPullParser(events=("start",)))):
            if root is None and event == "start":
                root = element
    if root is None:
        raise ParseError("no element found")
    return root


def _text(element: Element) -> str:
    # the <t> runs of a string item, leaving out <rPh> phonetic guides
    parts: list[str] = []
    for child in element:
        if child.tag == _T:
            parts.append(child.text or "")
        elif child.tag == _R:
            parts.extend(t.text or "" for t in child.iter(_T))
    return "".join(parts)


class MergeFinder:
    """The merged ranges of a sheet's XML fed to it block by block (`StreamedWorkbook.merged`).

    They follow the cell data, so the whole sheet is fed; what is carried from one block to the
    next is at most one unfinished tag, never a growing tail, and the pattern runs only on blocks
    that hold the word (the rows hold none).
    """

    def __init__(self) -> None:
        self.found: list[Merge] = []
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        block = self._carry + chunk
        cut = block.rfind(b"<")
        if cut < 0 or len(block) - cut > _MERGE_TAG:
            cut = len(block)
        if _MERGE_WORD in block:
            _merges(block, cut, self.found)
        self._carry = block[cut:]

    def close(self) -> list[Merge]:
        """The ranges found (at most MAX_MERGES), the last block's included."""
        _merges(self._carry, len(self._carry), self.found)
        self._carry = b""
        return self.found[:MAX_MERGES]


def _merges(block: bytes, end: int, found: list[Merge]) -> None:
    if len(found) >= MAX_MERGES:
        return
    for match in _MERGE.finditer(block, 0, end):
        c0, r0 = _column(match[1].decode()), int(match[2]) - 1
        c1, r1 = (_column(match[3].decode()), int(match[4]) - 1) if match[3] else (c0, r0)
        if 0 <= r0 < MERGE_ROWS:
            found.append(((r0, c0), (r1, c1)))


class _Walk:
    """Where the reading of one sheet stands: the last row number taken, and a run of rows past
    the grid not yet reported. Rows come from expat's events or whole from the fast lane."""

    def __init__(self, book: StreamedWorkbook, strings: list[str]) -> None:
        self.book = book
        self.strings = strings
        self.last = 0  # the highest row number taken (by a row, good or bad, at its own number)
        self.beyond = 0  # rows numbered past the grid since the last row taken …
        self.first_beyond = ""  # … and the first of them
        self.parent: Element | None = None  # <sheetData>: its rows are dropped once handed out
        self.laned = False  # whether the fast lane took part (expat then saw the sheet without its rows)

    def events(self, events: list[tuple[str, Element]]) -> Iterator[RawRow]:
        wanted = (_ROW, _DATA)
        # the rows' and sheetData's events picked out by one comprehension: a row's cells are two
        # to four elements each, and looping over them here was a quarter of the reading
        for event, element in [(e, el) for e, el in events if el.tag in wanted]:
            if event == "start":
                if element.tag == _DATA:
                    self.parent = element
                continue
            if element.tag != _ROW:
                continue
            if _beyond_grid(element.get("r")):
                # a run of rows past the grid is one bad row, not one per row: two million
                # `<row r="…"/>` from a small zip must not become two million rejections
                self.beyond += 1
                self.first_beyond = self.first_beyond or (element.get("r") or "")[:20]
                if self.parent is not None:
                    self.parent.clear()
                continue
            yield from self.flush()
            row, takes = self.book._row(element, self.strings, self.last)
            if takes:
                while self.last + 1 < row.number:
                    self.last += 1
                    yield RawRow(self.last, [])
                self.last = row.number
            yield row
            if self.parent is not None:
                self.parent.clear()  # drop the rows already handed out: memory stays flat

    def take(self, row: RawRow) -> Iterator[RawRow]:
        """A row the fast lane read (its number is past the last one taken)."""
        yield from self.flush()
        while self.last + 1 < row.number:
            self.last += 1
            yield RawRow(self.last, [])
        self.last = row.number
        yield row

    def flush(self) -> Iterator[RawRow]:
        if self.beyond:
            yield _past_the_grid(self.last, self.beyond, self.first_beyond)
            self.beyond, self.first_beyond = 0, ""


class _Rest:
    """What the fast lane left of its buffer, then the rest of the sheet, each new chunk guarded."""

    def __init__(self, left: bytes, handle: IO[bytes], guard: XmlGuard) -> None:
        self.left, self.handle, self.guard = left, handle, guard

    def read(self, size: int) -> bytes:
        if self.left:
            chunk, self.left = self.left[:size], self.left[size:]
            return chunk
        chunk = self.handle.read(size)
        if chunk and self.guard.feed(chunk):
            raise XmlStuck(*self.guard.describe("XML"))
        return chunk


def _fed(
    parser: XMLPullParser, piece: bytes, walk: _Walk
) -> Generator[RawRow, None, list[tuple[str, Element]]]:
    """Feed `piece` to expat and walk its events; after an error, the events before it first."""
    parser.feed(piece)
    events: list[tuple[str, Element]] = []
    try:
        drain(parser, events)
    except ParseError:
        yield from walk.events(events)
        raise
    yield from walk.events(events)
    return events


def _rows_only(events: list[tuple[str, Element]]) -> bool:
    """The events of whole <row> elements of the main namespace (and their insides), nothing else."""
    depth = 0
    for event, element in events:
        if event == "start":
            if depth == 0 and element.tag != _ROW:
                return False
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _utf8(prefix: bytes) -> bool:
    """The sheet's XML is UTF-8 (as it declares, or by default): the lane decodes bytes as UTF-8."""
    declared = _ENCODING.match(prefix)
    return declared is None or declared[1].lower() in (b"utf-8", b"utf8")

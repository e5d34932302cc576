"""Stream the rows of a large xlsx sheet straight from the zip, in bounded memory.

python-calamine reads a whole sheet into memory before the first row comes out (about 1.2 GB for
a million 13-column rows). For sheets whose XML is larger than `STREAM_BYTES` the importer reads
with this module instead: the sheet XML is parsed incrementally (ElementTree.iterparse, each row
dropped once handed out), cells come out typed like calamine's (shared and inline strings, numbers
as floats, date-formatted numbers as dates, booleans, errors as text), and merged ranges are found
by one quick pass over the end of the sheet. Smaller files keep calamine, which is faster.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, iterparse

from yecai.files.cells import Cell
from yecai.files.raw import Merge, RawRow

STREAM_BYTES = 64 * 1024 * 1024  # uncompressed sheet XML; about 100,000 rows of a typical ledger
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROW, _C, _V, _IS, _T, _R, _SI, _DATA = (
    f"{MAIN}{t}" for t in ("row", "c", "v", "is", "t", "r", "si", "sheetData")
)
# built-in number formats that are dates or times (including the CJK ones Chinese Excel uses)
DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)}
_REF = re.compile(r"([A-Z]+)(\d+)")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


class NotStreamable(Exception):
    """The workbook is not a plain transitional xlsx this reader understands: use calamine."""


def _column(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def is_date_format(code: str) -> bool:
    """A custom number format that shows a date or time (y, m, d, h, s outside quotes and colours)."""
    text = re.sub(r'"[^"]*"|\\.|_.|\*.', "", code)
    text = re.sub(r"\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]", "", text, flags=re.IGNORECASE)
    return bool(re.search(r"[ymdhs]", text, re.IGNORECASE)) and "general" not in text.lower()


class StreamedWorkbook:
    """The sheets of an xlsx file, read lazily."""

    def __init__(self, path: str) -> None:
        self._zip = zipfile.ZipFile(path)
        try:
            self._load()
        except (KeyError, ValueError, SyntaxError) as exc:
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

    def _shared(self) -> list[str]:
        if self._strings is None:
            self._strings = []
            if self.has_strings:
                with self._zip.open("xl/sharedStrings.xml") as handle:
                    for _, element in iterparse(handle, events=("end",)):
                        if element.tag == _SI:
                            self._strings.append(_text(element))
                            element.clear()
        return self._strings

    def merged(self, name: str) -> list[Merge]:
        """Merged ranges (0-based); they follow the cell data, so the sheet is scanned once, raw."""
        found: list[Merge] = []
        tail = b""
        with self._zip.open(self.sheets[name]) as handle:
            while chunk := handle.read(1 << 22):
                block = tail + chunk
                cut = block.rfind(b"<")
                for match in _MERGE.finditer(block[:cut]):
                    c0, r0 = _column(match[1].decode()), int(match[2]) - 1
                    c1, r1 = (_column(match[3].decode()), int(match[4]) - 1) if match[3] else (c0, r0)
                    found.append(((r0, c0), (r1, c1)))
                tail = block[cut:]
        for match in _MERGE.finditer(tail):
            c0, r0 = _column(match[1].decode()), int(match[2]) - 1
            c1, r1 = (_column(match[3].decode()), int(match[4]) - 1) if match[3] else (c0, r0)
            found.append(((r0, c0), (r1, c1)))
        return found

    def rows(self, name: str) -> Iterator[RawRow]:
        """Every row from row 1, blank rows included (as calamine does), cells from column A."""
        strings = self._shared()
        expected = 1
        with self._zip.open(self.sheets[name]) as handle:
            parent: Element | None = None
            for event, element in iterparse(handle, events=("start", "end")):
                if event == "start":
                    if element.tag == _DATA:
                        parent = element
                    continue
                if element.tag != _ROW:
                    continue
                number = int(element.get("r") or expected)
                while expected < number:
                    yield RawRow(expected, [])
                    expected += 1
                yield RawRow(number, self._cells(element, strings))
                expected = number + 1
                if parent is not None:
                    parent.clear()  # drop the rows already handed out: memory stays flat

    def _cells(self, row: Element, strings: list[str]) -> list[Cell]:
        out: list[Cell] = []
        for cell in row:
            if cell.tag != _C:
                continue
            ref = cell.get("r")
            if ref:
                match = _REF.match(ref)
                index = _column(match[1]) if match else len(out)
            else:
                index = len(out)
            while len(out) < index:
                out.append(None)
            out.append(self._value(cell, strings))
        return out

    def _value(self, cell: Element, strings: list[str]) -> Cell:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            inline = cell.find(_IS)
            return (_text(inline) or None) if inline is not None else None
        raw = cell.findtext(_V)
        if raw is None:
            return None
        if kind == "s":
            index = int(raw)
            return (strings[index] or None) if 0 <= index < len(strings) else None
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
        if not -1 < serial < 2958466:  # beyond 9999-12-31: leave the number for validation to refuse
            return serial
        days = int(serial)
        # to the nearest second, as Excel shows it (a double holds 08:30 as 08:29:59.999999)
        seconds = round((serial - days) * 86400)
        if seconds == 86400:
            days, seconds = days + 1, 0
        if days == 0 and serial >= 0:
            return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
        stamp = self.epoch + dt.timedelta(days=days, seconds=seconds)
        return stamp.date() if seconds == 0 else stamp

    def close(self) -> None:
        self._zip.close()


def _parse(handle: IO[bytes]) -> Element:
    # small parts (workbook, relationships, styles): parsed whole
    with handle:
        return ElementTree.parse(handle).getroot()


def _text(element: Element) -> str:
    # the <t> runs of a string item, leaving out <rPh> phonetic guides
    parts: list[str] = []
    for child in element:
        if child.tag == _T:
            parts.append(child.text or "")
        elif child.tag == _R:
            parts.extend(t.text or "" for t in child.iter(_T))
    return "".join(parts)

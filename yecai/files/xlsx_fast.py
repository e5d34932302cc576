"""The fast lane of the streaming xlsx reader: plain rows read by two regular expressions, not by expat.

A ledger of a million rows is a million `<row>` elements of a dozen `<c>` each, written the same
plain way by Excel, WPS and the export libraries. Building an element per cell and walking it in
Python costs about 50 µs a row; matching a row's bytes against a strict grammar of that plain form
and converting the captured values costs a fraction of it. The grammar is a subset of XML whose
meaning is fixed: a row with `r=` and ASCII attributes each named once, cells with `r=`, `s=`, `t=`
in that order, a `<v>` or an inline `<is><t>` holding no markup, no entity and no character XML
forbids. Such a row means exactly what expat would make of it, so the lane hands out what the
expat reader would.

Everything else goes to the expat reader (`xlsx_stream`) as it is, in order, together with the
prefix before the rows and the rest after them: a formula, an entity, a cell out of order or of
another row, a shared string that does not exist, a row number taken already. The expat reader
then says what it always says of them. The lane takes a row only while the parser stands between
two rows of `<sheetData>`, and closes for good at anything that could change what the bytes around
it mean (a comment, CDATA, a processing instruction, a piece that leaves an element open): from
there expat reads the rest alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from yecai.files.bounds import EXCEL_COLUMNS, EXCEL_ROWS, column_index
from yecai.files.cells import Cell

# XML's forbidden characters (C0 controls but tab, line feed and carriage return; carriage
# return is left out too: XML turns "\r\n" into "\n" in text) and markup
_TEXT = rb"[^<&\r\x00-\x08\x0b\x0c\x0e-\x1f]+"
# an attribute value the lane ignores: printable ASCII, no quote, markup or entity
_VALUE = rb"[\t\n\x20\x21\x23-\x25\x27-\x3b\x3d-\x7e]*"
# a cell's attributes after its column and row, and its value: captured by CELL
_CELL_REST = (
    rb'"(?: s="([0-9]{1,9})")?(?: t="([A-Za-z]{1,9})")?'
    rb"(?:/>|>(?:<v>("
    + _TEXT
    + rb")</v>|<is><t(?: xml:space=\"preserve\")?>("
    + _TEXT
    + rb")</t></is>)?</c>)"
)
CELL = re.compile(rb'<c r="([A-Z]{1,3})[0-9]{1,7}' + _CELL_REST)
_ATTRIBUTE = rb'[ \t\n]+[A-Za-z][A-Za-z0-9_.-]*(?::[A-Za-z][A-Za-z0-9_.-]*)?="' + _VALUE + rb'"'
# optional white space, then a whole row: empty, or its cells, each in this row (the backreference
# to the row's number, as written, keeps another row's cell out without a comparison in Python)
ROW = re.compile(
    rb'[ \t\r\n]*<row r="(?P<n>[0-9]{1,7})"((?:' + _ATTRIBUTE + rb")*)[ \t\n]*"
    rb'(?:/>|>((?:<c r="[A-Z]{1,3}(?P=n)' + re.sub(rb"\((?![?])", b"(?:", _CELL_REST) + rb")*)</row>)"
)
_NAMES = re.compile(rb'([A-Za-z][A-Za-z0-9_.-]*(?::[A-Za-z][A-Za-z0-9_.-]*)?)="')
_DECLARED = re.compile(rb'\bxmlns:([A-Za-z][A-Za-z0-9_.-]*)="')
_ROOT = re.compile(rb"<(?![?!])[^>]*>")
SHEET_DATA = b"<sheetData>"
# byte sequences a row may not hold for the lane: U+FFFE and U+FFFF (XML forbids them), "]]>"
_FORBIDDEN = (b"\xef\xbf\xbe", b"\xef\xbf\xbf", b"]]>")


class Slow(Exception):
    """The row is not one the lane reads: expat reads it."""


def declared_prefixes(prefix: bytes) -> frozenset[bytes]:
    """The namespace prefixes the root element declares (`xml` is always bound)."""
    root = _ROOT.search(prefix)
    found = set(_DECLARED.findall(root.group(0))) if root else set()
    return frozenset(found | {b"xml"})


class FastRows:
    """Converts a matched row into cells as the expat reader would, or raises Slow."""

    def __init__(
        self,
        strings: list[str],
        date_styles: set[int],
        date: Callable[[float], Cell],
        prefixes: frozenset[bytes],
    ) -> None:
        self.strings = strings
        self.count = len(strings)
        self.date = date
        self.prefixes = prefixes
        self._dates: dict[bytes, bool] = {}  # s= → whether it is a date style
        self._stamps: dict[bytes, Cell] = {}  # <v> of a date-styled cell → what it reads as
        self._date_styles = date_styles
        self._columns: dict[bytes, int] = {}
        self._attributes: dict[bytes, bool] = {}  # a row's other attributes → whether the lane may take them

    def attributes_ok(self, text: bytes) -> bool:
        """Each name once, no `r` again, no namespace declaration, only prefixes in scope."""
        known = self._attributes.get(text)
        if known is None:
            names = _NAMES.findall(text)
            known = (
                len(set(names)) == len(names)
                and b"r" not in names
                and not any(n == b"xmlns" or n.startswith(b"xmlns:") for n in names)
                and all(b":" not in n or n.split(b":", 1)[0] in self.prefixes for n in names)
            )
            if len(self._attributes) < 10_000:
                self._attributes[text] = known
        return known

    def cells(self, body: bytes) -> list[Cell]:
        """The row's cells from column A; raises Slow for anything the expat reader must judge.

        `body` is what ROW matched between the row's tags (every cell of this row).
        """
        for forbidden in _FORBIDDEN:
            if forbidden in body:
                raise Slow
        out: list[Any] = []
        columns, dates, stamps = self._columns, self._dates, self._stamps
        strings, count = self.strings, self.count
        for letters, style, kind, value, text in CELL.findall(body):
            index = columns.get(letters)
            if index is None:
                index = column_index(letters.decode())
                if index >= EXCEL_COLUMNS:
                    raise Slow
                columns[letters] = index
            if index != len(out):
                if index < len(out):
                    raise Slow  # two cells in one place, or out of order
                out.extend([None] * (index - len(out)))
            if not kind or kind == b"n":
                if not value:
                    out.append(None)
                    continue
                dated = dates.get(style)
                if dated is None:
                    dated = self._dated(style)
                if dated:
                    # a ledger's dates are a few dozen days: each converted once
                    stamp = stamps.get(value)
                    if stamp is None:
                        stamp = self._stamp(value)
                    out.append(stamp)
                    continue
                try:
                    # bytes and text convert alike where they are ASCII; the rest as text, as expat
                    # hands it out (a full-width digit is a digit to float)
                    out.append(float(value) if value.isascii() else float(value.decode()))
                except ValueError:
                    out.append(value.decode())
            elif kind == b"inlineStr":
                out.append(text.decode() if text else None)
            elif kind == b"s":
                if not value:
                    out.append(None)
                elif value.isdigit() and int(value) < count:
                    out.append(strings[int(value)] or None)
                else:
                    raise Slow
            elif kind == b"str" or kind == b"e":
                out.append(value.decode() if value else None)
            elif kind == b"b":
                out.append(value == b"1" if value else None)
            else:
                raise Slow  # t="d", or not a cell type
        return out

    def _stamp(self, value: bytes) -> Cell:
        """A number in a date style: the date (or what the expat reader makes of it)."""
        try:
            number = float(value) if value.isascii() else float(value.decode())
        except ValueError:
            return value.decode()
        stamp = self.date(number)
        if len(self._stamps) >= 10_000:
            self._stamps.clear()
        self._stamps[value] = stamp
        return stamp

    def _dated(self, style: bytes) -> bool:
        dated = bool(style) and int(style) in self._date_styles
        if len(self._dates) < 10_000:
            self._dates[style] = dated
        return dated


def row_number(text: bytes, last: int) -> int | None:
    """The row's number if the lane may take it: within the grid and after the last row taken."""
    number = int(text)
    return number if last < number <= EXCEL_ROWS else None

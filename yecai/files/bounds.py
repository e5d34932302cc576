"""How much of a workbook yecai agrees to read, and a linear watch over XML as it streams by.

A few KB of zip can declare a grid of 17 billion cells, inflate to gigabytes, or hold one XML token
that expat re-scans on every feed (quadratic: a 70 MB comment took 150 s of CPU). The limits here
bound all of that; each is a module default that an environment variable overrides (read at every
import, so a running server picks a change up without a restart). `XmlGuard` finds, in one pass,
the two things no spreadsheet part ever holds: a stretch of more than `MAX_TOKEN_BYTES` without a
`>` (Excel keeps a cell to 32,767 characters, so only a crafted file has one) and a document type
declaration (OPC forbids DTDs). `pull_events` feeds expat in pieces that grow while no element
ends, and stops it once `QUIET_BYTES` have gone in without one (a comment or attribute full of
`>`), so every parse here is linear.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import IO
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384  # A … XFD
MAX_TOKEN_BYTES = 1 << 20
FEED_BYTES = 16 << 10  # expat's feed while elements keep ending (as iterparse; larger is slower)
FEED_MAX = 1 << 20  # expat re-scans a token spanning feeds from its start: feeds double up to this
QUIET_BYTES = 4 << 20  # input after which expat must have finished some element
_DTD = b"<!DOCTYPE"  # XML keywords are case-sensitive; an ENTITY lives only inside one


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one workbook; `from_env` applies the YECAI_IMPORT_MAX_* overrides."""

    uncompressed_mb: int = 2048  # YECAI_IMPORT_MAX_UNCOMPRESSED_MB: all members, as really inflated
    members: int = 10_000  # YECAI_IMPORT_MAX_MEMBERS: entries of the zip's central directory
    ratio: int = 250  # YECAI_IMPORT_MAX_RATIO: inflated / compressed, for members over 1 MB
    cells: int = 20_000_000  # YECAI_IMPORT_MAX_CELLS: grid from A1 calamine may hold (≈ 32 bytes each)
    shared_strings: int = 5_000_000  # YECAI_IMPORT_MAX_SHARED_STRINGS: entries of sharedStrings.xml
    shared_strings_mb: int = 512  # YECAI_IMPORT_MAX_SHARED_STRINGS_MB
    part_mb: int = 128  # YECAI_IMPORT_MAX_PART_MB: workbook.xml, styles.xml, relationships …

    @classmethod
    def from_env(cls) -> Limits:
        values: dict[str, int] = {}
        for item in fields(cls):
            text = os.environ.get(f"YECAI_IMPORT_MAX_{item.name.upper()}", "").strip()
            # a value that is not a positive whole number leaves the default: a typo must not
            # switch a bound off
            if text.isascii() and text.isdigit() and int(text) > 0:
                values[item.name] = int(text)
        return cls(**values)

    @property
    def uncompressed_bytes(self) -> int:
        return self.uncompressed_mb << 20


def column_index(letters: str) -> int:
    """Excel column letters → 0-based index (A → 0, XFD → 16383); case-insensitive."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def column_letters(index: int) -> str:
    """0-based column index → Excel letters."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class XmlGuard:
    """Watches chunks of one XML part; `problem` says what was found, if anything.

    Linear: each chunk is searched once together with the bytes after its last `>`, which are
    fewer than `limit` (a longer run is itself what is looked for).
    """

    def __init__(self, limit: int = MAX_TOKEN_BYTES) -> None:
        self.limit = limit
        self.problem: str | None = None  # "token" | "doctype"
        self.offset = 0  # bytes seen before the current chunk
        self._carry = b""
        # two patterns, not one alternation: a literal first byte lets the regex engine skip ahead
        self._head = re.compile(rb"[^>]{%d}" % limit)
        self._run = re.compile(rb">[^>]{%d}" % limit)

    def feed(self, chunk: bytes) -> bool:
        """Look at the next chunk; True once something was found (then stays True)."""
        if self.problem is not None:
            return True
        block = self._carry + chunk
        if _DTD in block:
            self.problem = "doctype"
        elif self._head.match(block) or self._run.search(block):
            self.problem = "token"
        self.offset += len(chunk)
        cut = block.rfind(b">")
        self._carry = block[cut + 1 :] if cut >= 0 else block
        return self.problem is not None

    def describe(self, part: str) -> tuple[str, str]:
        """What was found, as (中文, English), naming the part."""
        if self.problem == "doctype":
            return (
                f"{part} 含有 DOCTYPE 声明（Office 文件从不包含，可能是恶意构造的文件）",
                f"{part} holds a DOCTYPE declaration (Office files never do; the file may be crafted)",
            )
        return (
            f"{part} 中有一段超过 {self.limit >> 20} MB 的标记或注释（正常导出不会有）",
            f"{part} holds a single tag or comment of more than {self.limit >> 20} MB (no export does)",
        )


class XmlStuck(ValueError):
    """An XML part that cannot be parsed in linear time; args: (中文, English)."""


def pull_events(
    handle: IO[bytes], parser: XMLPullParser, guard: XmlGuard | None = None
) -> Iterator[list[tuple[str, Element]]]:
    """The parser's events, a list per feed, while `handle` is fed to it.

    Raises XmlStuck, or ParseError from expat. Lists, not single events: a sheet has millions.
    """
    quiet, size = 0, FEED_BYTES
    while chunk := handle.read(size):
        if guard is not None and guard.feed(chunk):
            raise XmlStuck(*guard.describe("XML"))
        parser.feed(chunk)
        events: list[tuple[str, Element]] = []
        try:
            drain(parser, events)
        except ParseError:
            # expat queues its error after the events before it: those still count
            yield events
            raise
        if events:
            yield events
        # inside a long token each feed costs its whole length so far: doubling the feeds keeps
        # that linear, and a token that runs on past QUIET_BYTES ends the parse
        quiet, size = (0, FEED_BYTES) if events else (quiet + len(chunk), min(size * 2, FEED_MAX))
        if quiet >= QUIET_BYTES:
            raise XmlStuck(
                f"有一段超过 {QUIET_BYTES >> 20} MB 仍未结束的标记、注释或文本",
                f"a tag, comment or text runs on for more than {QUIET_BYTES >> 20} MB",
            )
    parser.close()
    events = []
    drain(parser, events)
    yield events


def drain(parser: XMLPullParser, events: list[tuple[str, Element]]) -> None:
    """`events.extend(parser.read_events())`, without a generator step per event.

    XMLPullParser queues the events of a feed, and a parse error after them (it is the last item:
    nothing is queued after an error); read_events yields them one by one and raises the error. The
    queue is taken whole where it is there to take (CPython's), else read_events is used.
    """
    queue = getattr(parser, "_events_queue", None)
    if not isinstance(queue, deque):
        events.extend(parser.read_events())
        return
    events.extend(queue)
    queue.clear()
    if events and isinstance(events[-1], BaseException):
        raise events.pop()

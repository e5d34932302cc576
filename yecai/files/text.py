"""Reading a CSV/TSV/TXT export line by line, so that one bad line costs that line and no other.

Four layers, each bounded so that no input can crash the reader or take unbounded memory:

- physical lines (`physical_lines`): the bytes split at `\\r\\n`, `\\n` or `\\r` (as Python's own
  universal newlines did before), at most `LINE_BYTES` each; a longer line is skipped up to its end
  without being held, and becomes one bad row. Splitting bytes at 0x0A/0x0D is safe for UTF-8,
  GBK, GB18030 and Big5 (those bytes never occur inside a multibyte character); UTF-16 and UTF-32
  are split at whole code units of their own byte order (`line_codec`).
- decoded lines (`decoded_lines`): each line decoded strictly on its own (in practice, the
  complete lines of a chunk in one call, and one by one only where that call fails), so a bad
  byte rejects its line by number and the lines beside it still decode; NUL bytes (damaged
  exports) are dropped.
- records (`csv_rows`): the csv module (strict) reading the decoded lines. A quoted cell may span
  lines, but at most `LOOKAHEAD_LINES` further lines and `LOOKAHEAD_CHARS` characters; a quote
  still open after that, at the end of the file, or before an unreadable line, or one that closes
  badly on a later line (`"…"x`), makes its opening line ONE bad row, and parsing starts again at
  the next physical line, so the rows after it are all read (`"a"b` within one line is read as
  Excel reads it, `ab`). A row keeps the number of its last physical line (a multi-line cell's
  row is the line it ends on), as the csv module's line count gave before.
- delimiter detection (`detect_delimiter`) on a bounded sample (`sample_lines`).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from yecai.files.raw import RawRow

LINE_BYTES = 16 * 1024 * 1024  # the longest physical line read; a longer one is one bad row
LINE_LIMIT_TEXT = "16 MB"
LOOKAHEAD_LINES = 1000  # how many more lines a quoted cell may span …
LOOKAHEAD_CHARS = 1 << 20  # … and how many characters those lines may hold
READ_BYTES = 1 << 20
SAMPLE_LINES = 50  # what the delimiter is detected on: the first lines,
SAMPLE_LINE_CHARS = 64 * 1024  # each cut to this many characters,
SAMPLE_CHARS = 1 << 20  # and no more than this in all
DELIMITERS = (",", "\t", ";", "|")
# A record is at most one line of LINE_BYTES plus the lookahead: no field of it can reach the limit.
csv.field_size_limit(LINE_BYTES + LOOKAHEAD_CHARS + 1)

_WIDE = {"utf-16": 2, "utf-16-le": 2, "utf-16-be": 2, "utf-32": 4, "utf-32-le": 4, "utf-32-be": 4}
_BOMS = {
    "utf-8": (codecs.BOM_UTF8,),
    "utf-8-sig": (codecs.BOM_UTF8,),
    "gb18030": (b"\x84\x31\x95\x33",),
    "utf-16-le": (codecs.BOM_UTF16_LE,),
    "utf-16-be": (codecs.BOM_UTF16_BE,),
    "utf-32-le": (codecs.BOM_UTF32_LE,),
    "utf-32-be": (codecs.BOM_UTF32_BE,),
}


@dataclass(frozen=True, slots=True)
class LineCodec:
    """How to split and decode the lines of one file: codec, BOM bytes to skip, code unit size."""

    codec: str  # decodes one line on its own: UTF-16/32 with their byte order spelt out
    skip: int  # the BOM at the start of the file, not part of the first line
    unit: int  # 1, or 2/4 for UTF-16/32: line ends are found on whole code units only


def line_codec(codec: str, head: bytes) -> LineCodec:
    """The per-line codec for `codec`, given the file's first bytes (which may hold a BOM)."""
    name = codecs.lookup(codec).name
    if name in ("utf-16", "utf-32"):
        # the byte order is in the BOM; without one, Windows (and Excel) write little-endian
        big = codecs.BOM_UTF32_BE if name == "utf-32" else codecs.BOM_UTF16_BE
        name = f"{name}-be" if head.startswith(big) else f"{name}-le"
    skip = next((len(bom) for bom in _BOMS.get(name, ()) if head.startswith(bom)), 0)
    if name == "utf-8-sig":
        name = "utf-8"
    return LineCodec(name, skip, _WIDE.get(name, 1))


def _terminators(codec: str) -> tuple[re.Pattern[bytes], bytes, int]:
    """The pattern of a line end (\\r\\n, \\r or \\n) in `codec`'s bytes, its \\r and the \\n's length."""
    cr, lf = "\r".encode(codec), "\n".encode(codec)
    return re.compile(re.escape(cr) + b"(?:" + re.escape(lf) + b")?|" + re.escape(lf)), cr, len(lf)


def _split(chunks: Iterable[bytes], layout: LineCodec) -> Iterator[bytes | None]:
    """Physical lines of a byte stream, line ends kept; None for a line longer than LINE_BYTES.

    At most LINE_BYTES plus one chunk is held at any time: the bytes of a line found to be too
    long are dropped as they come, up to its end.
    """
    pattern, cr, lf_length = _terminators(layout.codec)
    unit, cap = layout.unit, LINE_BYTES
    pending: list[bytes] = []  # the start of the current line, read with earlier chunks
    size = 0  # bytes in `pending`
    skipping = False  # the current line is already too long: its bytes are not kept
    data = b""  # what is being searched: the carried tail of the last chunk, then this chunk
    offset = 0  # where `data` starts in the stream, so that line ends fall on whole code units
    for chunk in _then_none(chunks):
        at_end = chunk is None
        if chunk:
            data = data + chunk if data else chunk
        position = 0
        while True:
            found = pattern.search(data, position)
            while found is not None and (offset + found.start()) % unit:
                found = pattern.search(data, found.start() + 1)
            if found is None:
                break
            if not at_end and found.group() == cr and len(data) - found.end() < lf_length:
                break  # a \r that the next chunk may continue with \n
            end = found.end()
            if skipping or size + end - position > cap:
                yield None
            elif pending:
                yield b"".join([*pending, data[position:end]])
            else:
                yield data[position:end]
            pending, size, skipping = [], 0, False
            position = end
        if at_end:
            if pending or skipping or position < len(data):
                rest = len(data) - position
                yield None if skipping or size + rest > cap else b"".join([*pending, data[position:]])
            return
        # carry a tail that may hold the start of a line end (a \r, part of a code unit)
        carry = min(len(data) - position, 2 * unit)
        body = data[position : len(data) - carry]
        if body:
            if skipping or size + len(body) > cap:
                pending, size, skipping = [], 0, True
            else:
                pending.append(body)
                size += len(body)
        offset += len(data) - carry
        data = data[len(data) - carry :]


def _then_none(chunks: Iterable[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None


def _read(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(READ_BYTES):
        yield chunk


def physical_lines(path: Path, codec: str) -> Iterator[tuple[int, bytes | None]]:
    """(number, bytes) of each physical line of a file in `codec`, the BOM left out; bytes is None
    when the line is longer than LINE_BYTES."""
    with path.open("rb") as handle:
        layout = line_codec(codec, handle.read(4))
        handle.seek(layout.skip)
        yield from enumerate(_split(_read(handle), layout), start=1)


@dataclass(slots=True)
class Lines:
    """Decoded physical lines `first`, `first + 1` …, line ends kept and NULs dropped; or, with
    `error`, the one line `first` that could not be read (too long, or bytes that do not decode)."""

    first: int
    texts: list[str]
    error: tuple[str, str] | None = None


def codec_name(label: str) -> str:
    """How messages name an encoding: `UTF-8 (BOM)` → `UTF-8`, `big5 (charset-normalizer)` → `big5`."""
    return label.split(" (")[0]


def too_long(number: int, file_name: str) -> tuple[str, str]:
    return (
        f"{file_name} 第 {number} 行过长（超过 {LINE_LIMIT_TEXT}），已拒绝；其余各行照常读取",
        f"line {number} of {file_name} is longer than {LINE_LIMIT_TEXT} and was rejected; "
        "the other lines are read as usual",
    )


def bad_bytes(number: int, file_name: str, name: str, exc: UnicodeDecodeError) -> tuple[str, str]:
    """The message of a line that does not decode: where in the line, and which bytes."""
    shown = bytes(exc.object[exc.start : exc.end][:8]).hex(" ").upper()
    return (
        f"{file_name} 第 {number} 行含有无法按 {name} 解码的字节（该行第 {exc.start + 1} 字节起：{shown}），"
        "已拒绝；请检查该行或重新导出",
        f"line {number} of {file_name} holds bytes that are not valid {name} (from byte {exc.start + 1} "
        f"of the line: {shown}); the line was rejected: check it or export the file again",
    )


_LINE_END = re.compile(rb"\r\n?|\n")


class _Decoder:
    """Decodes physical lines, one at a time or a run of them in one call (the common case)."""

    def __init__(self, codec: str, name: str, file_name: str) -> None:
        self.codec, self.name, self.file_name = codec, name, file_name
        self.number = 1  # of the next line

    def one(self, raw: bytes | None) -> Lines:
        number = self.number
        self.number += 1
        if raw is None:
            return Lines(number, [], too_long(number, self.file_name))
        try:
            text = raw.decode(self.codec)
        except UnicodeDecodeError as exc:
            return Lines(number, [], bad_bytes(number, self.file_name, self.name, exc))
        # NUL bytes appear in damaged exports; they carry nothing and upset the csv module.
        return Lines(number, [text.replace("\x00", "") if "\x00" in text else text])

    def run(self, raw: bytes) -> Iterator[Lines]:
        """Complete lines, all within one chunk: decoded in one call when all of them decode."""
        breaks = raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n") + (raw[-1:] not in (b"\n", b"\r"))
        if len(raw) <= LINE_BYTES:
            try:
                text = raw.decode(self.codec)
            except UnicodeDecodeError:
                text = None
            if text is not None:
                texts = (text.replace("\x00", "") if "\x00" in text else text).splitlines(keepends=True)
                # str.splitlines() also breaks at \x0b, \x0c, \x1c-\x1e, \x85, \u2028, \u2029,
                # which do not end a CSV line: if any was decoded, the counts differ
                if len(texts) == breaks:
                    first = self.number
                    self.number += breaks
                    yield Lines(first, texts)
                    return
        for line in raw.splitlines(keepends=True):  # one of them is bad: each on its own
            yield self.one(None if len(line) > LINE_BYTES else line)


def _runs(chunks: Iterable[bytes], decoder: _Decoder) -> Iterator[Lines]:
    """Lines of a byte stream whose line ends are single bytes (every codec but UTF-16/32).

    Each chunk's complete lines are decoded as one run; a line that starts in an earlier chunk is
    collected (up to LINE_BYTES, then only looked through for its end) and decoded on its own.
    """
    pending: list[bytes] = []  # the start of the current line, from earlier chunks
    size = 0
    skipping = False  # the current line is already too long: its bytes are not kept
    carry = b""  # a \r ending the last chunk: a \n may follow in this one
    for chunk in _then_none(chunks):
        at_end = chunk is None
        data = carry + chunk if chunk else carry
        carry = b""
        position = 0
        if pending or skipping or data[:1] in (b"\r", b"\n"):
            found = _LINE_END.search(data)
            if found is not None and (at_end or found.end() < len(data) or found.group() != b"\r"):
                end = found.end()
                too_long_line = skipping or size + end > LINE_BYTES
                yield decoder.one(None if too_long_line else b"".join([*pending, data[:end]]))
                pending, size, skipping, position = [], 0, False, end
        if at_end:
            if pending or skipping or position < len(data):
                rest = len(data) - position
                too_long_line = skipping or size + rest > LINE_BYTES
                yield decoder.one(None if too_long_line else b"".join([*pending, data[position:]]))
            return
        # complete lines up to the last line end; a final \r waits to see if a \n follows
        tail = data[:-1] if data.endswith(b"\r") else data
        cut = max(tail.rfind(b"\n"), tail.rfind(b"\r"), position - 1) + 1
        if cut > position and not (pending or skipping):
            yield from decoder.run(data[position:cut])
            position = cut
        body = data[position : len(tail)]
        carry = data[len(tail) :]
        if body:
            if skipping or size + len(body) > LINE_BYTES:
                pending, size, skipping = [], 0, True
            else:
                pending.append(body)
                size += len(body)


def decoded_lines(path: Path, codec: str, name: str) -> Iterator[Lines]:
    """Every physical line of the file decoded on its own with `codec` (`name`: for messages)."""
    with path.open("rb") as handle:
        layout = line_codec(codec, handle.read(4))
        handle.seek(layout.skip)
        decoder = _Decoder(layout.codec, name, path.name)
        if layout.unit == 1:
            yield from _runs(_read(handle), decoder)
        else:
            for raw in _split(_read(handle), layout):
                yield decoder.one(raw)


def sample_lines(lines: Iterable[Lines]) -> tuple[list[str], bool]:
    """The first SAMPLE_LINES lines that decode, each cut to SAMPLE_LINE_CHARS, at most SAMPLE_CHARS
    in all; and whether a line among them could not be read."""
    out: list[str] = []
    bad = False
    total = 0
    for block in lines:
        bad = bad or block.error is not None
        for text in block.texts:
            out.append(text[:SAMPLE_LINE_CHARS])
            total += len(out[-1])
            if len(out) >= SAMPLE_LINES or total >= SAMPLE_CHARS:
                return out, bad
        if block.first >= SAMPLE_LINES:
            break
    return out, bad


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter that makes the most splits on lines of one common width (`,` if none splits).

    Reads a bounded sample of `lines` (as `sample_lines` makes); never raises.
    """
    sample: list[str] = []
    total = 0
    for line in lines[:SAMPLE_LINES]:
        sample.append(line[:SAMPLE_LINE_CHARS])
        total += len(sample[-1])
        if total >= SAMPLE_CHARS:
            break
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = Counter(len(row) for row in csv.reader(sample, delimiter=delimiter) if len(row) > 1)
        except csv.Error:
            continue
        if not widths:
            continue
        common = max(widths, key=lambda w: (widths[w], w))
        # splits made on lines of the usual width: a stray | in a text cell makes few
        score = ((common - 1) * widths[common], common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _Feed:
    """The lines of the csv reader on the careful path, one record at a time, lookahead bounded.

    The csv reader pulls lines until a record is complete. The feed ends its input early (as if
    the file ended) when a record would need more than LOOKAHEAD_LINES further lines or
    LOOKAHEAD_CHARS further characters, or would run into an unreadable line. It keeps the lines
    of the current record (consecutive physical lines from `start`), so that after an unclosed
    quote they can be served again, each as the start of a record.
    """

    def __init__(self, blocks: Iterator[Lines]) -> None:
        self._blocks = blocks
        self._texts: list[str] = []  # the current block, served from `_index`
        self._index = 0
        self._first = 1
        self._again: deque[str] = deque()  # lines to serve again, from `_again_first` on
        self._again_first = 0
        self.bad: Lines | None = None  # the unreadable line the feed stopped at
        self.start = 0  # number of the record's first line
        self.taken: list[str] = []  # the record's lines
        self.stop: str | None = None  # why input ended inside the record: eof | bound | bad
        self._chars = 0

    def run(self) -> tuple[list[str], int] | tuple[()] | Lines | None:
        """The next block for the fast path (texts and the first line's number; an unreadable
        line as such; None at the end of the input), or () while the careful path still has lines
        to serve: lines to serve again, or the rest of the block where the fast path gave up."""
        if self._again or self.bad is not None or self._index < len(self._texts):
            return ()
        block = next(self._blocks, None)
        if block is None or block.error is not None:
            return block
        self._texts, self._first, self._index = block.texts, block.first, len(block.texts)
        return block.texts, block.first

    def resume_at(self, index: int) -> None:
        """Serve the current block again from `index` on (where the fast path gave up)."""
        self._index = index

    def begin(self) -> None:
        self.taken, self.stop, self._chars = [], None, 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if len(self.taken) > LOOKAHEAD_LINES or self._chars > LOOKAHEAD_CHARS:
            self.stop = "bound"
            raise StopIteration
        if self._again:
            number, text = self._again_first, self._again.popleft()
            self._again_first += 1
        elif self._index < len(self._texts):
            number, text = self._first + self._index, self._texts[self._index]
            self._index += 1
        else:
            if self.bad is None:
                block = next(self._blocks, None)
                if block is not None and block.error is None:
                    self._texts, self._index, self._first = block.texts, 1, block.first
                    return self._took(block.first, block.texts[0])
                self.bad = block
            self.stop = "eof" if self.bad is None else "bad"
            raise StopIteration
        return self._took(number, text)

    def _took(self, number: int, text: str) -> str:
        if self.taken:
            self._chars += len(text)
        else:
            self.start = number
        self.taken.append(text)
        return text

    def again(self) -> None:
        """Serve the record's lines after its first again, from the next line on."""
        rest = self.taken[1:]
        if rest:
            self._again.extendleft(reversed(rest))
            self._again_first = self.start + 1

    def last(self) -> int:
        return self.start + len(self.taken) - 1


def _unclosed(feed: _Feed, file_name: str) -> tuple[str, str]:
    number = feed.start
    if feed.stop == "eof":
        zh, en = "到文件末尾都没有配对的引号", "no quote pairs with it up to the end of the file"
    elif feed.stop == "bound":
        zh = f"其后 {LOOKAHEAD_LINES} 行（或 1 MB）内没有配对的引号"
        en = f"no quote pairs with it within the next {LOOKAHEAD_LINES:,} lines (or 1 MB)"
    elif feed.stop == "bad" and feed.bad is not None:
        at = feed.bad.first
        zh, en = (
            f"直到无法读取的第 {at} 行都没有配对的引号",
            f"no quote pairs with it before line {at}, unreadable",
        )
    else:
        at = feed.last()
        zh = f"第 {at} 行的引号后紧跟着其他字符，不能作为它的结束引号"
        en = f"the quote on line {at} is followed by other characters, so it cannot close it"
    return (
        f"{file_name} 第 {number} 行的引号没有闭合（{zh}），该行已拒绝；后面的行照常读取",
        f"line {number} of {file_name} opens a quote that is never closed ({en}); the line was "
        "rejected and reading goes on at the next line",
    )


def _lenient(number: int, text: str, delimiter: str, file_name: str) -> RawRow:
    # `"a"b` on one line: not strict CSV, but what Excel makes of it (`ab`) is clear enough
    try:
        cells = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error as exc:
        return RawRow(
            number,
            [],
            (
                f"{file_name} 第 {number} 行无法按 CSV 解析：{exc}",
                f"line {number} of {file_name} is not valid CSV: {exc}",
            ),
        )
    return RawRow(number, [cell if cell.strip() else None for cell in cells])


def _fast(texts: list[str], first: int, delimiter: str) -> Generator[RawRow, None, int | None]:
    """Rows of a block straight from the csv module (the common case, all in C); returns None
    when every line was used, else the index of the record it gave up at: a quote still open at
    the end, a strict error, or a record longer than the lookahead allows."""
    reader = csv.reader(texts, delimiter=delimiter, strict=True)
    done = 0  # lines used by complete records
    try:
        for cells in reader:
            used = reader.line_num
            if used - done > 1 and (
                used - done - 1 > LOOKAHEAD_LINES
                or sum(map(len, texts[done + 1 : used - 1])) > LOOKAHEAD_CHARS
            ):
                return done  # the careful path applies the bound where it falls
            done = used
            yield RawRow(first + used - 1, [cell if cell.strip() else None for cell in cells])
    except csv.Error:
        return done
    return None


def csv_rows(lines: Iterable[Lines], delimiter: str, file_name: str) -> Iterator[RawRow]:
    """Records of decoded lines as rows numbered by their last physical line; see the module doc.

    Blocks of lines go through the csv module whole; from a record where that gives up, the
    careful path (`_Feed`) reads record by record to the end of that block (or further, while
    it has lines to serve again).
    """
    feed = _Feed(iter(lines))
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    while True:
        run = feed.run()
        if run is None:
            return
        if isinstance(run, Lines):
            yield RawRow(run.first, [], run.error)
            continue
        if run:
            texts, first = run
            stuck = yield from _fast(texts, first, delimiter)
            if stuck is None:
                continue
            feed.resume_at(stuck)
        feed.begin()
        try:
            cells = next(reader)
        except StopIteration:
            if feed.taken:  # cannot happen (a line always ends a record or raises), but lose none
                yield RawRow(feed.start, [], _unclosed(feed, file_name))
                feed.again()
                continue
            if feed.bad is not None:
                yield RawRow(feed.bad.first, [], feed.bad.error)
                feed.bad = None
            continue
        except csv.Error:
            if len(feed.taken) == 1 and feed.stop is None:
                yield _lenient(feed.start, feed.taken[0], delimiter, file_name)
            else:
                yield RawRow(feed.start, [], _unclosed(feed, file_name))
                feed.again()
            continue
        yield RawRow(feed.last(), [cell if cell.strip() else None for cell in cells])

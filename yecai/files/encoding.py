"""Which encoding a CSV/text export is in: UTF-8 (with or without BOM), GBK, GB18030, UTF-16/32.

Chinese exports are mostly GBK (CP936); rare-character names need GB18030; newer systems write
UTF-8, with a BOM when they mean Excel to open it; Excel's "Unicode text" is UTF-16 with a BOM.
The order is deterministic, because a statistical guess on a short file is worse than a count:

1. a BOM decides alone;
2. then UTF-8, GBK and GB18030: the one under which the most lines decode (fewest bad lines;
   a tie goes to the decoding that reads most like Chinese, `plausibility`, then to UTF-8, GBK,
   GB18030 in that order). A file that decodes whole under one of them never needs the count;
3. charset-normalizer for the rest (Big5, Latin …), only when most lines fail all three.

A file is still refused whole (the "encoding" FileProblem) when, under the codec found, more of
its lines fail than decode; otherwise the lines that fail are rejected one by one by the reader
(`yecai.files.text`), and every other line is read.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from yecai.files.problems import FileProblem
from yecai.files.text import line_codec, physical_lines

SAMPLE_BYTES = 1 << 20  # enough to break a tie, and for charset-normalizer; lines are counted whole
READ_CHUNK = 1 << 20

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 (BOM)"),
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 (BOM)"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 (BOM)"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (BOM)"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (BOM)"),
    (b"\x84\x31\x95\x33", "gb18030", "GB18030 (BOM)"),
)


@dataclass(frozen=True, slots=True)
class Detected:
    """The codec to decode with, a label to show the user, and how it was found."""

    codec: str
    label: str
    method: str  # bom | strict (the whole file decodes) | lines (most lines do) | charset-normalizer

    def __str__(self) -> str:
        return self.label


def _sample_text(sample: bytes, codec: str) -> str:
    # An incremental decoder tolerates a character cut at the end of the sample.
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(sample, final=False)


SCORE_CHARS = 65536
_NEUTRAL = "\u00a0\u00b7\u00d7\u00f7\u2014\u2026\u2018\u2019\u201c\u201d"


def _common_hanzi(char: str) -> bool:
    """One of the 3,755 most used characters (GB 2312 level 1): what real Chinese text is made of."""
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0 <= code[0] <= 0xD7


def plausibility(text: str) -> int:
    """How much a decoding reads like a Chinese export: common Hanzi count, odd characters count against.

    Decoding with the wrong codec (GBK bytes as UTF-8, or UTF-8 bytes as GBK) yields Latin, Greek
    and Cyrillic letters or rare Hanzi, never mostly common Hanzi.
    """
    score = 0
    for char in text[:SCORE_CHARS]:
        if (
            char.isascii()
            or char in _NEUTRAL
            or 0x3000 <= ord(char) <= 0x303F
            or 0xFF00 <= ord(char) <= 0xFFEF
        ):
            continue
        score += 1 if _common_hanzi(char) else -1
    return score


CANDIDATES: tuple[tuple[str, str], ...] = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030"))


@dataclass(frozen=True, slots=True)
class Tally:
    """How many lines with content decode (`good`) and fail (`bad`) under one codec."""

    good: int = 0
    bad: int = 0

    @property
    def refused(self) -> bool:
        return self.bad > self.good


def _clean(path: Path, names: tuple[str, ...]) -> tuple[list[str], bool]:
    """The codecs under which the whole file decodes, in the order given, and whether it is ASCII."""
    decoders = {name: codecs.getincrementaldecoder(name)(errors="strict") for name in names}
    ascii_only = True
    with path.open("rb") as handle:
        while decoders and (chunk := handle.read(READ_CHUNK)):
            ascii_only = ascii_only and chunk.isascii()
            for name, decoder in list(decoders.items()):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    del decoders[name]
    for name, decoder in list(decoders.items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[name]
    return [name for name in names if name in decoders], ascii_only


def tally(path: Path, names: tuple[str, ...]) -> dict[str, Tally]:
    """Good and bad lines under each codec (lines split as the first one splits them).

    A line over the reader's length limit counts for none: it is rejected whatever the codec.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    decoders = [line_codec(name, head).codec for name in names]
    wide = line_codec(names[0], head).unit > 1
    good, bad = [0] * len(names), [0] * len(names)
    for _, raw in physical_lines(path, names[0]):
        if raw is None or not raw.strip(b" \t\r\n\x00"):
            continue
        if not wide and raw.isascii():
            good = [count + 1 for count in good]
            continue
        for index, decoder in enumerate(decoders):
            try:
                raw.decode(decoder)
            except UnicodeDecodeError:
                bad[index] += 1
            else:
                good[index] += 1
    return {name: Tally(good[i], bad[i]) for i, name in enumerate(names)}


def _likeliest(head: bytes, names: list[str]) -> str:
    """Of codecs equally good by their lines, the one whose text reads most like Chinese (first wins).

    GB18030 is left out where GBK does as well: it decodes GBK's bytes to the same text (but for a
    dash or two), and GBK is what such an export is.
    """
    if "gbk" in names and "gb18030" in names:
        names = [name for name in names if name != "gb18030"]
    if len(names) == 1:
        return names[0]
    scores = {name: plausibility(_sample_text(head, name)) for name in names}
    return max(names, key=lambda name: scores[name])  # max keeps the first of equal scores


def _refused(path: Path) -> FileProblem:
    return FileProblem(
        "encoding",
        f"无法识别文件 {path.name} 的编码（已尝试 UTF-8、GBK、GB18030），大部分行都无法解码；"
        "请另存为 UTF-8 或 GBK 的 CSV",
        f"cannot tell the encoding of {path.name} (tried UTF-8, GBK, GB18030): most of its lines do "
        "not decode; save it as UTF-8 or GBK CSV",
        path=str(path),
    )


def detect_encoding(path: Path) -> Detected:
    """The encoding of a text file (see the module docstring); raises FileProblem when none reads it."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    for bom, codec, label in _BOMS:
        if head.startswith(bom):
            if not _clean(path, (codec,))[0] and tally(path, (codec,))[codec].refused:
                raise _refused(path)
            return Detected(codec, label, "bom")
    labels = dict(CANDIDATES)
    names = tuple(labels)
    # GB18030 only matters where neither UTF-8 nor GBK reads the file: a pass of its own, then
    clean, ascii_only = _clean(path, ("utf-8", "gbk"))
    if not clean:
        clean = _clean(path, ("gb18030",))[0]
    if clean:
        if ascii_only:
            return Detected("utf-8", "ASCII", "strict")
        best = _likeliest(head, clean)
        return Detected(best, labels[best], "strict")
    counts = tally(path, names)
    fewest = min(counts[name].bad for name in names)
    best = _likeliest(head, [name for name in names if counts[name].bad == fewest])
    if not counts[best].refused:
        return Detected(best, labels[best], "lines")
    # Neither UTF-8 nor the GB family: Big5 from Hong Kong/Taiwan, UTF-16 without BOM, Latin …
    guess = from_bytes(head).best()
    if guess is not None and guess.encoding:
        name = guess.encoding
        if not tally(path, (name,))[name].refused:
            return Detected(name, f"{name} (charset-normalizer)", "charset-normalizer")
    raise _refused(path)
